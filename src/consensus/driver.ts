import { toHex, bytesEqual, bytesCompare } from '../encoding/bytes.ts'
import { sha256 } from '../crypto/hash.ts'
import type { Signer } from '../crypto/ed25519.ts'
import type { SignatureCheck } from '../crypto/verify-pool.ts'
import { encodeConsensusMessage, decodeBlock, encodeBlock, type ConsensusMessage } from '../chain/codec.ts'
import { decodeCbor, encodeCbor, readBytes, readList, readTuple, readUint } from '../encoding/cbor.ts'
import { blockHash, evidenceHash, proposalSignBytes, voteSignBytes } from '../chain/hashing.ts'
import type { ValidatorSchedule } from '../chain/validator-schedule.ts'
import type { Genesis } from '../chain/genesis.ts'
import { VoteType, type Block, type Certificate, type Evidence, type FinalizedBlock, type Proposal, type ProposalHeader, type Vote } from '../chain/types.ts'
import { genesisTip, type VerifiedTip, type ChainVerifier } from '../chain/verifier.ts'
import type { Mempool } from '../mempool/mempool.ts'
import { isStorageFault } from '../storage/index.ts'
import type { Logger } from '../logger.ts'
import { ConsensusStateMachine } from './state-machine.ts'
import type { ConsensusInput, ConsensusOutput } from './state-machine-types.ts'
import { SignStep } from './guard.ts'
import { GuardedSigner } from './guarded-signer.ts'
import { BlockJudge } from './block-judge.ts'
import { BlockProposer } from './block-proposer.ts'
import { decodeSnapshot, encodeSnapshot } from './snapshot.ts'
import { DEFAULT_MAX_CLOCK_DRIFT_MS, DEFAULT_MAX_FUTURE_BYTES, type DriverOptions } from './options.ts'
import { FutureBuffer, futureLimits } from './future-buffer.ts'
import { ResendGuard, DEFAULT_RESEND_GUARD, PROPOSAL_RESEND_GUARD } from './resend-guard.ts'
import { bodyMatchesHeader, signedContentKey } from './signed-content.ts'
import { systemClock, type Clock, type ConsensusNetwork, type ConsensusStore, type SignatureVerifier } from './ports.ts'

export type { ConsensusNetwork } from './ports.ts'

export type Verdict = 'accept' | 'ignore' | 'reject'

export interface DriverModules {
  genesis: Genesis
  schedule: ValidatorSchedule
  /** The chain and the consensus state kept across crashes (ports.ts): the ChainStore in production. */
  store: ConsensusStore
  mempool: Mempool
  /** Signature checks: the VerifyPool in production. */
  pool: SignatureVerifier
  verifier: Pick<ChainVerifier, 'verifyRun'>
  /** null on an observer: it follows consensus but never proposes or votes. */
  signer: Signer | null
  network: ConsensusNetwork
  logger: Logger
  onFinalized: (fb: FinalizedBlock) => void
  /**
   * A storage fault met by consensus (a failed commit, guard or snapshot write, an unreadable
   * store), or any failure to commit a decided block: the driver has halted for good and signs
   * nothing more; the owner stops the node.
   */
  onFatal?: (err: Error) => void
  /** The clock and timers (ports.ts); the system's by default. */
  clock?: Clock
  /** Overrides the clock's time only (tests that hold the time still). */
  now?: () => number
}

const MAX_BLOCKS_PER_HEIGHT = 64
/** Votes of the current height remembered for de-duplication; beyond it new ones are still handled, only not remembered. */
const MAX_SEEN_VOTES = 100_000

function heightOf (m: ConsensusMessage): number {
  return m.kind === 'vote' ? m.vote.height : m.proposal.header.height
}

/**
 * Connects the pure state machine to the chain store, the mempool, the clock and the network.
 * Every input runs through one serial queue, so the state machine, the tip and the store are only
 * ever touched by one task at a time (sync's commits go through the same queue).
 */
