import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify, type Identify } from '@libp2p/identify'
import { gossipsub, StrictNoSign, type GossipSub } from '@libp2p/gossipsub'
import { multiaddr } from '@multiformats/multiaddr'
import { lpStream } from '@libp2p/utils'
import type { ConnectionGater } from '@libp2p/interface'
import { NodeKey } from '../../src/crypto/ed25519.ts'
import { sha256 } from '../../src/crypto/hash.ts'

/**
 * A standalone libp2p host speaking the network's transports (TCP, Noise, Yamux, gossipsub with
 * StrictNoSign and content ids) but none of its rules: it admits everyone and sends whatever the
 * test tells it to. With a fresh key it is a stranger; with a listed key it is an insider gone bad.
 */
export interface HostilePeer {
  libp2p: Libp2p<{ identify: Identify, pubsub: GossipSub }>
  peerId: string
  /** Consensus and batch messages it received, by topic (for replays). */
  received: Map<string, Uint8Array[]>
  stop: () => Promise<void>
}

const admitAll: ConnectionGater = {
  denyDialPeer: () => false,
  denyDialMultiaddr: () => false,
  denyInboundConnection: () => false,
  denyOutboundConnection: () => false,
  denyInboundEncryptedConnection: () => false,
  denyOutboundEncryptedConnection: () => false,
  denyInboundUpgradedConnection: () => false,
  denyOutboundUpgradedConnection: () => false
}

/**
 * Starts the host. `answerStatus`, when given, is sent as the length-prefixed answer to every request
 * on `statusProtocol` (an insider must pass the status exchange before it is listened to at all).
 */
export async function startHostilePeer (key?: NodeKey, status?: { protocol: string, answer: Uint8Array }): Promise<HostilePeer> {
  const k = key ?? await NodeKey.generate()
  const libp2p = await createLibp2p({
    privateKey: k.toLibp2p(),
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: admitAll,
    connectionManager: { reconnectRetries: 0 },
    services: {
      identify: identify(),
      pubsub: gossipsub({
        globalSignaturePolicy: StrictNoSign,
        msgIdFn: (msg) => sha256(msg.data),
        emitSelf: false,
        floodPublish: true,
        allowPublishToZeroTopicPeers: true,
        ignoreDuplicatePublishError: true,
        doPX: false,
        // It sends oversized frames itself; it must be able to hold what it sends.
        maxInboundDataLength: 16 * 1024 * 1024
      })
    }
  })
  const received = new Map<string, Uint8Array[]>()
  libp2p.services.pubsub.addEventListener('message', (evt) => {
    const list = received.get(evt.detail.topic) ?? []
    if (list.length < 1000) list.push(evt.detail.data)
    received.set(evt.detail.topic, list)
  })
  if (status !== undefined) {
    await libp2p.handle(status.protocol, async (stream) => {
      try {
        const lp = lpStream(stream)
        await lp.read({ signal: AbortSignal.timeout(5000) })
        await lp.write(status.answer, { signal: AbortSignal.timeout(5000) })
        await stream.close()
      } catch (err) {
        stream.abort(err as Error)
      }
    })
  }
  await libp2p.start()
  const stop = async (): Promise<void> => {
    await Promise.race([libp2p.stop(), new Promise(resolve => setTimeout(resolve, 5000))])
  }
  return { libp2p, peerId: k.peerId, received, stop }
}

export interface DialOutcome { connected: boolean, connectionSurvivedMs: number, answered?: boolean, protocolError?: string, dialError?: string }

/**
 * Dials `addr` and, if a connection opens, asks `protocol` for a length-prefixed answer to `request`.
 * Reports whether a connection stood and for how long, and how the request failed.
 */
export async function probe (peer: HostilePeer, addr: string, protocol: string, request: Uint8Array, holdMs = 1500): Promise<DialOutcome> {
  const ma = multiaddr(addr)
  const opened = Date.now()
  let conn
  try {
    conn = await peer.libp2p.dial(ma, { signal: AbortSignal.timeout(5000) })
  } catch (err) {
    return { connected: false, connectionSurvivedMs: 0, dialError: (err as Error).message }
  }
  const out: DialOutcome = { connected: true, connectionSurvivedMs: 0 }
  try {
    const signal = AbortSignal.timeout(5000)
    const stream = await conn.newStream(protocol, { signal })
    const lp = lpStream(stream)
    await lp.write(request, { signal })
    await lp.read({ signal })
    out.answered = true
  } catch (err) {
    out.protocolError = err instanceof Error ? `${err.name}: ${err.message}` : err instanceof Event ? `event ${err.type}` : String(err)
  }
  // Does the connection stand? The validator's gater should have closed it already.
  const deadline = Date.now() + holdMs
  while (Date.now() < deadline && conn.status === 'open') await new Promise(resolve => setTimeout(resolve, 50))
  out.connected = conn.status === 'open'
  out.connectionSurvivedMs = Date.now() - opened
  if (conn.status === 'open') await conn.close({ signal: AbortSignal.timeout(2000) }).catch((err: Error) => { conn.abort(err) })
  return out
}
