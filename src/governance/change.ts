import { decodeCbor, encodeCbor, readBytes, readList, readText, readTuple, readUint, CodecError, CodecErrorCode } from '../encoding/cbor.ts'
import { PUBLIC_KEY_LENGTH, SIGNATURE_LENGTH, type Signer } from '../crypto/ed25519.ts'
import { bytesCompare, toHex } from '../encoding/bytes.ts'
import type { SignatureCheck } from '../crypto/verify-pool.ts'
import { DOMAIN } from '../chain/hashing.ts'
import { ChainError, ChainErrorCode } from '../chain/errors.ts'
import { LIMITS } from '../chain/limits.ts'
import type { ValidatorSet } from '../chain/validator-set.ts'
import { MemberSet } from '../chain/member-set.ts'

/** The record type that carries a governance change (of the validator set or the member set). */
export const GOVERNANCE_RECORD_TYPE = 'governance.validator-set'
export const GOVERNANCE_CONTENT_TYPE = 'application/vnd.medledger.governance+cbor'

/**
 * add / remove: one validator; add-member / remove-member: one member (a hospital that writes
 * without voting). Both kinds follow the same rules: a quorum of the validators in force approves,
 * the change takes effect governanceDelay blocks after inclusion, one change at a time.
 */
export type GovernanceAction = 'add' | 'remove' | 'add-member' | 'remove-member'
export const GOVERNANCE_ACTIONS: readonly GovernanceAction[] = ['add', 'remove', 'add-member', 'remove-member']

/** Whether a change is of the member set (else of the validator set). */
export function isMemberChange (c: { action: GovernanceAction }): boolean {
  return c.action === 'add-member' || c.action === 'remove-member'
}

/** The set operation a change makes on the set it targets. */
export function setAction (c: { action: GovernanceAction }): 'add' | 'remove' {
  return c.action === 'add' || c.action === 'add-member' ? 'add' : 'remove'
}

/** One validator or member added or removed, approved by a quorum of the validators in force. */
export interface ValidatorSetChange {
  action: GovernanceAction
  name: string
  publicKey: Uint8Array
  /** Distinguishes repeated proposals of the same change (e.g. remove, add, remove again). */
  nonce: number
  approvals: Array<{ validator: Uint8Array, signature: Uint8Array }>
}

// Codes 1 and 2 predate members: their changes keep their bytes (and approvals).
const ACTION_CODE: Record<GovernanceAction, number> = { add: 1, remove: 2, 'add-member': 3, 'remove-member': 4 }

export function changeSignBytes (chainId: string, c: Pick<ValidatorSetChange, 'action' | 'name' | 'publicKey' | 'nonce'>): Uint8Array {
  return encodeCbor([DOMAIN.governance, chainId, ACTION_CODE[c.action], c.name, c.publicKey, c.nonce])
}

export function encodeChange (c: ValidatorSetChange): Uint8Array {
  const approvals = [...c.approvals].sort((a, b) => bytesCompare(a.validator, b.validator))
  return encodeCbor([ACTION_CODE[c.action], c.name, c.publicKey, c.nonce, approvals.map(a => [a.validator, a.signature])])
}

export function decodeChange (bytes: Uint8Array): ValidatorSetChange {
  const f = readTuple(decodeCbor(bytes, 64 * 1024), 5, 'governance change')
  const code = readUint(f[0], 'governance.action')
  const action = GOVERNANCE_ACTIONS[code - 1]
  if (action === undefined) throw new CodecError(CodecErrorCode.SCHEMA, 'governance.action: expected 1 (add), 2 (remove), 3 (add-member) or 4 (remove-member)', { field: 'governance.action' })
  return {
    action,
    name: readText(f[1], 'governance.name', 64),
    publicKey: readBytes(f[2], 'governance.publicKey', { length: PUBLIC_KEY_LENGTH }),
    nonce: readUint(f[3], 'governance.nonce'),
    approvals: readList(f[4], LIMITS.validators, 'governance.approvals').map(a => {
      const [validator, signature] = readTuple(a, 2, 'governance.approval')
      return { validator: readBytes(validator, 'governance.approval.validator', { length: PUBLIC_KEY_LENGTH }), signature: readBytes(signature, 'governance.approval.signature', { length: SIGNATURE_LENGTH }) }
    })
  }
}

/** Adds this validator's approval to a change (what `medledger governance approve` does). */
export function approveChange (chainId: string, c: ValidatorSetChange, signer: Signer): ValidatorSetChange {
  const others = c.approvals.filter(a => toHex(a.validator) !== toHex(signer.publicKey))
  return { ...c, approvals: [...others, { validator: signer.publicKey, signature: signer.sign(changeSignBytes(chainId, c)) }] }
}

/**
 * The rules a change must satisfy against the sets in force where it is included (validators and
 * members); returns the approval signature checks. A peer has one role: a validator is never a
 * member at the same time (remove it from one set before adding it to the other).
 */
export function checkChange (chainId: string, c: ValidatorSetChange, set: ValidatorSet, members: MemberSet = MemberSet.EMPTY): SignatureCheck[] {
  const bad = (why: string): ChainError => new ChainError(ChainErrorCode.GOVERNANCE_INVALID, `governance: ${why}`)
  if (c.name.length === 0) throw bad(`the ${isMemberChange(c) ? 'member' : 'validator'} needs a name`)
  if (c.action === 'add' && set.has(c.publicKey)) throw bad('the validator to add is in the set already')
  if (c.action === 'add' && members.has(c.publicKey)) throw bad('the validator to add is a member: remove it as a member first')
  if (c.action === 'remove' && !set.has(c.publicKey)) throw bad('the validator to remove is not in the set')
  if (c.action === 'remove' && set.size === 1) throw bad('the last validator cannot be removed')
  if (c.action === 'add' && set.size >= LIMITS.validators) throw bad('the validator set is full')
  if (c.action === 'add-member' && members.has(c.publicKey)) throw bad('the member to add is a member already')
  if (c.action === 'add-member' && set.has(c.publicKey)) throw bad('the member to add is a validator: remove it as a validator first')
  if (c.action === 'add-member' && members.size >= LIMITS.members) throw bad('the member set is full')
  if (c.action === 'remove-member' && !members.has(c.publicKey)) throw bad('the member to remove is not a member')
  const seen = new Set<string>()
  const message = changeSignBytes(chainId, c)
  for (const a of c.approvals) {
    const id = toHex(a.validator)
    if (!set.has(a.validator)) throw bad('approved by a non-validator')
    if (seen.has(id)) throw bad('a validator approved twice')
    seen.add(id)
  }
  // [REJECT] A quorum of the current validators must approve, as for a block.
  if (seen.size < set.quorum) throw bad(`${seen.size} approvals, a quorum is ${set.quorum}`)
  return c.approvals.map(a => ({ publicKey: a.validator, message, signature: a.signature }))
}