export class ConsensusDriver {
  private readonly sm: ConsensusStateMachine
  private readonly chainId: string
  private readonly now: () => number
  private readonly clock: Clock
  private queue: Promise<void> = Promise.resolve()
  private tip: VerifiedTip
  private height = 0
  private started = false
  private stopped = false
  private halted: Error | undefined
  /** null on an observer. */
  private readonly signing: GuardedSigner | null
  private readonly judge: BlockJudge
  /** null on an observer. */
  private readonly proposer: BlockProposer | null
  private readonly blocks = new Map<string, Block>()
  private readonly validity = new Map<string, boolean>()
  private readonly seenProposals = new Set<string>()
  private future: FutureBuffer
  /** Signed content of the votes of this height already handled (signer + hash of the sign bytes). */
  private readonly seenVotes = new Set<string>()
  private readonly voteResends: ResendGuard
  private readonly proposalResends: ResendGuard
  private lastFloodLog = 0
  private readonly timers = new Set<unknown>()
  private heartbeatTimer: unknown
  private rebroadcastTimer: unknown
  /** Our votes of this height (re-sent while a round stalls, kept with the guard). */
  private own: ConsensusMessage[] = []
  private restoredOwn: ConsensusMessage[] = []
  private waitingForRecords = false
  /** Which blocks (height and hashes) were last written with the snapshot. */
  private heldKey = ''
  private seq = 0
  private readonly log: Logger

  constructor (private readonly opts: DriverOptions, private readonly m: DriverModules) {
    this.chainId = m.genesis.chainId
    this.clock = m.clock ?? systemClock
    this.now = m.now ?? (() => this.clock.now())
    this.log = m.logger.child({ module: 'consensus' })
    this.signing = m.signer === null ? null : new GuardedSigner(this.chainId, m.signer, m.store, this.log)
    this.judge = new BlockJudge({ chainId: this.chainId, maxBlockBytes: opts.maxBlockBytes, maxClockDriftMs: opts.maxClockDriftMs ?? DEFAULT_MAX_CLOCK_DRIFT_MS, schedule: m.schedule, mempool: m.mempool, store: m.store, pool: m.pool, now: () => this.now(), log: this.log })
    this.proposer = m.signer === null ? null : new BlockProposer({ chainId: this.chainId, proposer: m.signer.publicKey, maxBlockBytes: opts.maxBlockBytes, maxBatchesPerBlock: opts.maxBatchesPerBlock, schedule: m.schedule, mempool: m.mempool, store: m.store, now: () => this.now() })
    this.sm = new ConsensusStateMachine({ self: m.signer?.publicKey ?? null, timeouts: opts.timeouts })
    this.tip = genesisTip(m.genesis.hash, m.genesis.genesisTime)
    this.future = this.newFutureBuffer(1)
    this.voteResends = new ResendGuard(DEFAULT_RESEND_GUARD)
    this.proposalResends = new ResendGuard(PROPOSAL_RESEND_GUARD)
  }

  /** Messages held for the next height: how many and their bytes (for tests and diagnostics). */
  get futureBuffer (): { messages: number, bytes: number, maxBytes: number } {
    return { messages: this.future.size, bytes: this.future.bytes, maxBytes: this.future.limits.maxBytes }
  }

  get currentHeight (): number { return this.height }
  get currentRound (): number { return this.started ? this.sm.round : 0 }
  get currentTip (): VerifiedTip { return this.tip }

  async start (): Promise<void> {
    this.tip = await this.loadTip()
    this.restoredOwn = this.signing === null ? [] : await this.signing.restore(this.tip.link.height + 1)
    await this.enterHeight(this.tip.link.height + 1)
  }

  async stop (): Promise<void> {
    this.stopped = true
    this.clearTimers()
    await this.queue.catch(() => {})
  }

  /**
   * Stops at once and for good, from any task or from outside (the store reported a fault): no
   * input is handled, no timer fires and the guard lets nothing more be signed. A node whose
   * chain cannot be written must not vote on blocks it cannot keep (docs/storage.md).
   */
  halt (err: Error): void {
    if (this.halted !== undefined) return
    this.halted = err
    this.stopped = true
    this.clearTimers()
    this.log.error({ err, height: this.height }, 'consensus halted: %s', err.message)
    this.m.onFatal?.(err)
  }

