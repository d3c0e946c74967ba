import { VoteType, type Evidence } from '../../../../src/chain/types.ts'
import type { NodeKey } from '../../../../src/crypto/ed25519.ts'
import {
  ConsensusStateMachine,
  type ConsensusInput,
  type ConsensusOutput,
  type ConsensusSnapshot,
  type TimeoutConfig
} from '../../../../src/consensus/state-machine.ts'
import type { Prng } from './prng.ts'
import {
  blockFor, certificateProblem, hex, isValidBlock, logKey, signProposal, slotKey, signVote, verifyProposal, verifyVote,
  type CommitRecord, type Wire
} from './messages.ts'

/**
 * The mini-driver around one ConsensusStateMachine: what a real node does with its outputs,
 * minus the network stack. It signs behind a double-sign guard, feeds its own messages back,
 * schedules timeouts on the virtual clock, keeps a per-height message log that peers pull from,
 * re-sends its latest messages when stalled, buffers the next height's messages, syncs decided
 * blocks from a peer when it sees a higher height, and survives crashes through what it persisted.
 */

export interface SimEnv {
  now: () => number
  prng: Prng
  validators: Uint8Array[]
  timeouts: TimeoutConfig
  gossipMs: number
  /** Every node id (validators 0..n-1, then observers). */
  nodeIds: number[]
  send: (from: number, to: number, msg: Wire) => void
  at: (time: number, fn: () => void) => void
  onSigned: (node: SimNode, msg: Wire) => void
  onCommit: (node: SimNode, c: CommitRecord, how: 'decided' | 'synced') => void
  violation: (what: string) => void
  /** Set MEDLEDGER_SIM_TRACE to follow every machine input and output of a replayed seed. */
  trace?: (line: string) => void
}

/**
 * Where a crash strikes: between two events; at the next signature, after the snapshot reached
 * disk but before the guard did; after the guard but before the message left; or right after a
 * precommit left (the node is then locked, and must still be after the restart).
 */
export type CrashPoint = 'between-events' | 'after-snapshot' | 'after-guard' | 'after-precommit'

/** What a node keeps on disk: it survives crashes. */
interface Persisted {
  commits: CommitRecord[]
  snapshot: ConsensusSnapshot | undefined
  /** Last signed (height, round, step) and what was signed there; flushed before a signature leaves. */
  guard: { height: number, round: number, step: number, content: string } | undefined
  /** Our signed messages of `ownHeight`: re-sent and re-fed after a restart. */
  own: Wire[]
  ownHeight: number
  evidence: Evidence[]
}

const FUTURE_BUFFER = 256
const SYNC_BATCH = 16
const PULL_BATCH = 64
const NEXT_HEIGHT_DELAY = 20
const STEP_OF = { propose: 0, prevote: 1, precommit: 2 } as const

export class SimNode {
  readonly id: number
  readonly key: NodeKey | null
  up = false
  readonly disk: Persisted = { commits: [], snapshot: undefined, guard: undefined, own: [], ownHeight: 0, evidence: [] }
  readonly stats = { decided: 0, synced: 0, guardRefusals: 0, restarts: 0 }
  /** (validator, height, round, kind) the machine was fed two different messages for: it must hold evidence. */
  readonly mustHaveEvidence = new Map<string, { validator: number }>()
  /** A crash waiting for the next signature: at that point rather than between events. */
  pendingCrash: CrashPoint | undefined = undefined

  protected readonly env: SimEnv
  protected machine!: ConsensusStateMachine
  protected epoch = 0
  private height = 1
  private log = new Map<string, Wire>()
  private future: Wire[] = []
  private fedFirst = new Map<string, string>()
  private highestSeen = 0
  private syncScheduled = false
  private startPending = false
  private lastProgress = ''
  private readonly indexByKey = new Map<Uint8Array, number>()
  private readonly indexByHex = new Map<string, number>()

  constructor (id: number, key: NodeKey | null, env: SimEnv) {
    this.id = id
    this.key = key
    this.env = env
    env.validators.forEach((k, i) => { this.indexByKey.set(k, i); this.indexByHex.set(hex(k), i) })
  }

  get currentHeight (): number { return this.height }
  get currentRound (): number { return this.machine.round }
  get currentStep (): string { return this.machine.step }
  get committedHeight (): number { return this.disk.commits.length }

  validatorIndex (pk: Uint8Array): number {
    return this.indexByKey.get(pk) ?? this.indexByHex.get(hex(pk)) ?? -1
  }

