import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify, type Identify } from '@libp2p/identify'
import { gossipsub, StrictNoSign, type GossipSub } from '@libp2p/gossipsub'
import { multiaddr } from '@multiformats/multiaddr'
import { lpStream } from '@libp2p/utils'
import type { ConnectionGater } from '@libp2p/interface'
import { join } from 'node:path'
import { createConnection, type Socket } from 'node:net'
import { NodeKey } from '../../src/crypto/ed25519.ts'
import { sha256 } from '../../src/crypto/hash.ts'
import { Genesis } from '../../src/chain/genesis.ts'
import type { ValidatorSet } from '../../src/chain/validator-set.ts'
import { buildBlock } from '../../src/chain/block-builder.ts'
import { blockHash, proposalSignBytes } from '../../src/chain/hashing.ts'
import { encodeBatch, encodeConsensusMessage, readBatch } from '../../src/chain/codec.ts'
import { readAll } from '../../src/encoding/reader.ts'
import type { ParentLink } from '../../src/chain/validate.ts'
import type { Block, Certificate, FinalizedBlock, MedRecord, Proposal, RecordBatch, Vote, VoteType } from '../../src/chain/types.ts'
import { concatBytes, encodeArrayOfEncoded, encodeCbor } from '../../src/encoding/cbor.ts'
import { withoutSeq } from '../../src/network/message-id.ts'
import { agentVersion } from '../../src/network/protocol-version.ts'
import { sealBatch } from '../../src/node/records.ts'
import { readKeyFile } from '../../src/keys/key-file.ts'
import { signVote } from './fixtures.ts'
import { protocols, topics } from '../../src/network/protocol-ids.ts'
import { encodeStatus } from '../../src/network/reqresp/status.ts'
import { requestBlocks, type BlocksModules } from '../../src/network/reqresp/blocks.ts'

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
    // An insider runs its own software but announces the protocol the network speaks, or it is refused at once.
    nodeInfo: { userAgent: agentVersion() },
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

/**
 * Fresh envelopes of one encoded consensus message [kind, signed message, seq]: each call wraps the
 * same signed bytes with another `seq` (not signed, so another gossip id) by a byte copy.
 */
export function freshEnvelopes (encoded: Uint8Array): (seq: number) => Uint8Array {
  const signed = encoded.subarray(0, withoutSeq(encoded))
  return seq => concatBytes([signed, encodeCbor(seq)])
}

/**
 * An insider that holds a real validator's key (read from the devnet home of a validator whose
 * daemon the test does not start) and speaks the protocol on its own terms: it builds, signs and
 * publishes whatever blocks, proposals and batches a scenario asks for, and fetches final blocks
 * from honest validators over the blocks protocol (it is listed, so they answer it).
 */
export class HostileValidator {
  readonly chainId: string
  readonly tp: { batches: string, consensus: string }
  private readonly blocksModules: BlocksModules

  private constructor (readonly peer: HostilePeer, readonly key: NodeKey, readonly genesis: Genesis, readonly statusRequest: Uint8Array) {
    this.chainId = genesis.chainId
    this.tp = topics(this.chainId)
    this.blocksModules = {
      libp2p: peer.libp2p,
      protocol: protocols(this.chainId).blocks,
      timeoutMs: 10_000,
      maxBlocksPerRequest: 16,
      maxResponseBytes: 16 * 1024 * 1024
    } as unknown as BlocksModules
  }

  /** Starts a host with the key in `home` (node.key) of the devnet whose genesis is `genesisFile`. */
  static async start (home: string, genesisFile: string): Promise<HostileValidator> {
    const key = await readKeyFile(join(home, 'node.key'))
    const genesis = await Genesis.load(genesisFile)
    // It passes the status exchange (same chain, height 0), so the validators listen to its gossip.
    const statusRequest = encodeStatus({ chainId: genesis.chainId, genesisHash: genesis.hash, height: 0, headHash: genesis.hash })
    const peer = await startHostilePeer(key, { protocol: protocols(genesis.chainId).status, answer: statusRequest })
    // It publishes without subscribing (gossipsub sends to the peers subscribed to a topic): the
    // honest nodes then forward it nothing, not even the copies of its own 3 MiB proposals, which
    // would otherwise take this process's event loop and slow the attack down.
    return new HostileValidator(peer, key, genesis, statusRequest)
  }

  get peerId (): string { return this.peer.peerId }
  get validators (): ValidatorSet { return this.genesis.validators }

  /** Dials every address (`/ip4/.../tcp/N/p2p/ID`) not connected yet; returns the peer ids it is connected to. */
  async connect (addrs: string[]): Promise<string[]> {
    const have = new Set(this.peer.libp2p.getPeers().map(String))
    await Promise.all(addrs.filter(a => !have.has(a.split('/p2p/')[1])).map(async a => {
      await this.peer.libp2p.dial(multiaddr(a), { signal: AbortSignal.timeout(5000) }).catch(() => {})
    }))
    return this.peer.libp2p.getPeers().map(String)
  }

  /** Peer ids of the open connections. */
  connectedPeers (): string[] {
    return this.peer.libp2p.getPeers().map(String)
  }

  /** The final block at `height` with its certificate, from a connected validator. */
  async finalBlock (fromPeer: string, height: number): Promise<FinalizedBlock> {
    const [fb] = await requestBlocks(this.blocksModules, fromPeer, height, 1, AbortSignal.timeout(10_000))
    if (fb === undefined) throw new Error(`${fromPeer} has no final block ${height}`)
    return fb
  }