  /** The fault that halted consensus, if any. */
  get fault (): Error | undefined { return this.halted }

  /** Runs `task` after every task before it; errors are logged, never lost silently; a storage fault halts. */
  enqueue<T> (task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(async () => await task())
    this.queue = run.then(() => {}, (err) => {
      if (isStorageFault(err)) this.halt(err)
      else this.log.error({ err }, 'consensus task failed')
    })
    return run
  }

  // ---------------------------------------------------------------- inbound messages

  /**
   * Gossip validation of a consensus message. `from` is the peer that relayed it (undefined for
   * messages that did not come from the network), `wireBytes` its size on the wire. The verdict
   * says whether gossip may forward it: only what is fully validated is 'accept'.
   */
  async onMessage (msg: ConsensusMessage, from?: string, wireBytes?: number): Promise<Verdict> {
    const height = heightOf(msg)
    // [IGNORE] Stale: that height is final here already.
    if (height < this.height) return 'ignore'
    // [IGNORE] Far ahead: we are behind; sync fetches the final blocks, the message is not kept.
    if (height > this.height + 1) {
      this.m.network.requestSync()
      return 'ignore'
    }
    const key = signedContentKey(this.chainId, msg)
    // [REJECT] The same signed message again from the same peer, in a fresh envelope, sooner than
    // any honest node re-sends (a proposal: more than once): a flood gossipsub's seen-cache cannot stop.
    const resends = msg.kind === 'vote' ? this.voteResends : this.proposalResends
    if (from !== undefined && resends.tooSoon(from, key, this.clock.now())) {
      this.logFlood(from, msg)
      return 'reject'
    }
    // [IGNORE] Held or handled already (a re-send with another seq or signature): not forwarded again.
    if (this.future.has(key) || this.seenVotes.has(key) || this.seenProposals.has(key)) return 'ignore'
    const validators = this.m.schedule.at(height)
    if (msg.kind === 'vote') {
      const v = msg.vote
      // [REJECT] Only validators of the set in force vote, and their signatures must verify.
      if (!validators.has(v.validator)) return 'reject'
      if (!(await this.m.pool.verifyEvery([voteCheck(this.chainId, v)]))) return 'reject'
    } else {
      const p = msg.proposal.header
      // [REJECT] Only the round's proposer, V[(h + r) mod N], proposes; the header must hash to what was signed.
      if (!validators.isProposer(p.proposer, p.height, p.round)) return 'reject'
      if (!bytesEqual(blockHash(msg.proposal.block.header), p.blockHash)) return 'reject'
      if (!(await this.m.pool.verifyEvery([proposalCheck(this.chainId, p)]))) return 'reject'
    }
    // The height may have moved while the signature was checked.
    if (height < this.height) return 'ignore'
    if (height === this.height + 1) return this.keepForNextHeight(msg, key, from ?? '', wireBytes)
    if (msg.kind === 'vote') {
      // A vote is fully validated by its signer and signature: forwarded at once, counted in order.
      if (this.seenVotes.size < MAX_SEEN_VOTES) this.seenVotes.add(key)
      void this.enqueue(async () => { await this.deliver(msg) })
      return 'accept'
    }
    // A proposal is forwarded only once its block passed valid(v), in the queue, against our tip.
    return await this.enqueue(async () => await this.deliver(msg))
  }

