import { equals } from 'uint8arrays/equals'
import { compare } from 'uint8arrays/compare'

export { equals as bytesEqual, compare as bytesCompare }

export function toHex (b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')
}

/** Parses lower- or upper-case hex of an optional exact byte length; throws a plain Error on bad input. */
export function fromHex (s: string, length?: number): Uint8Array {
  if (typeof s !== 'string' || !/^([0-9a-fA-F]{2})*$/.test(s)) throw new Error('not a hex string')
  const b = plain(Buffer.from(s, 'hex'))
  if (length !== undefined && b.length !== length) throw new Error(`expected ${length} bytes of hex, got ${b.length}`)
  return b
}

export function toBase64 (b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64')
}

/** Decodes padded base64; throws a plain Error on anything else. */
export function fromBase64 (s: string): Uint8Array {
  if (!isBase64Form(s)) throw new Error('not padded base64')
  return plain(Buffer.from(s, 'base64'))
}

function isBase64Form (s: string): boolean {
  return typeof s === 'string' && s.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(s)
}

/**
 * The Buffer's bytes as a plain Uint8Array view (values compare and print as Uint8Array). A small
 * Buffer made from a string may share a slab with others; the view keeps that slab alive, which
 * costs less than copying every field of every record.
 */
function plain (b: Buffer): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength)
}

/** Decodes base64 the caller has already checked with isCanonicalBase64 (the API's hot path). */
export function fromCheckedBase64 (s: string): Uint8Array {
  return plain(Buffer.from(s, 'base64'))
}

/** Big-endian 8-byte key for a height: keeps LevelDB keys in height order (appends are cheap). */
export function heightKey (height: number): Uint8Array {
  const k = new Uint8Array(8)
  new DataView(k.buffer).setBigUint64(0, BigInt(height))
  return k
}

export function heightFromKey (k: Uint8Array): number {
  return Number(new DataView(k.buffer, k.byteOffset, 8).getBigUint64(0))
}

/** True for padded base64 that decodes and re-encodes to itself (what the API accepts). */
export function isCanonicalBase64 (s: string): boolean {
  // Node's decoder skips what is not base64; only a canonical, padded string survives the round trip.
  return typeof s === 'string' && s.length % 4 === 0 && Buffer.from(s, 'base64').toString('base64') === s
}
