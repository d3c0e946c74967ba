import { TopicValidatorResult, type GossipsubMessage } from '@libp2p/gossipsub'
import { decodeBatchMessage, decodeWireConsensusMessage, encodeBatch } from '../chain/codec.ts'
import { LIMITS } from '../chain/limits.ts'
import { CodecError, encodeArrayOfEncoded } from '../encoding/cbor.ts'
import { isMedledgerError, PeerAction } from '../errors.ts'
import type { Logger } from '../logger.ts'
import type { MedledgerLibp2p } from './libp2p-node.ts'
import type { NetworkHandlers, Verdict } from './interface.ts'
import { MAX_GOSSIP_DATA_BYTES, topics } from './protocol-ids.ts'
import { PublishQueue } from './publish-queue.ts'
import type { GossipTraffic } from './gossip-traffic.ts'
import { GossipStreamKeeper } from './gossip-streams.ts'
import type { ProposalAssembler } from './compact-proposals.ts'

export interface GossipOptions {
  relay: boolean
  maxQueuedBatches: number
  maxQueuedConsensus: number
  publishHighWaterBytes: number
  /** Bytes of messages handed to the application and not yet judged; one peer may hold half. */
  maxInFlightBytes: number
}

export interface GossipModules {
  libp2p: MedledgerLibp2p
  chainId: string
  handlers: Pick<NetworkHandlers, 'onBatches' | 'onConsensus' | 'knownBatch'>
  logger: Logger
  admit: (peerId: string) => boolean
  /** A peer sent a message that does not decode or that the application rejected. */
  onInvalid: (peerId: string, reason: string) => void
  /** Counts each distinct message received (beside the copies counted by the fast message id). */
  traffic?: GossipTraffic
  /** Makes compact proposals whole before the application sees them. */
  assembler: Pick<ProposalAssembler, 'assemble' | 'serve'>
}

/** Messages handed to the application and not yet judged; beyond this new ones are ignored. */
const MAX_IN_FLIGHT = 8_192

const VERDICT: Record<Verdict, TopicValidatorResult> = {
  accept: TopicValidatorResult.Accept,
  ignore: TopicValidatorResult.Ignore,
  reject: TopicValidatorResult.Reject
}

/**
 * Gossip counters, for logs, tests and /metrics. `received`: distinct messages handed to
 * validation; `copies`: every message that arrived, duplicates included (copies / received is
 * the duplicate ratio, docs/network.md "Gossip at N validators"); `streamsReopened`: outbound
 * streams opened again to a peer that was still connected (gossip-streams.ts).
 */
export interface GossipStats { received: number, accepted: number, ignored: number, rejected: number, refusedToPublish: number, shed: number, copies: number, streamsReopened: number }

/** A stream over the publish high-water mark this long is a peer that stopped reading: not waited for. */
export const STALLED_AFTER_MS = 2_000

/** Most bytes of batches bundled into one message (a batch of 1,000 records is about 215 KB). */
const BUNDLE_BYTES = 512 * 1024
/** How long a batch may wait for others to share its message: small against a block interval. */
const BUNDLE_LINGER_MS = 25

/**
 * The two gossip topics. Every received message is decoded and handed to the application before
 * gossipsub may forward it (asyncValidation); the verdict goes back to gossipsub's own scoring and,
 * for 'reject', to ours. Publishing goes through a paced queue (publish-queue.ts).
 */
export class Gossip {
  private readonly topics: { batches: string, consensus: string }
  private readonly queue: PublishQueue
  private readonly streams: GossipStreamKeeper
  readonly stats: GossipStats = { received: 0, accepted: 0, ignored: 0, rejected: 0, refusedToPublish: 0, shed: 0, copies: 0, streamsReopened: 0 }
  private inFlight = 0
  private inFlightBytes = 0
  private readonly inFlightByPeer = new Map<string, number>()
  private lastShedLog = 0
  /** Outbound streams over the high-water mark, since when (forgotten with the stream). */
  private readonly overSince = new WeakMap<object, number>()
  private readonly listener = (evt: CustomEvent<GossipsubMessage>): void => { void this.onMessage(evt.detail) }