  /**
   * [IGNORE] / [ACCEPT] A message for the next height: kept within the buffer's bounds (one body
   * per (height, round, proposer), per-signer and per-peer shares). A vote is fully validated by
   * its signature and may be forwarded; a proposal's block cannot be checked before its parent is
   * final, so it is kept but never forwarded (its proposer sends it to every peer itself).
   */
  private keepForNextHeight (msg: ConsensusMessage, key: string, from: string, wireBytes: number | undefined): Verdict {
    const size = wireBytes ?? encodeConsensusMessage(msg).length
    // The body must be the one the signed header commits to (hashing every record: only for a message that fits).
    const kept = this.future.add(msg, key, from, size, () => msg.kind === 'vote' || bodyMatchesHeader(msg.proposal.block))
    // [REJECT] A body the signed header does not commit to: the relay's doing.
    if (kept === 'invalid') return 'reject'
    if (kept !== 'kept' && kept !== 'duplicate' && this.log.isLevelEnabled('debug')) this.log.debug({ peer: from, kind: msg.kind, outcome: kept, held: this.future.bytes }, 'next-height message not kept')
    return kept === 'kept' && msg.kind === 'vote' ? 'accept' : 'ignore'
  }

  private logFlood (peer: string, msg: ConsensusMessage): void {
    const now = this.clock.now()
    if (now - this.lastFloodLog < 1_000) return
    this.lastFloodLog = now
    this.log.warn({ peer, kind: msg.kind, height: heightOf(msg), signer: toHex(msg.kind === 'vote' ? msg.vote.validator : msg.proposal.header.proposer).slice(0, 16) }, 'peer re-sends one signed consensus message in fresh envelopes: rejected (flood)')
  }

  private async deliver (msg: ConsensusMessage): Promise<Verdict> {
    if (this.stopped) return 'ignore'
    const height = heightOf(msg)
    // Heights only grow: a message queued for the height we were at is stale now.
    if (height !== this.height) return 'ignore'
    if (this.log.isLevelEnabled('debug')) this.log.debug({ kind: msg.kind, height, round: msg.kind === 'vote' ? msg.vote.round : msg.proposal.header.round, voteType: msg.kind === 'vote' ? msg.vote.type : undefined, nil: msg.kind === 'vote' ? msg.vote.blockHash === null : undefined, from: toHex(msg.kind === 'vote' ? msg.vote.validator : msg.proposal.header.proposer).slice(0, 8), vr: msg.kind === 'proposal' ? msg.proposal.header.validRound : undefined, block: toHex(msg.kind === 'vote' ? (msg.vote.blockHash ?? new Uint8Array(0)) : msg.proposal.header.blockHash).slice(0, 8), started: this.started }, 'consensus message')
    // A peer is working on this height: start it even if we are idle.
    if (!this.started) await this.startHeight()
    if (msg.kind === 'vote') {
      if (this.seenVotes.size < MAX_SEEN_VOTES) this.seenVotes.add(signedContentKey(this.chainId, msg))
      await this.input({ type: 'vote', vote: msg.vote })
      return 'accept'
    }
    return await this.onProposal(msg.proposal)
  }

  /**
   * Judges a proposal of this height once and hands it to the state machine. 'ignore': seen
   * already; 'reject': its body is not the header's (a relay's forgery: the proposal itself is not
   * judged, so the genuine copy still counts) or its block is invalid.
   */
  private async onProposal (p: Proposal): Promise<Verdict> {
    const key = signedContentKey(this.chainId, { kind: 'proposal', proposal: p })
    if (this.seenProposals.has(key)) return 'ignore'
    if (!bodyMatchesHeader(p.block)) return 'reject'
    this.seenProposals.add(key)
    const hash = toHex(p.header.blockHash)
    let valid = this.validity.get(hash)
    if (valid === undefined) {
      valid = await this.judge.isValid(p.block, p.header, this.tip)
      if (this.blocks.size < MAX_BLOCKS_PER_HEIGHT) {
        this.blocks.set(hash, p.block)
        this.validity.set(hash, valid)
      }
    }
    // Local, not cached with valid(v): a new block from beyond our clock's drift is not prevoted;
    // a re-proposal (validRound >= 0) was prevoted by a quorum already (docs/protocol.md, "Time").
    // Not forwarded but no penalty either: the clock that is wrong may be ours.
    const timely = !valid || p.header.validRound >= 0 || this.judge.isTimely(p.block)
    if (this.log.isLevelEnabled('debug')) this.log.debug({ height: p.header.height, round: p.header.round, vr: p.header.validRound, block: hash.slice(0, 8), valid, timely }, 'consensus proposal checked')
    await this.input({ type: 'proposal', proposal: p.header, valid: valid && timely })
    return !valid ? 'reject' : timely ? 'accept' : 'ignore'
  }

