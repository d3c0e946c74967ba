import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { preSharedKey } from '@libp2p/pnet'
import { gossipsub, type GossipSub, StrictNoSign, type TopicValidatorResult } from '@libp2p/gossipsub'
import type { Identify } from '@libp2p/identify'
import type { Ping } from '@libp2p/ping'
import type { ConnectionGater } from '@libp2p/interface'
import type { NodeKey } from '../crypto/ed25519.ts'
import { fastGossipId, gossipMessageId } from './message-id.ts'
import { MAX_GOSSIP_RPC_BYTES } from './protocol-ids.ts'
import type { ResolvedNetworkOptions } from './options.ts'
import { agentVersion } from './protocol-version.ts'

/**
 * The gossipsub class has reportMessageValidationResult (asyncValidation needs it) and getScore,
 * but the exported GossipSub interface does not list them.
 */
export interface ValidatingGossipSub extends GossipSub {
  reportMessageValidationResult: (msgId: string, propagationSource: string, acceptance: TopicValidatorResult) => void
  /** The peer's gossipsub score (the class has it; the interface does not list it). */
  getScore: (peerId: string) => number
}

export interface MedledgerServices {
  [key: string]: unknown
  identify: Identify
  ping: Ping
  pubsub: ValidatingGossipSub
}

export type MedledgerLibp2p = Libp2p<MedledgerServices>

/**
 * Builds (without starting) the libp2p node: TCP, Noise, Yamux, identify, ping and gossipsub,
 * with the node key as identity, the allowlist gater, and pnet when a swarm key is configured.
 */
export async function createLibp2pNode (opts: ResolvedNetworkOptions, modules: { key: NodeKey, gater: ConnectionGater, onCopy?: (topic: string, bytes: number) => void }): Promise<MedledgerLibp2p> {
  return await createLibp2p<MedledgerServices>({
    start: false,
    privateKey: modules.key.toLibp2p(),
    // Identify sends this to every peer: the wire protocol version is checked on it (network.ts).
    nodeInfo: { userAgent: agentVersion(opts.protocolVersion) },
    addresses: { listen: opts.listen, announce: opts.announce },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    ...(opts.preSharedKey !== undefined ? { connectionProtector: preSharedKey({ psk: opts.preSharedKey }) } : {}),
    connectionGater: modules.gater,
    connectionManager: {
      // Our own keeper (dialer.ts) reconnects allowed peers; libp2p's reconnect queue stays idle.
      reconnectRetries: 0,
      maxConnections: 300,
      // Before authentication (docs/network.md, "Before authentication"): few handshakes at once,
      // a short deadline for each, and a per-IP rate of attempts; the gater's fence adds a per-IP
      // share of the pending slots and the optional address allowlist.
      maxIncomingPendingConnections: opts.maxPendingInbound,
      inboundUpgradeTimeout: opts.inboundUpgradeTimeoutMs,
      inboundConnectionThreshold: opts.inboundConnectionsPerIpPerSecond
    },
    services: {
      identify: identify(),
      ping: ping(),
      pubsub: gossipsub(gossipOptions(modules.onCopy)) as (components: Parameters<ReturnType<typeof gossipsub>>[0]) => ValidatingGossipSub
    }
  })
}

/**
 * Most bytes gossipsub may hold unsent for one peer; past it that peer's stream is reset (its
 * messages are lost to it, as to any peer that was away; the stream is opened again, see
 * gossip-streams.ts). Without a cap a peer that stops reading grew it without bound. Eight of the
 * largest messages (4 MiB).
 */
export const GOSSIP_MAX_OUTBOUND_BUFFER_BYTES = 32 * 1024 * 1024

/**
 * Gossipsub for a permissioned network whose nodes all connect to each other (dialer.ts):
 * floodPublish, so our own messages reach every subscribed peer directly, and a narrow mesh that
 * only covers a missing link. Every peer a node forwards to got the message from its author
 * already, so each forward is a duplicate the receiver decodes, hashes and drops: with a mesh of
 * D = 8 a vote arrived about 1 + min(D, N - 2) times at every node (below IDONTWANT's 512 bytes, a
 * vote gets no IDONTWANT), N = 16 validators received each distinct message ~9 times, and the cost
 * per node grew as N x D (issue 16). D = 3 (up to Dhi = 5 before pruning) keeps a path around a
 * lost link at about 4 copies whatever N; no lazy gossip (below). No per-message libp2p signature
 * (every application message is signed already), a content-hash message id (message-id.ts: the
 * unsigned consensus `seq` is not part of it), and application-level validation before anything
 * is forwarded.
 */
/** The mesh degrees (docs/network.md, "Gossip at N validators"). */
export const GOSSIP_MESH = { D: 3, Dlo: 2, Dhi: 5, Dscore: 2, Dout: 1, Dlazy: 0 } as const

export function gossipOptions (onCopy?: (topic: string, bytes: number) => void): Parameters<typeof gossipsub>[0] {
  return {
    globalSignaturePolicy: StrictNoSign,
    msgIdFn: (msg) => gossipMessageId(msg.topic, msg.data, Date.now()),
    // Called for every message received, duplicates included (before the seen-cache drops them):
    // the copies counted against the distinct messages handed to validation (GossipStats).
    fastMsgIdFn: (msg) => { onCopy?.(msg.topic, msg.data?.length ?? 0); return fastGossipId(msg.data) },
    asyncValidation: true,
    emitSelf: false,
    floodPublish: true,
    batchPublish: true,
    allowPublishToZeroTopicPeers: true,
    ignoreDuplicatePublishError: true,
    fallbackToFloodsub: false,
    doPX: false,
    D: GOSSIP_MESH.D,
    Dlo: GOSSIP_MESH.Dlo,
    Dhi: GOSSIP_MESH.Dhi,
    Dscore: GOSSIP_MESH.Dscore,
    Dout: GOSSIP_MESH.Dout,
    // No lazy gossip (IHAVE/IWANT): every author floods to every peer, and a consensus message's id
    // holds the receiver's clock epoch (message-id.ts), so an id one node advertises in an IHAVE
    // is not the id the asker computes for the message it gets back. Each such IWANT counted as a
    // broken promise, a behaviour penalty (weight -10, squared) that took honest peers below the
    // publish and graylist thresholds: messages refused, rounds failing. It bit as soon as the
    // mesh was not the whole network (above Dhi peers: N = 16 with the old D = 8, Dhi = 12).
    Dlazy: GOSSIP_MESH.Dlazy,
    gossipFactor: 0,
    heartbeatInterval: 700,
    // asyncValidation forwards a message only while it is in the message cache: ~3.5 s covers a
    // burst queued behind validation. The cache holds every message sent and received in that
    // window (proposals of 3 MB included), so it is also a memory cost: 7 s held ~170 MB in a
    // single validator at 57k records/s.
    mcacheLength: 5,
    mcacheGossip: 3,
    maxInboundDataLength: MAX_GOSSIP_RPC_BYTES,
    maxOutboundBufferSize: GOSSIP_MAX_OUTBOUND_BUFFER_BYTES,
    // Every peer of a permissioned network may sit behind one NAT address or on one host (devnet):
    // the IP colocation penalty would only hurt honest peers here.
    scoreParams: { IPColocationFactorWeight: 0 }
  }
}
