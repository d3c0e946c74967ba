import { encodeCbor } from '../encoding/cbor.ts'
import { bytesEqual, toHex } from '../encoding/bytes.ts'
import { sha256 } from '../crypto/hash.ts'
import { DOMAIN } from './hashing.ts'
import { sortedByKey, type Member, type ValidatorSet } from './validator-set.ts'

/**
 * The members in force at some height: hospitals that author and sign their own batches but never
 * propose or vote. Admitted by genesis or governance, like validators; may be empty. Sorted by
 * public key, so the set (and its hash) does not depend on the order changes arrived in.
 */
export class MemberSet {
  static readonly EMPTY = new MemberSet([])

  readonly members: readonly Member[]
  readonly keys: readonly Uint8Array[]
  private readonly index: Map<string, number>
  #hash: Uint8Array | undefined

  constructor (members: readonly Member[]) {
    ({ members: this.members, keys: this.keys, index: this.index } = sortedByKey(members, 'member'))
  }

  get size (): number { return this.members.length }

  has (publicKey: Uint8Array): boolean { return this.index.has(toHex(publicKey)) }

  nameOf (publicKey: Uint8Array): string | undefined {
    const i = this.index.get(toHex(publicKey))
    return i === undefined ? undefined : this.members[i].name
  }

  /**
   * SHA-256 of the sorted public keys (docs/protocol.md, "Members"). Not in the block header yet:
   * kept so a later header version can commit to it the way it commits to the validator set.
   */
  get hash (): Uint8Array {
    this.#hash ??= sha256(encodeCbor([DOMAIN.memberSet, [...this.keys]]))
    return this.#hash
  }

  /** A new set with one member added or removed (governance changes one at a time). */
  with (change: { action: 'add' | 'remove', member: Member }): MemberSet {
    if (change.action === 'add') return new MemberSet([...this.members, change.member])
    return new MemberSet(this.members.filter(m => !bytesEqual(m.publicKey, change.member.publicKey)))
  }
}

/** Who may author a batch at some height: a validator or a member in force there. */
export interface Authors {
  has: (publicKey: Uint8Array) => boolean
}

export function authorsOf (validators: ValidatorSet, members: MemberSet): Authors {
  if (members.size === 0) return validators
  return { has: (publicKey) => validators.has(publicKey) || members.has(publicKey) }
}