  /** Starts, or restarts from disk: the next undecided height, with the snapshot if it is of that height. */
  boot (): void {
    this.up = true
    this.epoch++
    this.height = this.disk.commits.length + 1
    this.machine = new ConsensusStateMachine({ self: this.key?.publicKey ?? null, timeouts: this.env.timeouts })
    this.log = new Map()
    this.future = []
    this.fedFirst = new Map()
    this.highestSeen = 0
    this.syncScheduled = false
    this.startPending = false
    const snapshot = this.disk.snapshot?.height === this.height ? this.disk.snapshot : undefined
    this.run(() => this.machine.startHeight(this.height, this.env.validators, snapshot))
    if (this.disk.ownHeight === this.height) for (const m of [...this.disk.own]) if (m.kind === 'proposal' || m.kind === 'vote') this.consider(m)
    this.tick(this.epoch)
  }

  crash (): void {
    this.up = false
    this.epoch++
    this.pendingCrash = undefined
  }

  restart (): void {
    this.stats.restarts++
    this.boot()
  }

  receive (from: number, msg: Wire): void {
    if (!this.up) return
    switch (msg.kind) {
      case 'proposal':
      case 'vote': {
        const ok = msg.kind === 'vote' ? verifyVote(msg.vote) : verifyProposal(msg.proposal)
        if (!ok) return
        const h = msg.kind === 'vote' ? msg.vote.height : msg.proposal.height
        if (h === this.height && !this.startPending) this.consider(msg)
        else if (h > this.height || (h === this.height && this.startPending)) {
          if (h <= this.height + 1 && this.future.length < FUTURE_BUFFER) this.future.push(msg)
          if (h > this.height) this.seeHeight(h, from)
        }
        return
      }
      case 'have':
        if (msg.height === this.height) {
          const missing: Wire[] = []
          for (const [k, m] of this.log) if (!msg.keys.has(k) && missing.push(m) >= PULL_BATCH) break
          for (const m of missing) this.env.send(this.id, from, m)
        } else if (msg.height < this.height) {
          this.env.send(this.id, from, { kind: 'sync-response', commits: this.disk.commits.slice(msg.height - 1, msg.height - 1 + SYNC_BATCH) })
        } else {
          this.seeHeight(msg.height, from)
        }
        return
      case 'sync-request':
        this.env.send(this.id, from, { kind: 'sync-response', commits: this.disk.commits.slice(msg.height - 1, msg.height - 1 + SYNC_BATCH) })
        return
      case 'sync-response':
        for (const c of msg.commits) {
          if (!this.up || c.height !== this.height) continue
          const problem = certificateProblem(c, this.env.validators)
          if (problem !== null) continue // a bad certificate proves nothing; Byzantine peers may send them
          this.stats.synced++
          this.commit(c, 'synced')
        }
    }
  }

  /** A consensus message of our height: into the gossip log, then into the machine. */
  private consider (msg: Wire & { kind: 'proposal' | 'vote' }): void {
    if (!this.up) return
    const indexOf = (pk: Uint8Array): number => this.validatorIndex(pk)
    const key = logKey(msg, indexOf)
    if (!this.log.has(key)) this.log.set(key, msg)
    this.noteFed(slotKey(msg, indexOf), msg)
    this.observe(msg)
    const input: ConsensusInput = msg.kind === 'vote'
      ? { type: 'vote', vote: msg.vote }
      : { type: 'proposal', proposal: msg.proposal, valid: isValidBlock(msg.proposal.blockHash, msg.proposal.height) }
    this.run(() => this.machine.handle(input), input)
  }

  /** A hook for subclasses: every consensus message of our height, before the machine sees it. */
  protected observe (_msg: Wire & { kind: 'proposal' | 'vote' }): void {}

  /** Records conflicting messages the machine was actually given, for the EVIDENCE check. */
  private noteFed (key: string, msg: Wire & { kind: 'proposal' | 'vote' }): void {
    if (this.machine.hasDecided) return
    const round = msg.kind === 'vote' ? msg.vote.round : msg.proposal.round
    if (round > this.machine.round + 1000) return
    const hash = msg.kind === 'vote' ? msg.vote.blockHash : msg.proposal.blockHash
    const content = hash === null ? 'nil' : hex(hash)
    const first = this.fedFirst.get(key)
    if (first === undefined) this.fedFirst.set(key, content)
    else if (first !== content) {
      const validator = msg.kind === 'vote' ? this.validatorIndex(msg.vote.validator) : this.validatorIndex(msg.proposal.proposer)
      this.mustHaveEvidence.set(`${this.height}:${key}`, { validator })
    }
  }

