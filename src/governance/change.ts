import { decodeCbor, encodeCbor, readBytes, readList, readText, readTuple, readUint, CodecError, CodecErrorCode } from '../encoding/cbor.ts'
import { PUBLIC_KEY_LENGTH, SIGNATURE_LENGTH, type Signer } from '../crypto/ed25519.ts'
import { bytesCompare, toHex } from '../encoding/bytes.ts'
import type { SignatureCheck } from '../crypto/verify-pool.ts'
import { DOMAIN } from '../chain/hashing.ts'
import { ChainError, ChainErrorCode } from '../chain/errors.ts'
import { LIMITS } from '../chain/limits.ts'
import type { ValidatorSet } from '../chain/validator-set.ts'

/** The record type that carries a validator-set change. */
export const GOVERNANCE_RECORD_TYPE = 'governance.validator-set'
export const GOVERNANCE_CONTENT_TYPE = 'application/vnd.medledger.governance+cbor'

export type GovernanceAction = 'add' | 'remove'

/** One validator added or removed, approved by a quorum of the validators in force. */
export interface ValidatorSetChange {
  action: GovernanceAction
  name: string
  publicKey: Uint8Array
  /** Distinguishes repeated proposals of the same change (e.g. remove, add, remove again). */
  nonce: number
  approvals: Array<{ validator: Uint8Array, signature: Uint8Array }>
}

const ACTION_CODE: Record<GovernanceAction, number> = { add: 1, remove: 2 }

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
  const action = code === 1 ? 'add' : code === 2 ? 'remove' : undefined
  if (action === undefined) throw new CodecError(CodecErrorCode.SCHEMA, 'governance.action: expected 1 (add) or 2 (remove)', { field: 'governance.action' })
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
 * The rules a change must satisfy against the set in force where it is included; returns the
 * approval signature checks.
 */
export function checkChange (chainId: string, c: ValidatorSetChange, set: ValidatorSet): SignatureCheck[] {
  const bad = (why: string): ChainError => new ChainError(ChainErrorCode.GOVERNANCE_INVALID, `governance: ${why}`)
  if (c.name.length === 0) throw bad('the validator needs a name')
  if (c.action === 'add' && set.has(c.publicKey)) throw bad('the validator to add is in the set already')
  if (c.action === 'remove' && !set.has(c.publicKey)) throw bad('the validator to remove is not in the set')
  if (c.action === 'remove' && set.size === 1) throw bad('the last validator cannot be removed')
  if (c.action === 'add' && set.size >= LIMITS.validators) throw bad('the validator set is full')
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
