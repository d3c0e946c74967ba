import type { SignatureCheck } from '../crypto/verify-pool.ts'
import type { Block } from './types.ts'
import type { ValidatorSet } from './validator-set.ts'
import { authorsOf, MemberSet, type Authors } from './member-set.ts'

/**
 * Which validator set is in force at a height. Certificates at height h are checked against
 * `at(h)`, so observers and syncing nodes follow set changes from genesis on. A schedule that
 * follows governance also checks a block's governance records (`checkBlock`) and learns the
 * changes of each block made final (`observe`).
 */
export interface ValidatorSchedule {
  at: (height: number) => ValidatorSet
  /** The members in force at a height (hospitals that write without voting); none if absent. */
  membersAt?: (height: number) => MemberSet
  /** Governance rules of a block against the schedule; throws ChainError, returns signature checks. */
  checkBlock?: (chainId: string, block: Block) => SignatureCheck[]
  /** Learns the changes a verified, final block carries (idempotent per height). */
  observe?: (block: Block) => void
}

/** The schedule of a chain whose set never changed since genesis. */
export function fixedSchedule (set: ValidatorSet): ValidatorSchedule {
  return { at: () => set }
}

/**
 * Who may author a batch of the block at `height`: a validator or a member in force there.
 * `validators`: the set at that height when the caller holds it already.
 */
export function authorsAt (schedule: ValidatorSchedule, height: number, validators: ValidatorSet = schedule.at(height)): Authors {
  return authorsOf(validators, schedule.membersAt?.(height) ?? MemberSet.EMPTY)
}
