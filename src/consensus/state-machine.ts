import { VoteType, type Evidence, type ProposalHeader, type Vote } from '../chain/types.ts'
import { oneHonest, proposerIndex, quorum } from '../chain/quorum.ts'
import { bytesEqual } from '../encoding/bytes.ts'
import { MedledgerError } from '../errors.ts'
import { duration, validateTimeouts, type TimeoutConfig, type TimeoutKind } from './timeouts.ts'
import { bytesKey, MAX_PROPOSALS, RoundMessages, sameValue } from './state-machine-log.ts'
import { checkSnapshot, checkValidatorSet, isHash, isRound } from './state-machine-checks.ts'
import {
  ConsensusErrorCode,
  type ConsensusInput,
  type ConsensusOutput,
  type ConsensusSnapshot,
  type ConsensusStateMachineOptions,
  type ConsensusStep
} from './state-machine-types.ts'

export * from './state-machine-types.ts'

/**
 * Tendermint consensus, Algorithm 1 of Buchman, Kwon, Milosevic, "The latest gossip on BFT
 * consensus" (arXiv:1807.04938v3). Line numbers in comments ("L22") are the algorithm's line
 * numbers in that paper. The copy in tendermint/spec (spec/consensus/consensus-paper/consensus.tex)
 * has the same numbering up to L54 but states the round skip as two rules (2f+1 prevotes, 2f+1
 * precommits of a higher round) where the published paper has one, L55: f+1 messages of a higher
 * round; this machine implements L55, which covers both.
 *
 * Pure and deterministic: no clock, network, disk or keys. The caller verifies signatures and
 * valid(v), signs what this machine asks it to sign, feeds its own signed messages back as inputs
 * (the paper's broadcast reaches the sender too), and delivers the timeouts it schedules.
 *
 * Where this departs from, or makes concrete, the pseudocode, and why it stays safe:
 * - The proposer also schedules timeoutPropose (L21 schedules it for the others only). The paper's
 *   broadcast is instantaneous; here the caller builds, signs and feeds back the block, which can
 *   fail (a double-sign guard refusing after a restart, a failing mempool), and without the
 *   timeout the proposer would then wait in the propose step for ever. It only adds a nil prevote.
 * - Memory is bounded: messages more than maxRoundsAhead rounds ahead are not stored; f+1
 *   validators whose highest message lies beyond that window move us to the (f+1)-th highest of
 *   those rounds (L55 applied to "a message in round >= r" rather than "in round r"). Round
 *   changes never matter to safety.
 * - Equivocation: a second different vote (or proposal) of one validator for one (h, r, type)
 *   gives one evidence output, and is counted towards its own value as the paper's message log
 *   would (state-machine-log.ts says why counting only the first vote loses liveness and why
 *   counting both is safe), up to a bound per validator.
 * - Decision (L49-54) stops the machine for that height; the caller calls startHeight(h+1) with
 *   the validator set in force there (L52-54 as a separate call, so the set can change).
 * - A restart restores lockedRound/lockedValue/validRound/validValue and restarts the persisted
 *   round at its propose step (see startHeight); the caller's double-sign guard refuses anything
 *   that conflicts with what was signed before the crash.
 */
export class ConsensusStateMachine {
  private readonly self: Uint8Array | null
  private readonly timeouts: TimeoutConfig
  private readonly maxRoundsAhead: number

  private started = false
  private h = 0
  private r = 0
  private s: ConsensusStep = 'propose'
  private decided = false
  private lockedValue: Uint8Array | null = null
  private lockedRound = -1
  private validValue: Uint8Array | null = null
  private validRound = -1

  private validators: Uint8Array[] = []
  private readonly indexOf = new Map<string, number>()
  private selfIndex = -1
  private rounds = new Map<number, RoundMessages>()
  /** Validator index -> its highest round seen beyond the window (see maxRoundsAhead). */
  private farRounds = new Map<number, number>()
  private readonly evidenceGiven = new Set<string>()

  // "for the first time" guards of L34, L36 and L47, for the current round
  private prevoteTimeoutScheduled = false
  private polkaSeen = false
  private precommitTimeoutScheduled = false

  constructor (opts: ConsensusStateMachineOptions) {
    this.self = opts.self
    this.timeouts = validateTimeouts({ ...opts.timeouts })
    this.maxRoundsAhead = opts.maxRoundsAhead ?? 1000
    if (!Number.isInteger(this.maxRoundsAhead) || this.maxRoundsAhead < 1) {
      throw new MedledgerError(ConsensusErrorCode.INVALID_OPTIONS, 'maxRoundsAhead must be a positive integer', { maxRoundsAhead: this.maxRoundsAhead })
    }
  }

