import type { ProposalHeader, Vote } from '../chain/types.ts'
import { bytesEqual } from '../encoding/bytes.ts'

/**
 * The message log of one height, split by round. The paper evaluates its upon rules against "a
 * local message log" holding every message received, and counts "2f+1 ⟨PREVOTE, h, r, id(v)⟩" as
 * distinct senders of a prevote for v. So a validator that equivocates counts towards each value
 * it voted for: counting only its first vote would let it hide a polka from the honest nodes that
 * happened to receive its other vote first, and the ones locked on that polka could then never
 * win them over (a liveness failure the simulation found). This stays safe: two 2f+1 sets
 * intersect in f+1 validators, at least one of them honest, and an honest one never votes twice.
 *
 * Memory stays bounded: each validator's first vote per (round, type) is always kept, plus at
 * most MAX_EXTRA_VALUES further values; a round keeps at most MAX_PROPOSALS distinct proposals.
 */

export const MAX_EXTRA_VALUES = 8
export const MAX_PROPOSALS = 8

const NIL_KEY = 'nil' // never a bytesKey: those of hashes are 32 chars long

/** A map key for bytes: one char per byte, much cheaper than hex; never shown to anyone. */
export function bytesKey (b: Uint8Array): string {
  return String.fromCharCode.apply(null, b as unknown as number[])
}

export function valueKey (hash: Uint8Array | null): string {
  return hash === null ? NIL_KEY : bytesKey(hash)
}

export function sameValue (a: Uint8Array | null, b: Uint8Array | null): boolean {
  if (a === null || b === null) return a === b
  return bytesEqual(a, b)
}

export type AddResult =
  | { kind: 'added' }
  | { kind: 'duplicate' }
  /** A second value from the same validator: equivocation. `counted` says whether it was kept. */
  | { kind: 'conflict', first: Vote, counted: boolean }

/** The votes of one type in one round, counted per value by distinct validators. */
export class VoteTally {
  private readonly first = new Map<number, Vote>()
  private readonly byValue = new Map<string, Map<number, Vote>>()
  private readonly extraValues = new Map<number, number>()

  add (validatorIndex: number, vote: Vote): AddResult {
    const key = valueKey(vote.blockHash)
    let voters = this.byValue.get(key)
    if (voters?.has(validatorIndex) === true) return { kind: 'duplicate' }
    const first = this.first.get(validatorIndex)
    if (first !== undefined) {
      const extra = this.extraValues.get(validatorIndex) ?? 0
      if (extra >= MAX_EXTRA_VALUES) return { kind: 'conflict', first, counted: false }
      this.extraValues.set(validatorIndex, extra + 1)
    } else {
      this.first.set(validatorIndex, vote)
    }
    if (voters === undefined) { voters = new Map(); this.byValue.set(key, voters) }
    voters.set(validatorIndex, vote)
    return first === undefined ? { kind: 'added' } : { kind: 'conflict', first, counted: true }
  }

  /** Distinct validators that voted for `hash` (null: nil). */
  count (hash: Uint8Array | null): number {
    return this.byValue.get(valueKey(hash))?.size ?? 0
  }

  /** Distinct validators with any vote: the paper's "2f+1 ⟨..., *⟩". */
  get total (): number {
    return this.first.size
  }

  /** The votes of every value (nil excepted) that at least `q` distinct validators voted for. */
  quorumVotes (q: number): Vote[] {
    const out: Vote[] = []
    for (const [key, voters] of this.byValue) if (key !== NIL_KEY && voters.size >= q) out.push(...voters.values())
    return out
  }

  /** One vote per validator that voted for `hash`. */
  votesFor (hash: Uint8Array): Vote[] {
    return [...(this.byValue.get(valueKey(hash))?.values() ?? [])]
  }
}

export interface StoredProposal {
  header: ProposalHeader
  valid: boolean
}

/** Everything received for one round of the current height. */
export class RoundMessages {
  /** The round proposer's proposals, first first; more than one only if it equivocated. */
  readonly proposals: StoredProposal[] = []
  readonly prevotes = new VoteTally()
  readonly precommits = new VoteTally()
  /** Validators with any message in this round: the paper's f+1 round-skip rule (line 55) counts them. */
  readonly senders = new Set<number>()
}