  /** Calls the machine, persists its snapshot (before anything is signed), then acts on the outputs. */
  private run (call: () => ConsensusOutput[], input?: ConsensusInput): void {
    const outs = call()
    this.disk.snapshot = this.machine.snapshot()
    if (this.key === null && outs.some(o => o.type === 'vote' || o.type === 'propose')) this.env.violation(`observer ${this.id} was asked to sign`)
    if (this.env.trace !== undefined && (input === undefined || input.type === 'timeout' || outs.length > 0)) {
      this.env.trace(`t=${this.env.now().toFixed(1)} node ${this.id} h=${this.height} r=${this.machine.round} ${this.machine.step} lock=${this.disk.snapshot.lockedRound} valid=${this.disk.snapshot.validRound}${this.disk.snapshot.validHash !== null ? '/' + hex(this.disk.snapshot.validHash).slice(0, 6) : ''} <- ${describeInput(input)} -> ${outs.map(describeOutput).join(', ')}`)
    }
    for (const o of outs) {
      if (!this.up) return
      switch (o.type) {
        case 'schedule': {
          if (o.height !== this.height) break
          const epoch = this.epoch
          this.env.at(this.env.now() + o.durationMs, () => {
            const input: ConsensusInput = { type: 'timeout', kind: o.kind, height: o.height, round: o.round }
            if (this.up && this.epoch === epoch && this.height === o.height) this.run(() => this.machine.handle(input), input)
          })
          break
        }
        case 'propose': {
          if (o.height !== this.height) break
          const hash = o.blockHash ?? blockFor(o.height, o.round, this.validatorIndex(this.key!.publicKey)).hash
          const msg = this.emitProposal(o.height, o.round, o.validRound, hash)
          if (msg !== undefined) this.consider(msg)
          break
        }
        case 'vote': {
          if (o.height !== this.height) break
          const msg = this.emitVote(o.voteType, o.height, o.round, o.blockHash)
          if (msg !== undefined) this.consider(msg)
          break
        }
        case 'evidence':
          this.disk.evidence.push(o.evidence)
          break
        case 'commit':
          if (o.height !== this.height) break
          this.stats.decided++
          this.commit({ height: o.height, round: o.round, blockHash: o.blockHash, precommits: o.precommits }, 'decided')
          break
      }
    }
  }

  private commit (c: CommitRecord, how: 'decided' | 'synced'): void {
    const problem = certificateProblem(c, this.env.validators)
    if (problem !== null) this.env.violation(`node ${this.id} ${how} height ${c.height} with a bad certificate: ${problem}`)
    this.disk.commits.push(c)
    this.env.onCommit(this, c, how)
    this.height = c.height + 1
    this.log = new Map()
    this.fedFirst = new Map()
    // Like Tendermint's timeout_commit: a short pause before the next height (without it one
    // validator alone would decide heights forever within a single event).
    if (this.startPending) return
    this.startPending = true
    const epoch = this.epoch
    this.env.at(this.env.now() + NEXT_HEIGHT_DELAY, () => { if (this.up && this.epoch === epoch) this.startNextHeight() })
  }

  private startNextHeight (): void {
    this.startPending = false
    this.run(() => this.machine.startHeight(this.height, this.env.validators))
    const buffered = this.future
    this.future = []
    for (const m of buffered) {
      if (m.kind === 'vote' && m.vote.height === this.height) this.consider(m)
      if (m.kind === 'proposal' && m.proposal.height === this.height) this.consider(m)
    }
  }

  // ------------------------------------------------------------ signing (honest; Byzantine overrides)

  protected emitProposal (height: number, round: number, validRound: number, hash: Uint8Array): Wire & { kind: 'proposal' } | undefined {
    if (!this.guard(height, round, STEP_OF.propose, hex(hash) + `/${validRound}`)) return undefined
    const msg = { kind: 'proposal' as const, proposal: signProposal(this.key!, height, round, validRound, hash) }
    return this.afterSigning(msg)
  }

  protected emitVote (type: VoteType, height: number, round: number, hash: Uint8Array | null): Wire & { kind: 'vote' } | undefined {
    const step = type === VoteType.PREVOTE ? STEP_OF.prevote : STEP_OF.precommit
    if (!this.guard(height, round, step, hash === null ? 'nil' : hex(hash))) return undefined
    const msg = { kind: 'vote' as const, vote: signVote(this.key!, this.validatorIndex(this.key!.publicKey), type, height, round, hash) }
    return this.afterSigning(msg)
  }

  /** The double-sign guard: never below the last signed (h, r, step); at it, only the identical message. */
  private guard (height: number, round: number, step: number, content: string): boolean {
    const g = this.disk.guard
    if (g !== undefined) {
      const cmp = height !== g.height ? height - g.height : round !== g.round ? round - g.round : step - g.step
      if (cmp < 0 || (cmp === 0 && content !== g.content)) { this.stats.guardRefusals++; return false }
    }
    if (this.pendingCrash === 'after-snapshot') { this.crash(); return false }
    this.disk.guard = { height, round, step, content }
    return true
  }

