import { bytesCompare } from '../encoding/bytes.ts'
import { MedledgerError } from '../errors.ts'
import { ConsensusErrorCode, type ConsensusSnapshot } from './state-machine-types.ts'

/** Argument checks of the state machine: what the caller hands it must make sense before it counts. */

export function isRound (r: number): boolean {
  return Number.isSafeInteger(r) && r >= 0
}

export function isHash (h: unknown): h is Uint8Array {
  return h instanceof Uint8Array && h.length === 32
}

export function checkValidatorSet (validators: Uint8Array[]): void {
  if (!Array.isArray(validators) || validators.length === 0) {
    throw new MedledgerError(ConsensusErrorCode.INVALID_VALIDATOR_SET, 'the validator set is empty')
  }
  for (let i = 0; i < validators.length; i++) {
    if (!(validators[i] instanceof Uint8Array) || validators[i].length !== 32) {
      throw new MedledgerError(ConsensusErrorCode.INVALID_VALIDATOR_SET, 'a validator key is not 32 bytes', { index: i })
    }
    // Every node must compute the same proposer V[(h + r) mod N]: one order, no duplicates.
    if (i > 0 && bytesCompare(validators[i - 1], validators[i]) >= 0) {
      throw new MedledgerError(ConsensusErrorCode.INVALID_VALIDATOR_SET, 'validator keys must be sorted and distinct', { index: i })
    }
  }
}

export function checkSnapshot (s: ConsensusSnapshot): void {
  const bad = (why: string): never => { throw new MedledgerError(ConsensusErrorCode.INVALID_SNAPSHOT, why, { height: s.height, round: s.round }) }
  if (!isRound(s.round)) bad('round must be a non-negative integer')
  if (s.step !== 'propose' && s.step !== 'prevote' && s.step !== 'precommit') bad('unknown step')
  for (const [round, hash] of [[s.lockedRound, s.lockedHash], [s.validRound, s.validHash]] as const) {
    if (!Number.isSafeInteger(round) || round < -1 || round > s.round) bad('locked and valid rounds must lie in [-1, round]')
    if ((round === -1) !== (hash === null)) bad('a hash is present exactly when its round is not -1')
    if (hash !== null && !isHash(hash)) bad('hashes are 32 bytes')
  }
}