  /** Rounds r < `below` in which this key proposes at `height` (V[(h + r) mod N]). */
  proposerRounds (height: number, below: number): number[] {
    return Array.from({ length: below }, (_, r) => r).filter(r => this.validators.isProposer(this.key.publicKey, height, r))
  }

  /**
   * A block for `parent.height + 1` (or height 1 after genesis), built and signed as this validator
   * would; `time` and `batches` are the scenario's to choose.
   */
  buildBlock (parent: FinalizedBlock | null, round: number, batches: RecordBatch[], time = Date.now()): Block {
    const link = parent === null
      ? { height: 0, hash: this.genesis.hash, time: this.genesis.genesisTime }
      : { height: parent.block.header.height, hash: blockHash(parent.block.header), time: parent.block.header.time }
    return this.buildBlockOn(link, parent?.certificate ?? null, round, batches, time)
  }

  /** A block on any parent link, real or made up (a block for a height whose parent nobody has yet). */
  buildBlockOn (link: ParentLink, lastCommit: Certificate | null, round: number, batches: RecordBatch[], time = Date.now()): Block {
    return buildBlock({
      chainId: this.chainId,
      parent: link,
      round,
      proposer: this.key.publicKey,
      validators: this.validators,
      batches,
      lastCommit,
      evidence: [],
      now: time
    })
  }

  /**
   * The batch read back from its own bytes: it remembers them, so every block and message that
   * carries it copies bytes instead of encoding megabytes of records again (a flood re-publishes).
   */
  static sealed (batch: RecordBatch): RecordBatch {
    return readAll(encodeBatch(batch), Number.MAX_SAFE_INTEGER, r => readBatch(r))
  }

  /** Signs a proposal of `block` for its own height in `round`. */
  propose (block: Block, round: number, validRound = -1): Proposal {
    const unsigned = { height: block.header.height, round, validRound, blockHash: blockHash(block.header) }
    return { header: { ...unsigned, proposer: this.key.publicKey, signature: this.key.sign(proposalSignBytes(this.chainId, unsigned)) }, block }
  }

  /** A vote signed with this key (whether the key may vote is for the receivers to judge). */
  vote (type: VoteType, height: number, round: number, hash: Uint8Array | null): Vote {
    return signVote(this.key, { type, height, round, blockHash: hash }, this.chainId)
  }

  /** A batch of these records signed by this validator (the author field is filled in). */
  signBatch (records: Array<Omit<MedRecord, 'author'>>): RecordBatch {
    return sealBatch(this.chainId, this.key, records.map(r => ({ ...r, author: this.key.publicKey }))).batch
  }

  /** Publishes a proposal; `seq` is the gossip envelope's rebroadcast counter (not signed). */
  async publishProposal (p: Proposal, seq = 0): Promise<void> {
    await this.peer.libp2p.services.pubsub.publish(this.tp.consensus, encodeConsensusMessage({ kind: 'proposal', proposal: p, seq }))
  }

  /**
   * The proposal encoded once: each call of the returned function is a fresh envelope (another
   * `seq`) around the same signed bytes, made by a copy instead of encoding megabytes again, so a
   * flood's pace does not hang on this process's share of a busy machine's CPU.
   */
  proposalEnvelopes (p: Proposal): (seq: number) => Uint8Array {
    return freshEnvelopes(encodeConsensusMessage({ kind: 'proposal', proposal: p, seq: 0 }))
  }

  /** Publishes an encoded consensus message as it is. */
  async publishConsensus (data: Uint8Array): Promise<void> {
    await this.peer.libp2p.services.pubsub.publish(this.tp.consensus, data)
  }

  async publishBatches (batches: RecordBatch[]): Promise<void> {
    await this.peer.libp2p.services.pubsub.publish(this.tp.batches, encodeArrayOfEncoded(batches.map(encodeBatch)))
  }

  async stop (): Promise<void> {
    await this.peer.stop()
  }
}

/**
 * Holds raw TCP connections to p2p ports open without ever starting the handshake (not one byte
 * of multistream-select or Noise), from one source address: `perTarget` of them per port, each
 * reopened as soon as the other side closes it. Counts what the other side does with them.
 */
export class HandshakeStaller {
  opened = 0
  /** Connections the other side closed, and after how long (ms). */
  readonly closedAfterMs: number[] = []
  refused = 0
  private running = false
  private readonly sockets = new Set<Socket>()
  private readonly timers = new Set<NodeJS.Timeout>()

  constructor (private readonly ports: number[], private readonly perTarget: number, private readonly localAddress = '127.0.0.2') {}

  start (): this {
    this.running = true
    for (const port of this.ports) for (let i = 0; i < this.perTarget; i++) this.open(port)
    return this
  }

  /** Open stalled connections now. */
  get live (): number { return this.sockets.size }

  private later (ms: number, fn: () => void): void {
    const t = setTimeout(() => { this.timers.delete(t); fn() }, ms)
    this.timers.add(t)
  }

  private open (port: number): void {
    if (!this.running) return
    const openedAt = Date.now()
    let connected = false
    const s = createConnection({ host: '127.0.0.1', port, localAddress: this.localAddress })
    this.sockets.add(s)
    s.on('connect', () => { connected = true; this.opened++ })
    s.on('data', () => {})
    s.on('error', () => {})
    s.on('close', () => {
      this.sockets.delete(s)
      if (!this.running) return
      if (connected) this.closedAfterMs.push(Date.now() - openedAt)
      else this.refused++
      // Straight back in, as an attacker would; a refused port (a node down) is retried more slowly.
      this.later(connected ? 20 : 250, () => { this.open(port) })
    })
  }

  stop (): void {
    this.running = false
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
    for (const s of this.sockets) s.destroy()
    this.sockets.clear()
  }
}
