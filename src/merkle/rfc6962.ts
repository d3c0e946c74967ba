import { sha256, sha256Prefixed } from '../crypto/hash.ts'
import { bytesEqual } from '../encoding/bytes.ts'

/**
 * RFC 6962 (and RFC 9162 section 2.1) Merkle trees: leaf = SHA-256(0x00 || d),
 * node = SHA-256(0x01 || left || right), split at the largest power of two below n, and the
 * empty tree hashes to SHA-256(""). Inclusion and consistency proofs follow RFC 9162 2.1.3 and
 * 2.1.4, so any outside verifier can check them.
 */
export function leafHash (data: Uint8Array): Uint8Array {
  return sha256Prefixed(0, data)
}

export function nodeHash (left: Uint8Array, right: Uint8Array): Uint8Array {
  return sha256Prefixed(1, left, right)
}

export const EMPTY_ROOT = sha256(new Uint8Array(0))

/** Largest power of two strictly less than n (n >= 2). */
function split (n: number): number {
  let k = 1
  while (k * 2 < n) k *= 2
  return k
}

/** Root over leaf hashes (already hashed with leafHash). Iterative, no recursion on large trees. */
export function rootFromLeafHashes (leaves: Uint8Array[]): Uint8Array {
  if (leaves.length === 0) return EMPTY_ROOT
  // Pairing left to right level by level, carrying an odd last node up, gives the same tree
  // as splitting at the largest power of two.
  let level = leaves
  while (level.length > 1) {
    const next: Uint8Array[] = []
    for (let i = 0; i + 1 < level.length; i += 2) next.push(nodeHash(level[i], level[i + 1]))
    if (level.length % 2 === 1) next.push(level[level.length - 1])
    level = next
  }
  return level[0]
}

export function merkleRoot (data: Uint8Array[]): Uint8Array {
  return rootFromLeafHashes(data.map(leafHash))
}

/** Inclusion proof (audit path) for leaf `index` in a tree over `leaves` (leaf hashes). */
export function inclusionProof (leaves: Uint8Array[], index: number): Uint8Array[] {
  if (!Number.isInteger(index) || index < 0 || index >= leaves.length) throw new RangeError(`leaf index ${index} out of range 0..${leaves.length - 1}`)
  const path: Uint8Array[] = []
  const walk = (lo: number, hi: number, m: number): void => {
    const n = hi - lo
    if (n === 1) return
    const k = split(n)
    if (m < k) {
      walk(lo, lo + k, m)
      path.push(rootFromLeafHashes(leaves.slice(lo + k, hi)))
    } else {
      walk(lo + k, hi, m - k)
      path.push(rootFromLeafHashes(leaves.slice(lo, lo + k)))
    }
  }
  walk(0, leaves.length, index)
  return path
}

/** RFC 9162 2.1.3.2: verifies an inclusion proof for a leaf hash. */
export function verifyInclusion (leaf: Uint8Array, index: number, size: number, path: Uint8Array[], root: Uint8Array): boolean {
  if (!Number.isInteger(index) || !Number.isInteger(size) || index < 0 || index >= size) return false
  let fn = index
  let sn = size - 1
  let r = leaf
  for (const p of path) {
    if (sn === 0) return false
    if ((fn & 1) === 1 || fn === sn) {
      r = nodeHash(p, r)
      if ((fn & 1) === 0) {
        while ((fn & 1) === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2) }
      }
    } else {
      r = nodeHash(r, p)
    }
    fn = Math.floor(fn / 2)
    sn = Math.floor(sn / 2)
  }
  return sn === 0 && bytesEqual(r, root)
}

/** RFC 6962 2.1.2 SUBPROOF: consistency proof between the first `m` leaves and all of them. */
export function consistencyProof (leaves: Uint8Array[], m: number): Uint8Array[] {
  const n = leaves.length
  if (!Number.isInteger(m) || m < 1 || m > n) throw new RangeError(`old size ${m} out of range 1..${n}`)
  const proof: Uint8Array[] = []
  const sub = (lo: number, hi: number, mm: number, complete: boolean): void => {
    const size = hi - lo
    if (mm === size) {
      if (!complete) proof.push(rootFromLeafHashes(leaves.slice(lo, hi)))
      return
    }
    const k = split(size)
    if (mm <= k) {
      sub(lo, lo + k, mm, complete)
      proof.push(rootFromLeafHashes(leaves.slice(lo + k, hi)))
    } else {
      sub(lo + k, hi, mm - k, false)
      proof.push(rootFromLeafHashes(leaves.slice(lo, lo + k)))
    }
  }
  sub(0, n, m, true)
  return proof
}

/** RFC 9162 2.1.4.2: verifies that `newRoot` (size n) extends `oldRoot` (size m). */
export function verifyConsistency (m: number, n: number, oldRoot: Uint8Array, newRoot: Uint8Array, proof: Uint8Array[]): boolean {
  if (!Number.isInteger(m) || !Number.isInteger(n) || m < 1 || m > n) return false
  if (m === n) return proof.length === 0 && bytesEqual(oldRoot, newRoot)
  let path = proof
  // If m is an exact power of two the old root is the first node of the path.
  if ((m & (m - 1)) === 0) path = [oldRoot, ...proof]
  if (path.length === 0) return false
  let fn = m - 1
  let sn = n - 1
  while ((fn & 1) === 1) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2) }
  let fr = path[0]
  let sr = path[0]
  for (const c of path.slice(1)) {
    if (sn === 0) return false
    if ((fn & 1) === 1 || fn === sn) {
      fr = nodeHash(c, fr)
      sr = nodeHash(c, sr)
      if ((fn & 1) === 0) {
        while ((fn & 1) === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2) }
      }
    } else {
      sr = nodeHash(sr, c)
    }
    fn = Math.floor(fn / 2)
    sn = Math.floor(sn / 2)
  }
  return sn === 0 && bytesEqual(fr, oldRoot) && bytesEqual(sr, newRoot)
}
