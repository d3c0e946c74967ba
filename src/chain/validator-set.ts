import { encodeCbor } from '../encoding/cbor.ts'
import { bytesCompare, bytesEqual, toHex } from '../encoding/bytes.ts'
import { sha256 } from '../crypto/hash.ts'
import { DOMAIN } from './hashing.ts'
import { proposerIndex, quorum } from './quorum.ts'

export interface Member {
  name: string
  publicKey: Uint8Array
  /** Optional X25519 key that records are encrypted to (docs/privacy.md); not part of the set hash. */
  encryptionKey?: Uint8Array
}

/** Members sorted by public key, their keys, and each key's (hex) index; a key listed twice throws. */
export function sortedByKey (list: readonly Member[], what: string): { members: Member[], keys: Uint8Array[], index: Map<string, number> } {
  const members = [...list].sort((a, b) => bytesCompare(a.publicKey, b.publicKey))
  const index = new Map<string, number>()
  members.forEach((m, i) => {
    const id = toHex(m.publicKey)
    if (index.has(id)) throw new Error(`${what} ${m.name} is listed twice`)
    index.set(id, i)
  })
  return { members, keys: members.map(m => m.publicKey), index }
}

/** The validators in force at some height: sorted by public key, equal voting power. */
export class ValidatorSet {
  readonly members: readonly Member[]
  readonly keys: readonly Uint8Array[]
  readonly hash: Uint8Array
  readonly quorum: number
  private readonly index: Map<string, number>

  constructor (members: Member[]) {
    if (members.length === 0) throw new Error('a validator set needs at least one validator')
    ;({ members: this.members, keys: this.keys, index: this.index } = sortedByKey(members, 'validator'))
    this.hash = sha256(encodeCbor([DOMAIN.validatorSet, this.members.map(m => m.publicKey)]))
    this.quorum = quorum(this.members.length)
  }

  get size (): number {
    return this.members.length
  }

  indexOf (publicKey: Uint8Array): number {
    return this.index.get(toHex(publicKey)) ?? -1
  }

  has (publicKey: Uint8Array): boolean {
    return this.index.has(toHex(publicKey))
  }

  nameOf (publicKey: Uint8Array): string | undefined {
    const i = this.indexOf(publicKey)
    return i < 0 ? undefined : this.members[i].name
  }

  proposer (height: number, round: number): Uint8Array {
    return this.keys[proposerIndex(height, round, this.keys.length)]
  }

  isProposer (publicKey: Uint8Array, height: number, round: number): boolean {
    return bytesEqual(this.proposer(height, round), publicKey)
  }

  /** A new set with one validator added or removed (governance changes one at a time). */
  with (change: { action: 'add' | 'remove', member: Member }): ValidatorSet {
    if (change.action === 'add') return new ValidatorSet([...this.members, change.member])
    return new ValidatorSet(this.members.filter(m => !bytesEqual(m.publicKey, change.member.publicKey)))
  }
}