  constructor (private readonly opts: GossipOptions, private readonly modules: GossipModules) {
    this.topics = topics(modules.chainId)
    this.streams = new GossipStreamKeeper({ ...modules, onReopen: n => { this.stats.streamsReopened += n } })
    const pubsub = modules.libp2p.services.pubsub
    this.queue = new PublishQueue([
      { name: 'consensus', topic: this.topics.consensus, maxMessages: opts.maxQueuedConsensus, maxBytes: 256 * 1024 * 1024 },
      {
        name: 'batches',
        topic: this.topics.batches,
        maxMessages: opts.maxQueuedBatches,
        maxBytes: 128 * 1024 * 1024,
        bundle: { maxItems: LIMITS.batchesPerMessage, maxBytes: BUNDLE_BYTES, wrap: encodeArrayOfEncoded },
        lingerMs: BUNDLE_LINGER_MS
      }
    ], opts.publishHighWaterBytes, {
      logger: modules.logger,
      publish: async (topic, data) => await pubsub.publish(topic, data),
      backlog: () => this.outboundBacklog()
    })
  }

  start (): void {
    const pubsub = this.modules.libp2p.services.pubsub
    pubsub.addEventListener('gossipsub:message', this.listener)
    pubsub.subscribe(this.topics.batches)
    pubsub.subscribe(this.topics.consensus)
    this.queue.start()
    this.streams.start()
  }

  stop (): void {
    const pubsub = this.modules.libp2p.services.pubsub
    this.queue.stop()
    this.streams.stop()
    pubsub.removeEventListener('gossipsub:message', this.listener)
  }

  /** Queues one encoded batch; waiting batches are sent together as one message (a CBOR array). */
  publishBatch (bytes: Uint8Array): boolean {
    return this.enqueue('batches', bytes)
  }

  publishConsensus (bytes: Uint8Array): boolean {
    return this.enqueue('consensus', bytes)
  }

  pending (): Record<string, number> {
    return this.queue.pending()
  }

  private enqueue (lane: 'batches' | 'consensus', bytes: Uint8Array): boolean {
    // Over the cap gossipsub would drop the message silently while publish() resolves.
    if (bytes.length > MAX_GOSSIP_DATA_BYTES) {
      this.stats.refusedToPublish++
      this.modules.logger.error({ lane, size: bytes.length, max: MAX_GOSSIP_DATA_BYTES }, 'message too large to gossip: not published')
      return false
    }
    this.queue.push(lane, bytes)
    return true
  }

  /**
   * Batch messages wait for the check phase of the event loop before they are handled: in each
   * turn every readable socket is served first, so proposals and votes (handled as they arrive)
   * never wait behind a backlog of batch work, and heights keep their pace under a flood.
   */
  private async batchTurn<T> (fn: () => Promise<T>): Promise<T> {
    await new Promise(resolve => setImmediate(resolve))
    return await fn()
  }