  // ---------------------------------------------------------------- heights

  private async enterHeight (height: number): Promise<void> {
    this.clearTimers()
    this.height = height
    this.started = false
    this.blocks.clear()
    this.validity.clear()
    this.seenProposals.clear()
    this.seenVotes.clear()
    // Our own messages of this height from before a restart: sent again and counted again, so
    // peers that never received them (and our own tally) are whole.
    const restored = this.restoredOwn.filter(m => heightOf(m) === height)
    this.restoredOwn = []
    this.own = [...restored]
    for (const m of restored) this.m.network.publishConsensus(encodeConsensusMessage({ ...m, seq: ++this.seq }))
    const buffered = [...restored, ...this.future.take(height)]
    this.future = this.newFutureBuffer(height + 1)
    // No empty blocks while idle: the height starts when records wait, a peer starts it, or the
    // heartbeat is due (the last block's time + heartbeatMs).
    const heartbeatIn = this.tip.link.time + this.opts.heartbeatMs - this.now()
    if (buffered.length > 0 || this.m.mempool.size > 0 || heartbeatIn <= 0) {
      await this.startHeight()
    } else {
      this.heartbeatTimer = this.clock.setTimeout(() => { void this.enqueue(async () => { if (this.height === height && !this.started) await this.startHeight() }) }, heartbeatIn)
      // One waiter at a time: idle heights (heartbeats only) must not pile up mempool waiters.
      if (!this.waitingForRecords) {
        this.waitingForRecords = true
        // The task's own failure is handled by the queue (a storage fault halts): not re-thrown here,
        // where nobody awaits it (an unhandled rejection used to end the process).
        void this.m.mempool.whenNotEmpty().then(async () => {
          await this.enqueue(async () => {
            this.waitingForRecords = false
            if (!this.started && !this.stopped) await this.startHeight()
          }).catch(() => {})
        })
      }
    }
    for (const msg of buffered) await this.deliver(msg)
  }

  private async startHeight (): Promise<void> {
    if (this.stopped) return
    this.started = true
    const snapshotBytes = await this.m.store.getConsensusSnapshot()
    const snapshot = snapshotBytes === undefined ? undefined : decodeSnapshot(snapshotBytes)
    if (snapshot?.height === this.height) await this.restoreHeldBlocks()
    const outs = this.sm.startHeight(this.height, [...this.m.schedule.at(this.height).keys], snapshot?.height === this.height ? snapshot : undefined)
    this.armRebroadcast()
    await this.persistBeforeSigning(outs)
    await this.process(outs)
  }

  private async input (i: ConsensusInput): Promise<void> {
    const round = this.sm.round
    const outs = this.sm.handle(i)
    if (this.sm.round !== round) this.armRebroadcast()
    await this.persistBeforeSigning(outs)
    await this.process(outs)
  }

  /**
   * Locks and valid round reach the disk before any message that depends on them is signed, with
   * the blocks they name: after a crash a node locked on a block it no longer holds can neither
   * commit it on the precommits it re-counts nor re-propose it, and if no peer holds it either
   * (a lone validator; every holder restarted) the height stalls for good (Finding 11, found by the
   * driver simulation). The blocks are written again only when the lock or valid value changes.
   */
  private async persistBeforeSigning (outs: ConsensusOutput[]): Promise<void> {
    if (this.m.signer === null || !outs.some(o => o.type === 'vote' || o.type === 'propose')) return
    const snapshot = this.sm.snapshot()
    const hashes = [...new Set([snapshot.lockedHash, snapshot.validHash].flatMap(h => h === null ? [] : [toHex(h)]))]
    const key = `${this.height}:${hashes.join(',')}`
    let held: Uint8Array | undefined
    if (key !== this.heldKey) {
      const blocks = hashes.flatMap(h => { const b = this.blocks.get(h); return b === undefined ? [] : [encodeBlock(b)] })
      held = encodeCbor([this.height, blocks])
    }
    await this.m.store.putConsensusSnapshot(encodeSnapshot(snapshot), held)
    this.heldKey = key
  }

