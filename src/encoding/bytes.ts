import { equals } from 'uint8arrays/equals'
import { compare } from 'uint8arrays/compare'
import { toString } from 'uint8arrays/to-string'
import { fromString } from 'uint8arrays/from-string'

export { equals as bytesEqual, compare as bytesCompare }

export function toHex (b: Uint8Array): string {
  return toString(b, 'base16')
}

/** Parses lower- or upper-case hex of an optional exact byte length; throws a plain Error on bad input. */
export function fromHex (s: string, length?: number): Uint8Array {
  if (typeof s !== 'string' || !/^([0-9a-fA-F]{2})*$/.test(s)) throw new Error('not a hex string')
  const b = fromString(s.toLowerCase(), 'base16')
  if (length !== undefined && b.length !== length) throw new Error(`expected ${length} bytes of hex, got ${b.length}`)
  return b
}

export function toBase64 (b: Uint8Array): string {
  return toString(b, 'base64pad')
}

export function fromBase64 (s: string): Uint8Array {
  return fromString(s, 'base64pad')
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
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s) || s.length % 4 !== 0) return false
  try {
    return toBase64(fromBase64(s)) === s
  } catch {
    return false
  }
}