  private async onMessage ({ propagationSource, msgId, msg }: GossipsubMessage): Promise<void> {
    const peer = propagationSource.toString()
    const pubsub = this.modules.libp2p.services.pubsub
    this.stats.received++
    this.modules.traffic?.distinct(msg.topic, msg.data.length)
    let verdict: Verdict
    let reason = ''
    const size = msg.data.length
    const peerBytes = this.inFlightByPeer.get(peer) ?? 0
    if (this.inFlight >= MAX_IN_FLIGHT || this.inFlightBytes + size > this.opts.maxInFlightBytes || peerBytes + size > this.opts.maxInFlightBytes / 2) {
      // [IGNORE] Overload: the application is this far behind (in messages or bytes, or this peer
      // holds half the room); shed rather than queue without bound.
      verdict = 'ignore'
      this.stats.shed++
      if (Date.now() - this.lastShedLog > 1_000) {
        this.lastShedLog = Date.now()
        this.modules.logger.warn({ inFlight: this.inFlight, inFlightBytes: this.inFlightBytes, peer, peerBytes }, 'gossip validation overloaded: ignoring new messages')
      }
    } else if (!this.modules.admit(peer)) {
      // [REJECT] A peer that is no longer allowed (its connection is being closed).
      verdict = 'reject'
      reason = 'peer not allowed'
    } else {
      this.inFlight++
      this.inFlightBytes += size
      this.inFlightByPeer.set(peer, peerBytes + size)
      try {
        // Decoded values are views into their bytes: keep a copy no transport buffer can change.
        const data = msg.data.slice()
        const h = this.modules.handlers
        if (msg.topic === this.topics.batches) {
          verdict = await this.batchTurn(async () => await h.onBatches(decodeBatchMessage(data), peer))
        } else if (msg.topic === this.topics.consensus) {
          verdict = await this.onConsensus(data, peer)
        } else {
          verdict = 'ignore'
        }
        if (verdict === 'reject') reason = 'rejected by the application'
      } catch (err) {
        // [REJECT] Bytes that do not decode, or a handler that says the peer is to blame.
        if (err instanceof CodecError || (isMedledgerError(err) && err.action === PeerAction.REJECT)) {
          verdict = 'reject'
          reason = (err as Error).message
        } else {
          // A handler failing for its own reasons is not the peer's fault.
          verdict = 'ignore'
          this.modules.logger.error({ peer, topic: msg.topic, err: (err as Error).message }, 'gossip handler failed')
        }
      } finally {
        this.inFlight--
        this.inFlightBytes -= size
        const left = (this.inFlightByPeer.get(peer) ?? size) - size
        if (left <= 0) this.inFlightByPeer.delete(peer)
        else this.inFlightByPeer.set(peer, left)
      }
    }
    this.stats[verdict === 'accept' ? 'accepted' : verdict === 'ignore' ? 'ignored' : 'rejected']++
    try {
      // A node that does not relay keeps valid messages to itself (IGNORE: not forwarded, no penalty).
      pubsub.reportMessageValidationResult(msgId, peer, VERDICT[verdict === 'accept' && !this.opts.relay ? 'ignore' : verdict])
    } catch {}
    if (verdict === 'reject') {
      this.modules.logger.debug({ peer, topic: msg.topic, reason }, 'gossip message rejected')
      this.modules.onInvalid(peer, reason)
    }
  }

  /**
   * A consensus message for the application. A compact proposal is made whole first (its missing
   * batches asked of the peer that sent it); once accepted, its batches are ours to serve.
   */
  private async onConsensus (data: Uint8Array, peer: string): Promise<Verdict> {
    const h = this.modules.handlers
    const wire = decodeWireConsensusMessage(data, h.knownBatch)
    if (wire.kind !== 'compact-proposal') return await h.onConsensus(wire, data.length, peer)
    const proposal = await this.modules.assembler.assemble(wire.compact, peer)
    // [IGNORE] Its batches could not be had: no penalty, the round's timeout covers it.
    if (proposal === undefined) return 'ignore'
    // What the application holds is the whole block, not the compact message.
    const size = proposal.block.body.batches.reduce((n, b) => n + encodeBatch(b).length, data.length)
    const verdict = await h.onConsensus({ kind: 'proposal', proposal, seq: wire.seq }, size, peer)
    if (verdict === 'accept') this.modules.assembler.serve(proposal)
    return verdict
  }

  /**
   * Unsent bytes in the fullest outbound gossip stream that still drains: the pump waits while a
   * peer lags, but not for a peer that stopped reading. A stream over the high-water mark for
   * STALLED_AFTER_MS is no longer waited for (one member that reads nothing, hostile or hung,
   * held up the node's messages to everyone); what gossipsub queues for it is capped
   * (GOSSIP_MAX_OUTBOUND_BUFFER_BYTES, then the stream is reset and opened again).
   */
  private outboundBacklog (): number {
    const now = Date.now()
    let max = 0
    for (const conn of this.modules.libp2p.getConnections()) {
      for (const s of conn.streams) {
        if (s.direction !== 'outbound' || s.protocol?.startsWith('/meshsub/') !== true) continue
        const unsent = s.writeBufferLength
        if (unsent <= this.opts.publishHighWaterBytes) { this.overSince.delete(s); continue }
        const since = this.overSince.get(s) ?? now
        this.overSince.set(s, since)
        if (now - since < STALLED_AFTER_MS) max = Math.max(max, unsent)
      }
    }
    return max
  }
}