  /** The blocks the snapshot of this height names, back in memory after a restart (they were valid when locked). */
  private async restoreHeldBlocks (): Promise<void> {
    const bytes = await this.m.store.getHeldBlocks()
    if (bytes === undefined) return
    try {
      const [h, list] = readTuple(decodeCbor(bytes, 256 * 1024 * 1024), 2, 'held blocks')
      if (readUint(h, 'held blocks height') !== this.height) return
      for (const item of readList(list, 2, 'held blocks')) {
        const block = decodeBlock(readBytes(item, 'held block'))
        if (block.header.height !== this.height) continue
        const hash = toHex(blockHash(block.header))
        this.blocks.set(hash, block)
        this.validity.set(hash, true)
      }
    } catch (err) {
      if (isStorageFault(err)) throw err
      this.log.warn({ err }, 'the blocks kept with the consensus snapshot are unreadable: not restored')
    }
  }

  private async process (outs: ConsensusOutput[]): Promise<void> {
    for (const o of outs) {
      if (this.stopped) return
      if (this.log.isLevelEnabled('debug')) this.log.debug({ out: o.type, height: this.height, round: this.sm.round, kind: (o as { kind?: unknown }).kind, voteType: (o as { voteType?: unknown }).voteType, nil: (o as { blockHash?: unknown }).blockHash === null }, 'consensus step')
      switch (o.type) {
        case 'schedule': {
          const t = this.clock.setTimeout(() => {
            this.timers.delete(t)
            void this.enqueue(async () => { if (this.height === o.height) await this.input({ type: 'timeout', kind: o.kind, height: o.height, round: o.round }) })
          }, o.durationMs)
          this.timers.add(t)
          break
        }
        case 'propose': await this.propose(o.height, o.round, o.validRound, o.blockHash); break
        case 'vote': await this.vote(o.voteType, o.height, o.round, o.blockHash); break
        case 'evidence': await this.keepEvidence(o.evidence); break
        case 'commit': await this.commit(o.height, o.round, o.blockHash, o.precommits); return
      }
    }
  }

  // ---------------------------------------------------------------- our own messages

  /**
   * The guard (guarded-signer.ts) written before a signature may leave; false when it must not
   * sign. For a vote, our kept votes of the height including it go in the same synced write.
   */
  private async guard (height: number, round: number, step: SignStep, signBytes: Uint8Array, vote?: Vote): Promise<boolean> {
    // Halted (a storage fault), stopping, or an observer: nothing is signed.
    if (this.stopped || this.signing === null) return false
    if (!(await this.signing.guard(height, round, step, signBytes, vote === undefined ? undefined : [...this.own, { kind: 'vote', vote }]))) return false
    // The store may have reported a fault (another write failed) while the guard was written.
    return !this.stopped
  }

  private async propose (height: number, round: number, validRound: number, hash: Uint8Array | null): Promise<void> {
    const signer = this.m.signer
    if (signer === null) return
    let block = hash === null ? undefined : this.blocks.get(toHex(hash))
    if (block === undefined) block = await (this.proposer as BlockProposer).build(round, this.tip)
    const unsigned = { height, round, validRound, blockHash: blockHash(block.header) }
    if (!(await this.guard(height, round, SignStep.PROPOSE, proposalSignBytes(this.chainId, unsigned)))) return
    const proposal = this.signProposal(block, round, validRound)
    const bh = toHex(proposal.header.blockHash)
    this.blocks.set(bh, block)
    this.validity.set(bh, true)
    this.publish({ kind: 'proposal', proposal })
    if (this.opts.byzantine === true) {
      // Test-only equivocation: a second, different block for the same (height, round).
      const other = { ...block, header: { ...block.header, time: block.header.time + 1 } }
      this.publish({ kind: 'proposal', proposal: this.signProposal(other, round, validRound) })
    }
    // Our own proposal is handled as the next task, like one from the network, not inline: inline,
    // a lone validator's heights nested in one async chain (propose -> votes -> commit -> next
    // propose) and every block stayed referenced until the chain unwound.
    void this.enqueue(async () => { await this.onProposal(proposal) })
  }