  private afterSigning<M extends Wire & { kind: 'proposal' | 'vote' }> (msg: M): M | undefined {
    this.keepOwn(msg)
    this.env.onSigned(this, msg)
    if (this.pendingCrash === 'after-guard') { this.crash(); return undefined }
    this.broadcast(msg)
    if (this.pendingCrash === 'after-precommit' && msg.kind === 'vote' && msg.vote.type === VoteType.PRECOMMIT && msg.vote.blockHash !== null) {
      this.crash()
      return undefined
    }
    return msg
  }

  /** Persists one of our signed messages of the current height (for re-sending and re-feeding). */
  protected keepOwn (msg: Wire & { kind: 'proposal' | 'vote' }): void {
    const h = msg.kind === 'vote' ? msg.vote.height : msg.proposal.height
    if (this.disk.ownHeight !== h) { this.disk.own = []; this.disk.ownHeight = h }
    if (!this.disk.own.includes(msg)) this.disk.own.push(msg)
  }

  protected peers (): number[] {
    return this.env.nodeIds.filter(id => id !== this.id)
  }

  protected broadcast (msg: Wire): void {
    for (const to of this.env.nodeIds) if (to !== this.id) this.env.send(this.id, to, msg)
  }

  // ------------------------------------------------------------ gossip

  private seeHeight (h: number, from: number): void {
    if (h > this.highestSeen) this.highestSeen = h
    if (this.syncScheduled) return
    this.syncScheduled = true
    const epoch = this.epoch
    // A short grace: a peer one height ahead usually just decided first and its precommits are on the way.
    this.env.at(this.env.now() + 2 * this.env.gossipMs, () => {
      if (!this.up || this.epoch !== epoch) return
      this.syncScheduled = false
      if (this.highestSeen > this.height) this.env.send(this.id, from, { kind: 'sync-request', height: this.height })
    })
  }

  /** Periodically: re-send our latest messages when stalled (gossip is lossy), and pull from one peer. */
  private tick (epoch: number): void {
    if (!this.up || this.epoch !== epoch) return
    const progress = `${this.height}/${this.machine.round}/${this.machine.step}`
    if (progress === this.lastProgress) this.resendLatest()
    this.lastProgress = progress
    const peers = this.peers()
    if (peers.length > 0) this.env.send(this.id, this.env.prng.pick(peers), { kind: 'have', height: this.height, keys: new Set(this.log.keys()) })
    this.env.at(this.env.now() + this.env.gossipMs * (0.75 + this.env.prng.next() / 2), () => this.tick(epoch))
  }

  protected resendLatest (): void {
    if (this.disk.ownHeight !== this.height) return
    const latest = new Map<string, Wire>()
    for (const m of this.disk.own) latest.set(m.kind === 'vote' ? `v${m.vote.type}` : 'p', m)
    for (const m of latest.values()) this.broadcast(m)
  }

  describe (): string {
    return `node ${this.id}${this.up ? '' : ' (down)'} h=${this.height} r=${this.machine?.round} ${this.machine?.step} committed=${this.committedHeight} log=${this.log.size}`
  }
}

function short (h: Uint8Array | null): string {
  return h === null ? 'nil' : hex(h).slice(0, 6)
}

function describeInput (i: ConsensusInput | undefined): string {
  if (i === undefined) return 'start'
  if (i.type === 'timeout') return `timeout ${i.kind} r${i.round}`
  if (i.type === 'vote') return `${i.vote.type === VoteType.PREVOTE ? 'prevote' : 'precommit'} r${i.vote.round} ${short(i.vote.blockHash)} from ${hex(i.vote.validator).slice(0, 4)}`
  return `proposal r${i.proposal.round} vr${i.proposal.validRound} ${short(i.proposal.blockHash)}${i.valid ? '' : ' (invalid)'}`
}

function describeOutput (o: ConsensusOutput): string {
  switch (o.type) {
    case 'schedule': return `schedule ${o.kind} r${o.round}`
    case 'propose': return `PROPOSE r${o.round} vr${o.validRound} ${o.blockHash === null ? 'new' : short(o.blockHash)}`
    case 'vote': return `${o.voteType === VoteType.PREVOTE ? 'PREVOTE' : 'PRECOMMIT'} r${o.round} ${short(o.blockHash)}`
    case 'commit': return `COMMIT r${o.round} ${short(o.blockHash)}`
    case 'evidence': return `evidence ${o.evidence.kind}`
  }
}
