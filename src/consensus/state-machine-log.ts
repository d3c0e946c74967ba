import type { ProposalHeader, Vote } from '../chain/types.ts'
import { bytesEqual, toHex } from '../encoding/bytes.ts'

/**
 * The message log of one height, split by round (the paper keeps "a local message log" and
 * evaluates its upon rules against it). Only the first message of each validator for a
 * (round, type) counts; a later different one is equivocation and is returned to the caller
 * for evidence, never counted. Votes are keyed by validator index in the height's set.
 */

const NIL_KEY = 'nil'

export function valueKey (hash: Uint8Array | null): string {
  return hash === null ? NIL_KEY : toHex(hash)
}

export function sameValue (a: Uint8Array | null, b: Uint8Array | null): boolean {
  if (a === null || b === null) return a === b
  return bytesEqual(a, b)
}

export type AddResult =
  | { kind: 'added' }
  | { kind: 'duplicate' }
  | { kind: 'conflict', first: Vote }

/** The votes of one type in one round, with a running count per value for the 2f+1 rules. */
export class VoteTally {
  private readonly byValidator = new Map<number, Vote>()
  private readonly counts = new Map<string, number>()

  add (validatorIndex: number, vote: Vote): AddResult {
    const first = this.byValidator.get(validatorIndex)
    if (first !== undefined) {
      return sameValue(first.blockHash, vote.blockHash) ? { kind: 'duplicate' } : { kind: 'conflict', first }
    }
    this.byValidator.set(validatorIndex, vote)
    const key = valueKey(vote.blockHash)
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1)
    return { kind: 'added' }
  }

  /** Validators whose counted vote is for `hash` (null: nil). */
  count (hash: Uint8Array | null): number {
    return this.counts.get(valueKey(hash)) ?? 0
  }

  /** Validators with any counted vote: the paper's "2f+1 ⟨..., *⟩". */
  get total (): number {
    return this.byValidator.size
  }

  votesFor (hash: Uint8Array): Vote[] {
    const out: Vote[] = []
    for (const v of this.byValidator.values()) if (v.blockHash !== null && bytesEqual(v.blockHash, hash)) out.push(v)
    return out
  }
}

export interface StoredProposal {
  header: ProposalHeader
  valid: boolean
}

/** Everything received for one round of the current height. */
export class RoundMessages {
  proposal: StoredProposal | undefined = undefined
  readonly prevotes = new VoteTally()
  readonly precommits = new VoteTally()
  /** Validators with any message in this round: the paper's f+1 round-skip rule (line 55) counts them. */
  readonly senders = new Set<number>()
}
