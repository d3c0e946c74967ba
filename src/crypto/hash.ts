import { createHash, hash as oneShot } from 'node:crypto'

export const HASH_LENGTH = 32
export const ZERO_HASH = new Uint8Array(HASH_LENGTH)

const toBytes = (d: Buffer): Uint8Array => new Uint8Array(d.buffer, d.byteOffset, d.byteLength)

/** SHA-256 of the concatenation of `parts`. */
export function sha256 (...parts: Uint8Array[]): Uint8Array {
  // The one-shot form skips the Hash object: about a third faster on the small inputs hashed
  // per record (ids, Merkle nodes).
  if (parts.length === 1) return toBytes(oneShot('sha256', parts[0], 'buffer'))
  const h = createHash('sha256')
  for (const p of parts) h.update(p)
  return toBytes(h.digest())
}

let scratch = new Uint8Array(256)

/** SHA-256 of one prefix byte followed by `a` and `b` (Merkle leaves and nodes), without a Hash object. */
export function sha256Prefixed (prefix: number, a: Uint8Array, b?: Uint8Array): Uint8Array {
  const n = 1 + a.length + (b?.length ?? 0)
  if (n > scratch.length) scratch = new Uint8Array(Math.max(n, scratch.length * 2))
  scratch[0] = prefix
  scratch.set(a, 1)
  if (b !== undefined) scratch.set(b, 1 + a.length)
  return toBytes(oneShot('sha256', scratch.subarray(0, n), 'buffer'))
}