  get height (): number { return this.h }
  get round (): number { return this.r }
  get step (): ConsensusStep { return this.s }
  /** True once this height is decided; inputs are then ignored until the next startHeight. */
  get hasDecided (): boolean { return this.decided }
  /** True when we hold a key in this height's validator set (so we propose and vote). */
  get isValidator (): boolean { return this.selfIndex >= 0 }

  snapshot (): ConsensusSnapshot {
    return {
      height: this.h,
      round: this.r,
      step: this.s,
      lockedRound: this.lockedRound,
      lockedHash: this.lockedValue === null ? null : this.lockedValue.slice(),
      validRound: this.validRound,
      validHash: this.validValue === null ? null : this.validValue.slice()
    }
  }

  /**
   * The prevotes behind every polka this node holds: for the locked value at lockedRound, the valid
   * value at validRound, and any value that 2f+1 prevoted in any round of this height. A validator
   * that missed them needs the 2f+1 before it may prevote a re-proposal of that value (L28), and
   * the node that proposes it may not hold them all any more (a crash loses the received votes,
   * the snapshot keeps only the valid round): whoever saw the polka re-sends it. Found by the
   * driver simulation (seed 6226: the only other holder of a down validator's prevote had seen the
   * polka but not the proposal, so it had no valid value and re-sent nothing). Bounded by 2f+1
   * votes per value with a polka, a polka at most per round and value.
   */
  polkaPrevotes (): Vote[] {
    const votes = new Set<Vote>()
    for (const [round, value] of [[this.lockedRound, this.lockedValue], [this.validRound, this.validValue]] as const) {
      if (round < 0 || value === null) continue
      for (const v of this.rounds.get(round)?.prevotes.votesFor(value) ?? []) votes.add(v)
    }
    const q = quorum(this.validators.length)
    for (const r of this.rounds.values()) for (const v of r.prevotes.quorumVotes(q)) votes.add(v)
    return [...votes]
  }

  /**
   * Starts consensus for `height` with the validator set in force there (sorted, distinct public
   * keys): L10 / L52-54, StartRound(0). A snapshot of this same height restores the round, lock and
   * valid value after a restart (the round restarts at its propose step); a snapshot of another
   * height is ignored.
   */
  startHeight (height: number, validators: Uint8Array[], snapshot?: ConsensusSnapshot): ConsensusOutput[] {
    if (!Number.isSafeInteger(height) || height < 1) throw new MedledgerError(ConsensusErrorCode.INVALID_HEIGHT, 'heights start at 1', { height })
    checkValidatorSet(validators)
    this.started = true
    this.h = height
    this.decided = false
    this.validators = validators.map(v => v.slice())
    this.indexOf.clear()
    this.validators.forEach((v, i) => this.indexOf.set(bytesKey(v), i))
    this.selfIndex = this.self === null ? -1 : (this.indexOf.get(bytesKey(this.self)) ?? -1)
    this.rounds = new Map()
    this.farRounds = new Map()
    this.evidenceGiven.clear()
    // L53: reset lockedRound, lockedValue, validRound and validValue and empty the message log
    this.lockedValue = null
    this.lockedRound = -1
    this.validValue = null
    this.validRound = -1

    const out: ConsensusOutput[] = []
    if (snapshot !== undefined && snapshot.height === height) {
      checkSnapshot(snapshot)
      this.lockedRound = snapshot.lockedRound
      this.lockedValue = snapshot.lockedHash === null ? null : snapshot.lockedHash.slice()
      this.validRound = snapshot.validRound
      this.validValue = snapshot.validHash === null ? null : snapshot.validHash.slice()
      // The round restarts from its propose step whatever step was reached: the snapshot is
      // persisted before signing, so a crash can leave a step "passed" whose vote never left the
      // node, and resuming past it could leave a bare quorum waiting for that vote for ever. Votes
      // re-derived here for a step already signed are the caller's double-sign guard's to refuse
      // (it re-sends what it signed instead); the restored lock keeps them safe regardless.
      this.startRound(snapshot.round, out)
    } else {
      this.startRound(0, out)
    }
    this.applyRoundRules(out)
    return out
  }

  handle (input: ConsensusInput): ConsensusOutput[] {
    const out: ConsensusOutput[] = []
    // Messages of other heights are the caller's to buffer; after a decision, the height is over.
    if (!this.started || this.decided) return out
    switch (input.type) {
      case 'proposal': this.onProposal(input.proposal, input.valid, out); break
      case 'vote': this.onVote(input.vote, out); break
      case 'timeout': this.onTimeout(input.kind, input.height, input.round, out); break
    }
    return out
  }

