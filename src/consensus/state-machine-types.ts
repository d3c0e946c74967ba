import type { Evidence, ProposalHeader, Vote, VoteType } from '../chain/types.ts'
import type { TimeoutConfig, TimeoutKind } from './timeouts.ts'
import { EXIT, spec, type ErrorTable } from '../errors.ts'

export type { TimeoutConfig, TimeoutKind } from './timeouts.ts'

/** The paper's step_p. Ordered: propose < prevote < precommit. */
export type ConsensusStep = 'propose' | 'prevote' | 'precommit'

export type ConsensusInput =
  /** Signature already verified by the caller; `valid` is the paper's valid(v), evaluated by the caller on the full block. */
  | { type: 'proposal', proposal: ProposalHeader, valid: boolean }
  /** Signature already verified by the caller. */
  | { type: 'vote', vote: Vote }
  /** A timeout the machine scheduled earlier has expired. */
  | { type: 'timeout', kind: TimeoutKind, height: number, round: number }

export type ConsensusOutput =
  /**
   * We are the proposer of (height, round). blockHash null: the caller builds a new block
   * (the paper's getValue()); otherwise it re-proposes that block (the paper's validValue).
   * The caller signs the ProposalHeader and feeds it back as an input.
   */
  | { type: 'propose', height: number, round: number, validRound: number, blockHash: Uint8Array | null }
  /** The caller persists the double-sign guard, signs, broadcasts and feeds the signed vote back. */
  | { type: 'vote', voteType: VoteType, height: number, round: number, blockHash: Uint8Array | null }
  /** The caller delivers { type: 'timeout', kind, height, round } after durationMs. */
  | { type: 'schedule', kind: TimeoutKind, height: number, round: number, durationMs: number }
  /** Decision: precommits holds the >= quorum precommits for blockHash at that round (the commit certificate). */
  | { type: 'commit', height: number, round: number, blockHash: Uint8Array, precommits: Vote[] }
  /** Two conflicting signed votes, or proposals, of one validator for the same (height, round, type). */
  | { type: 'evidence', evidence: Evidence }

/**
 * What must survive a restart for the height in progress. Plain data (numbers, strings, bytes):
 * encode it with the canonical codec. Persist it before any vote the same handle() call produced
 * is signed: a validator that forgets its lock after precommitting can break safety. `step` is
 * informative: a restore restarts `round` at its propose step.
 */
export interface ConsensusSnapshot {
  height: number
  round: number
  step: ConsensusStep
  lockedRound: number
  lockedHash: Uint8Array | null
  validRound: number
  validHash: Uint8Array | null
}

export interface ConsensusStateMachineOptions {
  /** Our public key; null for an observer, which never proposes or votes. */
  self: Uint8Array | null
  timeouts: TimeoutConfig
  /**
   * Messages for rounds further than this ahead of ours are not stored; only the highest such round
   * of each validator is remembered, for the round skip. Bounds memory against a Byzantine sender.
   */
  maxRoundsAhead?: number
}

export const ConsensusErrorCode = {
  INVALID_HEIGHT: 'CONSENSUS_INVALID_HEIGHT',
  INVALID_VALIDATOR_SET: 'CONSENSUS_INVALID_VALIDATOR_SET',
  INVALID_SNAPSHOT: 'CONSENSUS_INVALID_SNAPSHOT',
  INVALID_OPTIONS: 'CONSENSUS_INVALID_OPTIONS'
} as const

export const CONSENSUS_ERRORS: ErrorTable<typeof ConsensusErrorCode[keyof typeof ConsensusErrorCode]> = {
  [ConsensusErrorCode.INVALID_HEIGHT]: spec(500, EXIT.FAILURE, 'the state machine was asked for a height below 1'),
  [ConsensusErrorCode.INVALID_VALIDATOR_SET]: spec(500, EXIT.FAILURE, 'the validator set is empty, unsorted or malformed'),
  [ConsensusErrorCode.INVALID_SNAPSHOT]: spec(500, EXIT.FAILURE, 'a stored consensus snapshot does not hold together'),
  [ConsensusErrorCode.INVALID_OPTIONS]: spec(500, EXIT.FAILURE, 'the state machine\'s options are out of range')
}
