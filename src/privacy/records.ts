import { randomBytes } from 'node:crypto'
import { decodeCbor, encodeCbor, readBytes, readList, readText, readTuple, readUint, type Cbor } from '../encoding/cbor.ts'
import { LIMITS } from '../chain/limits.ts'
import type { MedRecord } from '../chain/types.ts'
import { PrivacyError, PrivacyErrorCode } from './errors.ts'
import { X25519_KEY_LENGTH } from '../crypto/x25519.ts'
import type { WrappedKey } from './envelope.ts'

/**
 * The privacy records (docs/privacy.md, "Records"): ordinary records whose payload is a small
 * canonical CBOR array. The chain does not interpret them; every node's privacy index does, in
 * chain order, so every node reaches the same view of grants, shreds and delivery keys.
 */
export const RECORD_TYPES = {
  grant: 'access.grant',
  revoke: 'access.revoke',
  read: 'access.read',
  shred: 'key.shred',
  announce: 'key.announce',
  release: 'key.release'
} as const

export const CONTENT_TYPES = {
  grant: 'application/vnd.medledger.grant+cbor',
  revoke: 'application/vnd.medledger.revoke+cbor',
  read: 'application/vnd.medledger.access+cbor',
  shred: 'application/vnd.medledger.shred+cbor',
  announce: 'application/vnd.medledger.key+cbor',
  release: 'application/vnd.medledger.release+cbor'
} as const

/** Types only the node itself writes (through the privacy API), never a client's raw payload. */
export function isReservedType (type: string): boolean {
  return type.startsWith('access.') || type.startsWith('key.') || type.startsWith('patient.')
}

/** The subject of records about no patient (key announcements). */
export const NO_SUBJECT = new Uint8Array(32)

export const MAX_READER_CHARS = 128
export const MAX_REASON_CHARS = 256
export const MAX_GRANT_TYPES = 32

export interface GrantPayload {
  /** Ed25519 key of the hospital (validator) allowed to read. */
  grantee: Uint8Array
  /** Record types the grant covers; empty covers every type. */
  types: string[]
  /** ms since the epoch after which the grant lapses; 0 = until revoked. */
  notAfter: number
  /** SHA-256 of the patient's consent document kept off-chain, or empty. */
  consentHash: Uint8Array
}

export interface AccessPayload {
  recordId: Uint8Array
  /** Who at the reading hospital asked (a staff pseudonym, a system name), or "". */
  reader: string
  /** Random: makes each read its own record even within one millisecond. */
  requestId: Uint8Array
}

export interface ShredPayload { recordId: Uint8Array, reason: string }

type Unsigned = Omit<MedRecord, 'author'>

function version1 (f: Cbor[], what: string): void {
  if (readUint(f[0], `${what}.version`) !== 1) throw new Error(`unsupported ${what} version`)
}

function decodeWith<T> (what: string, bytes: Uint8Array, fn: (v: Cbor) => T): T {
  try {
    return fn(decodeCbor(bytes, LIMITS.payloadBytes))
  } catch (err) {
    throw new PrivacyError(PrivacyErrorCode.RECORD_MALFORMED, `malformed ${what} payload: ${(err as Error).message}`)
  }
}

export function grantRecord (subject: Uint8Array, g: GrantPayload, timestamp: number): Unsigned {
  return { type: RECORD_TYPES.grant, subject, contentType: CONTENT_TYPES.grant, payload: encodeCbor([1, g.grantee, g.types, g.notAfter, g.consentHash]), timestamp }
}

export function decodeGrant (bytes: Uint8Array): GrantPayload {
  return decodeWith('grant', bytes, v => {
    const f = readTuple(v, 5, 'grant')
    version1(f, 'grant')
    const types = readList(f[2], MAX_GRANT_TYPES, 'grant.types').map((t, i) => readText(t, `grant.types[${i}]`, LIMITS.recordTypeChars))
    const consentHash = readBytes(f[4], 'grant.consentHash', { max: 32 })
    if (consentHash.length !== 0 && consentHash.length !== 32) throw new Error('grant.consentHash: 0 or 32 bytes')
    return { grantee: readBytes(f[1], 'grant.grantee', { length: 32 }), types, notAfter: readUint(f[3], 'grant.notAfter'), consentHash }
  })
}