  private onProposal (p: ProposalHeader, valid: boolean, out: ConsensusOutput[]): void {
    if (p.height !== this.h || !isRound(p.round) || !Number.isSafeInteger(p.validRound) || p.validRound < -1) return
    if (!isHash(p.blockHash)) return
    // L22/L28/L36/L49 only count a PROPOSAL "from proposer(h_p, r)"
    const idx = proposerIndex(this.h, p.round, this.validators.length)
    if (!bytesEqual(p.proposer, this.validators[idx])) return
    if (p.round > this.r + this.maxRoundsAhead) { this.noteFarRound(idx, p.round, out); return }
    const rm = this.roundMessages(p.round)
    if (rm.proposals.some(x => x.header.validRound === p.validRound && bytesEqual(x.header.blockHash, p.blockHash))) return // duplicate
    // A second block from one proposer for one (h, r) is evidence. Every version is kept (within
    // a bound), as in the paper's log: L28, L36 and L49 may need the one others acted on.
    const other = rm.proposals.find(x => !bytesEqual(x.header.blockHash, p.blockHash))
    if (other !== undefined) this.giveEvidence(`p:${p.round}`, { kind: 'proposal', a: other.header, b: p }, out)
    if (rm.proposals.length >= MAX_PROPOSALS) return
    rm.proposals.push({ header: p, valid })
    rm.senders.add(idx)
    this.afterMessage(p.round, out)
  }

  private onVote (v: Vote, out: ConsensusOutput[]): void {
    if (v.height !== this.h || !isRound(v.round)) return
    if (v.type !== VoteType.PREVOTE && v.type !== VoteType.PRECOMMIT) return
    if (v.blockHash !== null && !isHash(v.blockHash)) return
    const idx = this.indexOf.get(bytesKey(v.validator))
    if (idx === undefined) return // not in this height's validator set
    if (v.round > this.r + this.maxRoundsAhead) { this.noteFarRound(idx, v.round, out); return }
    const rm = this.roundMessages(v.round)
    const added = (v.type === VoteType.PREVOTE ? rm.prevotes : rm.precommits).add(idx, v)
    if (added.kind === 'duplicate') return
    if (added.kind === 'conflict') {
      this.giveEvidence(`v:${v.type}:${v.round}:${idx}`, { kind: 'vote', a: added.first, b: v }, out)
      if (!added.counted) return
    }
    rm.senders.add(idx)
    this.afterMessage(v.round, out)
  }

  private onTimeout (kind: TimeoutKind, height: number, round: number, out: ConsensusOutput[]): void {
    if (height !== this.h || round !== this.r) return
    if (kind === 'propose') {
      // L57-60 OnTimeoutPropose
      if (this.s !== 'propose') return
      this.vote(VoteType.PREVOTE, null, out)
      this.s = 'prevote'
    } else if (kind === 'prevote') {
      // L61-64 OnTimeoutPrevote
      if (this.s !== 'prevote') return
      this.vote(VoteType.PRECOMMIT, null, out)
      this.s = 'precommit'
    } else {
      // L65-67 OnTimeoutPrecommit
      this.startRound(this.r + 1, out)
    }
    this.applyRoundRules(out)
  }

  /** Re-evaluates the upon rules a new message of round `round` can enable. */
  private afterMessage (round: number, out: ConsensusOutput[]): void {
    if (this.tryDecide(round, out)) return
    // L55: f+1 messages of a higher round: StartRound(round). Every earlier round that reached
    // f+1 was acted on when it did, so only the round that just grew can newly qualify.
    if (round > this.r && this.rounds.get(round)!.senders.size >= oneHonest(this.validators.length)) {
      this.startRound(round, out)
    }
    this.applyRoundRules(out)
  }

  /** L49-54: PROPOSAL(h, r, v, *) from proposer(h, r) and 2f+1 PRECOMMIT(h, r, id(v)), in any round r. */
  private tryDecide (round: number, out: ConsensusOutput[]): boolean {
    const rm = this.rounds.get(round)
    if (rm === undefined) return false
    const q = quorum(this.validators.length)
    // L50: if valid(v); an invalid v with a quorum of precommits means more than f are faulty
    const p = rm.proposals.find(x => x.valid && rm.precommits.count(x.header.blockHash) >= q)
    if (p === undefined) return false
    this.decided = true // L51
    out.push({ type: 'commit', height: this.h, round, blockHash: p.header.blockHash, precommits: rm.precommits.votesFor(p.header.blockHash) })
    return true
  }

  /** Fires the rules about the current round (L22-48) until none applies. */
  private applyRoundRules (out: ConsensusOutput[]): void {
    while (!this.decided && this.applyOneRoundRule(out)) { /* until a fixpoint */ }
  }

