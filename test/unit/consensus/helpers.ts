import { sha256 } from '../../../src/crypto/hash.ts'
import { encodeCbor } from '../../../src/encoding/cbor.ts'
import { proposerIndex } from '../../../src/chain/quorum.ts'
import { VoteType, type ProposalHeader, type Vote } from '../../../src/chain/types.ts'
import type { NodeKey } from '../../../src/crypto/ed25519.ts'
import { ConsensusStateMachine, type ConsensusOutput, type TimeoutConfig } from '../../../src/consensus/state-machine.ts'
import { signProposalHeader, signVote, testValidators } from '../../helpers/fixtures.ts'

/** Short, distinct timeouts so an assertion on durationMs says which timeout and round it is. */
export const TIMEOUTS: TimeoutConfig = { proposeMs: 300, prevoteMs: 100, precommitMs: 200, deltaMs: 10 }

/** A stand-in block hash. */
export function value (label: string): Uint8Array {
  return sha256(encodeCbor(['test-value', label]))
}

type Out<T extends ConsensusOutput['type']> = Extract<ConsensusOutput, { type: T }>

export function only<T extends ConsensusOutput['type']> (outs: ConsensusOutput[], type: T): Array<Out<T>> {
  return outs.filter((o): o is Out<T> => o.type === type)
}

/** A validator set of n deterministic keys, with helpers that sign messages as any of them. */
export class Validators {
  readonly keys: NodeKey[]
  readonly publicKeys: Uint8Array[]

  constructor (n: number) {
    this.keys = testValidators(n)
    this.publicKeys = this.keys.map(k => k.publicKey)
  }

  get n (): number { return this.keys.length }

  proposerOf (height: number, round: number): number {
    return proposerIndex(height, round, this.n)
  }

  /** The machine of validator `i`, or an observer when i is null. */
  machine (i: number | null, timeouts = TIMEOUTS, maxRoundsAhead?: number): ConsensusStateMachine {
    return new ConsensusStateMachine({ self: i === null ? null : this.publicKeys[i], timeouts, maxRoundsAhead })
  }

  prevote (i: number, height: number, round: number, blockHash: Uint8Array | null): Vote {
    return signVote(this.keys[i], { type: VoteType.PREVOTE, height, round, blockHash })
  }

  precommit (i: number, height: number, round: number, blockHash: Uint8Array | null): Vote {
    return signVote(this.keys[i], { type: VoteType.PRECOMMIT, height, round, blockHash })
  }

  /** A proposal signed by the rightful proposer of (height, round) unless `by` says otherwise. */
  proposal (height: number, round: number, blockHash: Uint8Array, validRound = -1, by = this.proposerOf(height, round)): ProposalHeader {
    return signProposalHeader(this.keys[by], { height, round, validRound, blockHash })
  }
}

/** Feeds inputs one after the other and returns every output. */
export function feed (m: ConsensusStateMachine, inputs: Array<Vote | { proposal: ProposalHeader, valid?: boolean }>): ConsensusOutput[] {
  const out: ConsensusOutput[] = []
  for (const i of inputs) {
    if ('proposal' in i) out.push(...m.handle({ type: 'proposal', proposal: i.proposal, valid: i.valid ?? true }))
    else out.push(...m.handle({ type: 'vote', vote: i }))
  }
  return out
}