  private signProposal (block: Block, round: number, validRound: number): Proposal {
    return (this.signing as GuardedSigner).signProposal(block, round, validRound, blockHash(block.header))
  }

  private async vote (type: VoteType, height: number, round: number, hash: Uint8Array | null): Promise<void> {
    const signing = this.signing
    if (signing === null) return
    // Signed before the guard is written, published only after: the vote reaches the disk in the
    // guard's batch, so no crash can leave the guard naming a vote we no longer hold.
    const vote = signing.signVote({ type, height, round, blockHash: hash })
    if (!(await this.guard(height, round, type === VoteType.PREVOTE ? SignStep.PREVOTE : SignStep.PRECOMMIT, voteSignBytes(this.chainId, vote), vote))) return
    this.publish({ kind: 'vote', vote })
    if (this.opts.byzantine === true) {
      // Test-only equivocation: a conflicting vote for the same (height, round, type).
      this.publish({ kind: 'vote', vote: signing.signVote({ type, height, round, blockHash: hash === null ? sha256(new Uint8Array([round])) : null }) })
    }
    await this.input({ type: 'vote', vote })
  }

  /** Sends one of our messages once; our votes are kept to be re-sent while a round stalls. */
  private publish (msg: ConsensusMessage): void {
    if (msg.kind === 'proposal') { this.m.network.publishProposal(msg.proposal); return }
    this.own.push(msg)
    this.m.network.publishConsensus(encodeConsensusMessage({ ...msg, seq: 0 }))
  }

  /**
   * Re-sends our votes of this height when the round stalls (peers may have been away), every
   * `rebroadcastMs` while it stalls. Votes only (about 150 bytes each, at most two a round): what
   * liveness needs and nothing that grows with the block. A proposal is sent once: re-sending its
   * block (up to max_block_bytes) every tick, in a fresh gossip envelope that every peer decodes
   * and forwards, is what held honest daemons at twice their memory under a full-rate load
   * (docs/simulation.md, Findings 10 and 12). A proposal a peer missed costs one round (its propose
   * timeout fires, the next proposer proposes, a re-proposal carries its block); a decided block
   * a peer lacks is fetched by sync (commit below), as after any outage.
   */
  private armRebroadcast (): void {
    if (this.rebroadcastTimer !== undefined) this.clock.clearTimeout(this.rebroadcastTimer)
    const fire = (): void => {
      if (this.stopped) return
      this.rebroadcastTimer = this.clock.setTimeout(fire, this.opts.rebroadcastMs, true)
      this.seq++
      for (const msg of this.own) this.m.network.publishConsensus(encodeConsensusMessage({ ...msg, seq: this.seq }))
      // The prevotes behind our lock and valid value go too, whoever signed them: a validator that
      // missed them (it was down) cannot otherwise accept a re-proposal of that value (L28 needs
      // 2f+1 prevotes at its validRound), and the chain would stall for good once a signer of the
      // polka is gone. Found by the long form of simulation 3 (docs/simulation.md).
      // (Our own are among `own` already.)
      const self = this.m.signer?.publicKey
      for (const vote of this.sm.polkaPrevotes()) {
        if (self === undefined || !bytesEqual(vote.validator, self)) this.m.network.publishConsensus(encodeConsensusMessage({ kind: 'vote', vote, seq: this.seq }))
      }
    }
    this.rebroadcastTimer = this.clock.setTimeout(fire, this.opts.rebroadcastMs, true)
  }

  // ---------------------------------------------------------------- outcomes

  private async keepEvidence (e: Evidence): Promise<void> {
    const accused = e.kind === 'vote' ? e.a.validator : e.a.proposer
    this.log.warn({ validator: toHex(accused), height: e.a.height, round: e.a.round, kind: e.kind }, 'double signing detected: evidence kept for the next block')
    await this.m.store.putPendingEvidence(e)
  }

