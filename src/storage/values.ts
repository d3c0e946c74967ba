import { LIMITS } from '../chain/limits.ts'
import { HASH_LENGTH } from '../crypto/hash.ts'
import { heightFromKey, heightKey } from '../encoding/bytes.ts'
import { StorageError, StorageErrorCode } from './errors.ts'

/** Fixed-width value layouts of the buckets (buckets.ts names which bucket holds which). */

export interface StoredLocation { height: number, batchIndex: number, recordIndex: number }

/** Double-sign guard: step 0 propose, 1 prevote, 2 precommit. */
export interface LastSigned { height: number, round: number, step: number }

export interface Head { height: number, hash: Uint8Array }

// The 12-byte location keeps u16 batch and record indexes; the protocol's limits must fit.
if (LIMITS.batchesPerBlock > 0xffff || LIMITS.recordsPerBatch > 0xffff) {
  throw new Error('storage: record locations hold u16 indexes; LIMITS.batchesPerBlock and recordsPerBatch must stay below 65536')
}

const LOCATION_LENGTH = 12
const HEAD_LENGTH = 8 + HASH_LENGTH
const LAST_SIGNED_LENGTH = 13

function view (b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength)
}

function corrupt (what: string, b: Uint8Array | undefined, length: number): StorageError {
  return new StorageError(StorageErrorCode.CORRUPT, `stored ${what} has ${b?.length ?? 0} bytes, expected ${length}`, { what })
}

export function encodeLocation (height: number, batchIndex: number, recordIndex: number): Uint8Array {
  // DataView would wrap silently; a block over the protocol limits must not be indexed wrongly.
  if (batchIndex > 0xffff || recordIndex > 0xffff) throw new RangeError(`record location ${height}/${batchIndex}/${recordIndex} exceeds the u16 indexes`)
  const b = new Uint8Array(LOCATION_LENGTH)
  const v = view(b)
  v.setBigUint64(0, BigInt(height))
  v.setUint16(8, batchIndex)
  v.setUint16(10, recordIndex)
  return b
}

export function decodeLocation (b: Uint8Array): StoredLocation {
  if (b.length !== LOCATION_LENGTH) throw corrupt('record location', b, LOCATION_LENGTH)
  const v = view(b)
  return { height: Number(v.getBigUint64(0)), batchIndex: v.getUint16(8), recordIndex: v.getUint16(10) }
}

export function encodeHead (h: Head): Uint8Array {
  const b = new Uint8Array(HEAD_LENGTH)
  b.set(heightKey(h.height), 0)
  b.set(h.hash, 8)
  return b
}

export function decodeHead (b: Uint8Array): Head {
  if (b.length !== HEAD_LENGTH) throw corrupt('head pointer', b, HEAD_LENGTH)
  return { height: heightFromKey(b), hash: new Uint8Array(b.subarray(8)) }
}

export function encodeLastSigned (ls: LastSigned): Uint8Array {
  const b = new Uint8Array(LAST_SIGNED_LENGTH)
  const v = view(b)
  v.setBigUint64(0, BigInt(ls.height))
  v.setUint32(8, ls.round)
  v.setUint8(12, ls.step)
  return b
}

export function decodeLastSigned (b: Uint8Array): LastSigned {
  if (b.length !== LAST_SIGNED_LENGTH) throw corrupt('last-signed guard', b, LAST_SIGNED_LENGTH)
  const v = view(b)
  return { height: Number(v.getBigUint64(0)), round: v.getUint32(8), step: v.getUint8(12) }
}

/** Lexicographic order on (height, round, step): negative when a < b. */
export function compareLastSigned (a: LastSigned, b: LastSigned): number {
  return a.height - b.height || a.round - b.round || a.step - b.step
}

export function isValidLastSigned (ls: LastSigned): boolean {
  return Number.isSafeInteger(ls.height) && ls.height >= 0 &&
    Number.isInteger(ls.round) && ls.round >= 0 && ls.round <= 0xffffffff &&
    (ls.step === 0 || ls.step === 1 || ls.step === 2)
}

/** Committed evidence: the including block's height, then the evidence's canonical bytes. */
export function encodeCommittedEvidence (height: number, evidenceBytes: Uint8Array): Uint8Array {
  const b = new Uint8Array(8 + evidenceBytes.length)
  b.set(heightKey(height), 0)
  b.set(evidenceBytes, 8)
  return b
}

export function splitCommittedEvidence (b: Uint8Array): { height: number, evidenceBytes: Uint8Array } {
  if (b.length <= 8) throw corrupt('committed evidence', b, 9)
  return { height: heightFromKey(b), evidenceBytes: b.subarray(8) }
}

export function encodeRecordCount (n: number): Uint8Array {
  const b = new Uint8Array(8)
  view(b).setBigUint64(0, BigInt(n))
  return b
}

export function decodeRecordCount (b: Uint8Array): number {
  if (b.length !== 8) throw corrupt('record count', b, 8)
  const n = view(b).getBigUint64(0)
  if (n > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error('record count out of range')
  return Number(n)
}

export function encodeSchemaVersion (v: number): Uint8Array {
  const b = new Uint8Array(4)
  view(b).setUint32(0, v)
  return b
}

export function decodeSchemaVersion (b: Uint8Array): number {
  if (b.length !== 4) throw corrupt('schema version', b, 4)
  return view(b).getUint32(0)
}