export function revokeRecord (subject: Uint8Array, grantee: Uint8Array, timestamp: number): Unsigned {
  return { type: RECORD_TYPES.revoke, subject, contentType: CONTENT_TYPES.revoke, payload: encodeCbor([1, grantee]), timestamp }
}

export function decodeRevoke (bytes: Uint8Array): { grantee: Uint8Array } {
  return decodeWith('revoke', bytes, v => {
    const f = readTuple(v, 2, 'revoke')
    version1(f, 'revoke')
    return { grantee: readBytes(f[1], 'revoke.grantee', { length: 32 }) }
  })
}

export function accessRecord (subject: Uint8Array, recordId: Uint8Array, reader: string, timestamp: number): Unsigned {
  if (reader.length > MAX_READER_CHARS) throw new PrivacyError(PrivacyErrorCode.RECORD_MALFORMED, `reader is at most ${MAX_READER_CHARS} characters`)
  return { type: RECORD_TYPES.read, subject, contentType: CONTENT_TYPES.read, payload: encodeCbor([1, recordId, reader, new Uint8Array(randomBytes(16))]), timestamp }
}

export function decodeAccess (bytes: Uint8Array): AccessPayload {
  return decodeWith('access', bytes, v => {
    const f = readTuple(v, 4, 'access')
    version1(f, 'access')
    return { recordId: readBytes(f[1], 'access.recordId', { length: 32 }), reader: readText(f[2], 'access.reader', MAX_READER_CHARS), requestId: readBytes(f[3], 'access.requestId', { length: 16 }) }
  })
}

export function shredRecord (subject: Uint8Array, recordId: Uint8Array, reason: string, timestamp: number): Unsigned {
  if (reason.length > MAX_REASON_CHARS) throw new PrivacyError(PrivacyErrorCode.RECORD_MALFORMED, `reason is at most ${MAX_REASON_CHARS} characters`)
  return { type: RECORD_TYPES.shred, subject, contentType: CONTENT_TYPES.shred, payload: encodeCbor([1, recordId, reason]), timestamp }
}

export function decodeShred (bytes: Uint8Array): ShredPayload {
  return decodeWith('shred', bytes, v => {
    const f = readTuple(v, 3, 'shred')
    version1(f, 'shred')
    return { recordId: readBytes(f[1], 'shred.recordId', { length: 32 }), reason: readText(f[2], 'shred.reason', MAX_REASON_CHARS) }
  })
}

export function announceRecord (deliveryKey: Uint8Array, timestamp: number): Unsigned {
  return { type: RECORD_TYPES.announce, subject: NO_SUBJECT, contentType: CONTENT_TYPES.announce, payload: encodeCbor([1, deliveryKey]), timestamp }
}

export function decodeAnnounce (bytes: Uint8Array): { deliveryKey: Uint8Array } {
  return decodeWith('key announcement', bytes, v => {
    const f = readTuple(v, 2, 'announce')
    version1(f, 'announce')
    return { deliveryKey: readBytes(f[1], 'announce.deliveryKey', { length: X25519_KEY_LENGTH }) }
  })
}

/**
 * A key release: the custodian (the record's author) wraps the record's data key to a grantee's
 * delivery key, as an envelope recipient would be (same KEK and associated data, bound to the
 * released record's chain id, type, subject and author).
 */
export interface ReleasePayload { recordId: Uint8Array, wrap: WrappedKey }

export function releaseRecord (subject: Uint8Array, recordId: Uint8Array, wrap: WrappedKey, timestamp: number): Unsigned {
  return { type: RECORD_TYPES.release, subject, contentType: CONTENT_TYPES.release, payload: encodeCbor([1, recordId, wrap.node, wrap.deliveryKey, wrap.ephemeral, wrap.wrapped]), timestamp }
}

export function decodeRelease (bytes: Uint8Array): ReleasePayload {
  return decodeWith('key release', bytes, v => {
    const f = readTuple(v, 6, 'release')
    version1(f, 'release')
    return {
      recordId: readBytes(f[1], 'release.recordId', { length: 32 }),
      wrap: {
        node: readBytes(f[2], 'release.node', { length: 32 }),
        deliveryKey: readBytes(f[3], 'release.deliveryKey', { length: X25519_KEY_LENGTH }),
        ephemeral: readBytes(f[4], 'release.ephemeral', { length: X25519_KEY_LENGTH }),
        wrapped: readBytes(f[5], 'release.wrapped', { length: 48 })
      }
    }
  })
}
