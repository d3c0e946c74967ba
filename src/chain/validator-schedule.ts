import type { ValidatorSet } from './validator-set.ts'

/**
 * Which validator set is in force at a height. Certificates at height h are checked against
 * `at(h)`, so observers and syncing nodes follow set changes from genesis on.
 */
export interface ValidatorSchedule {
  at: (height: number) => ValidatorSet
}

/** The schedule of a chain whose set never changed since genesis. */
export function fixedSchedule (set: ValidatorSet): ValidatorSchedule {
  return { at: () => set }
}