  private async commit (height: number, round: number, hash: Uint8Array, precommits: Vote[]): Promise<void> {
    const block = this.blocks.get(toHex(hash))
    if (block === undefined) {
      // The paper decides only with the proposal in hand; without it, sync fetches the block.
      this.m.network.requestSync()
      return
    }
    const certificate: Certificate = {
      height,
      round,
      blockHash: hash,
      signatures: precommits
        .map(v => ({ validator: v.validator, signature: v.signature }))
        .sort((a, b) => bytesCompare(a.validator, b.validator))
    }
    await this.applyFinal([{ block, certificate }])
  }

  /**
   * Makes blocks final: from our own decision or from sync (already verified by the caller). One
   * store batch, then the mempool, evidence and the next height follow.
   */
  async applyFinal (run: FinalizedBlock[]): Promise<void> {
    // Halted on a fault (or stopping): sync's blocks are not written either.
    if (this.stopped) return
    const head = this.m.store.head?.height ?? 0
    const fresh = run.filter(fb => fb.block.header.height > head)
    if (fresh.length === 0) return
    try {
      if (fresh.length === 1) await this.m.store.commit(fresh[0])
      else await this.m.store.commitMany(fresh)
    } catch (err) {
      // A decided block that cannot be written (a disk fault, or a refusal that would be a bug):
      // never carry on from a tip the disk does not hold.
      this.halt(err as Error)
      throw err
    }
    for (const fb of fresh) {
      this.m.mempool.removeFinal(fb.block.body.batches)
      for (const e of fb.block.body.evidence) await this.m.store.removePendingEvidence(evidenceHash(e))
      const h = fb.block.header
      this.tip = { link: { height: h.height, hash: blockHash(h), time: h.time }, header: h, certificate: fb.certificate }
      this.m.schedule.observe?.(fb.block)
      this.m.onFinalized(fb)
    }
    await this.enterHeight(this.tip.link.height + 1)
  }

  /** Verifies and commits blocks fetched by sync, in the consensus queue. */
  async applySynced (run: FinalizedBlock[]): Promise<void> {
    await this.enqueue(async () => {
      const head = this.tip.link.height
      const fresh = run.filter(fb => fb.block.header.height > head)
      if (fresh.length === 0) return
      await this.m.verifier.verifyRun(this.tip, fresh)
      await this.applyFinal(fresh)
    })
  }

  private async loadTip (): Promise<VerifiedTip> {
    const head = this.m.store.head
    if (head === null) return genesisTip(this.m.genesis.hash, this.m.genesis.genesisTime)
    const fb = await this.m.store.getFinalized(head.height)
    if (fb === undefined) throw new Error(`the store names head ${head.height} but has no block there`)
    const h = fb.block.header
    return { link: { height: h.height, hash: head.hash, time: h.time }, header: h, certificate: fb.certificate }
  }

  private newFutureBuffer (height: number): FutureBuffer {
    return new FutureBuffer(futureLimits({ maxBytes: this.opts.maxFutureBytes ?? DEFAULT_MAX_FUTURE_BYTES, maxMessages: this.opts.maxFutureMessages, maxBlockBytes: this.opts.maxBlockBytes, validators: this.m.schedule.at(height).keys.length }))
  }

  private clearTimers (): void {
    for (const t of this.timers) this.clock.clearTimeout(t)
    this.timers.clear()
    if (this.heartbeatTimer !== undefined) this.clock.clearTimeout(this.heartbeatTimer)
    if (this.rebroadcastTimer !== undefined) this.clock.clearTimeout(this.rebroadcastTimer)
    this.heartbeatTimer = undefined
    this.rebroadcastTimer = undefined
  }
}

function voteCheck (chainId: string, v: Vote): SignatureCheck {
  return { publicKey: v.validator, message: voteSignBytes(chainId, v), signature: v.signature }
}

function proposalCheck (chainId: string, p: ProposalHeader): SignatureCheck {
  return { publicKey: p.proposer, message: proposalSignBytes(chainId, p), signature: p.signature }
}