  private applyOneRoundRule (out: ConsensusOutput[]): boolean {
    const n = this.validators.length
    const q = quorum(n)
    const rm = this.rounds.get(this.r)
    const proposals = rm?.proposals ?? []
    const prevotes = rm?.prevotes
    if (this.s === 'propose') {
      for (const proposal of proposals) {
        const { blockHash: v, validRound: vr } = proposal.header
        if (vr === -1) {
          // L22-27
          const accept = proposal.valid && (this.lockedRound === -1 || sameValue(this.lockedValue, v))
          this.vote(VoteType.PREVOTE, accept ? v : null, out)
          this.s = 'prevote'
          return true
        }
        if (vr >= 0 && vr < this.r && (this.rounds.get(vr)?.prevotes.count(v) ?? 0) >= q) {
          // L28-33
          const accept = proposal.valid && (this.lockedRound <= vr || sameValue(this.lockedValue, v))
          this.vote(VoteType.PREVOTE, accept ? v : null, out)
          this.s = 'prevote'
          return true
        }
      }
    }
    const polka = this.polkaSeen || this.s === 'propose' ? undefined : proposals.find(p => p.valid && prevotes!.count(p.header.blockHash) >= q)
    if (polka !== undefined) {
      // L36-43, for the first time in this round
      this.polkaSeen = true
      const v = polka.header.blockHash
      if (this.s === 'prevote') {
        this.lockedValue = v
        this.lockedRound = this.r
        this.vote(VoteType.PRECOMMIT, v, out)
        this.s = 'precommit'
      }
      this.validValue = v
      this.validRound = this.r
      return true
    }
    if (this.s === 'prevote' && prevotes !== undefined && prevotes.count(null) >= q) {
      // L44-46
      this.vote(VoteType.PRECOMMIT, null, out)
      this.s = 'precommit'
      return true
    }
    if (this.s === 'prevote' && !this.prevoteTimeoutScheduled && prevotes !== undefined && prevotes.total >= q) {
      // L34-35
      this.prevoteTimeoutScheduled = true
      this.schedule('prevote', out)
      return true
    }
    if (!this.precommitTimeoutScheduled && rm !== undefined && rm.precommits.total >= q) {
      // L47-48
      this.precommitTimeoutScheduled = true
      this.schedule('precommit', out)
      return true
    }
    return false
  }

  /** L11-21 StartRound(round). */
  private startRound (round: number, out: ConsensusOutput[]): void {
    this.r = round
    this.s = 'propose'
    this.prevoteTimeoutScheduled = false
    this.polkaSeen = false
    this.precommitTimeoutScheduled = false
    for (const [idx, far] of this.farRounds) if (far <= round + this.maxRoundsAhead) this.farRounds.delete(idx)
    const proposer = proposerIndex(this.h, round, this.validators.length)
    if (proposer === this.selfIndex) {
      // L15-19: re-propose validValue with its validRound, else a new value (getValue())
      out.push({ type: 'propose', height: this.h, round, validRound: this.validRound, blockHash: this.validValue === null ? null : this.validValue.slice() })
    }
    // L21 (for the proposer too: see the class comment)
    this.schedule('propose', out)
  }

  /** Beyond the window: remember each validator's highest round, and skip when f+1 are ahead. */
  private noteFarRound (validatorIndex: number, round: number, out: ConsensusOutput[]): void {
    if ((this.farRounds.get(validatorIndex) ?? -1) >= round) return
    this.farRounds.set(validatorIndex, round)
    const need = oneHonest(this.validators.length)
    if (this.farRounds.size < need) return
    const highest = [...this.farRounds.values()].sort((a, b) => b - a)
    this.startRound(highest[need - 1], out)
    this.applyRoundRules(out)
  }

  private roundMessages (round: number): RoundMessages {
    let rm = this.rounds.get(round)
    if (rm === undefined) { rm = new RoundMessages(); this.rounds.set(round, rm) }
    return rm
  }

  private vote (voteType: VoteType, blockHash: Uint8Array | null, out: ConsensusOutput[]): void {
    if (this.selfIndex < 0) return // observers and non-members never vote
    out.push({ type: 'vote', voteType, height: this.h, round: this.r, blockHash: blockHash === null ? null : blockHash.slice() })
  }

  private schedule (kind: TimeoutKind, out: ConsensusOutput[]): void {
    out.push({ type: 'schedule', kind, height: this.h, round: this.r, durationMs: duration(kind, this.r, this.timeouts) })
  }

  private giveEvidence (key: string, evidence: Evidence, out: ConsensusOutput[]): void {
    if (this.evidenceGiven.has(key)) return // one piece of evidence per offence is enough
    this.evidenceGiven.add(key)
    out.push({ type: 'evidence', evidence })
  }
}
