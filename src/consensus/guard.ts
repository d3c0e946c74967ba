import type { LastSigned } from '../storage/index.ts'

/** Steps in signing order within a round. */
export enum SignStep {
  PROPOSE = 0,
  PREVOTE = 1,
  PRECOMMIT = 2
}

/**
 * The double-sign guard's rule: a validator signs only for a (height, round, step) strictly after
 * the last one it signed, which was flushed to disk before that signature left the node. So even
 * after a crash and restart it never signs two different messages for one (height, round, step).
 */
export function mayNotSign (last: LastSigned | undefined, height: number, round: number, step: SignStep): boolean {
  if (last === undefined) return false
  if (height !== last.height) return height < last.height
  if (round !== last.round) return round < last.round
  return step <= last.step
}
