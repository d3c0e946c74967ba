import test from 'ava'
import fc from 'fast-check'
import {
  consistencyProof, inclusionProof, leafHash, rootFromLeafHashes, verifyConsistency, verifyInclusion
} from '../../../src/merkle/rfc6962.ts'

/*
 * Properties of RFC 6962 trees over random sizes up to a few thousand leaves: every proof the
 * code generates verifies, and any changed byte, index or size makes verification fail. A proof
 * is only meaningful against the root of the size it claims, so a changed size is checked
 * against the root of that other size.
 */

const MAX_LEAVES = 4096

/** `n` distinct leaf hashes derived from `seed`: cheap to build, no fast-check shrinking of arrays. */
function leavesFor (seed: number, n: number): Uint8Array[] {
  return Array.from({ length: n }, (_, i) => {
    const d = new Uint8Array(8)
    const v = new DataView(d.buffer)
    v.setUint32(0, seed)
    v.setUint32(4, i)
    return leafHash(d)
  })
}

const rootOf = (leaves: Uint8Array[], n: number): Uint8Array => rootFromLeafHashes(leaves.slice(0, n))

/** A copy of `proof` with one bit flipped at a position chosen by `pick` (any bit of any element). */
function flipBit (proof: Uint8Array[], pick: number): Uint8Array[] {
  const bits = proof.length * 32 * 8
  const at = pick % bits
  const el = Math.floor(at / 256)
  return proof.map((p, i) => {
    if (i !== el) return p
    const c = p.slice()
    c[Math.floor((at % 256) / 8)] ^= 1 << (at % 8)
    return c
  })
}

const flipHash = (h: Uint8Array, pick: number): Uint8Array => flipBit([h], pick)[0]

// A tree of random size with a position in it and a "pick" to choose what to corrupt.
const tree = fc.record({
  seed: fc.nat(),
  n: fc.integer({ min: 1, max: MAX_LEAVES }),
  at: fc.nat(),
  pick: fc.nat()
})

test('every inclusion proof verifies, exhaustively for trees of 1..100 leaves', t => {
  const leaves = leavesFor(7, 100)
  for (let n = 1; n <= 100; n++) {
    const tr = leaves.slice(0, n)
    const root = rootFromLeafHashes(tr)
    for (let i = 0; i < n; i++) {
      if (!verifyInclusion(tr[i], i, n, inclusionProof(tr, i), root)) t.fail(`leaf ${i} of ${n}`)
    }
  }
  t.pass()
})

test('every consistency proof verifies, exhaustively for 1 <= m <= n <= 64', t => {
  const leaves = leavesFor(11, 64)
  const roots = Array.from({ length: 65 }, (_, n) => rootOf(leaves, n))
  for (let n = 1; n <= 64; n++) {
    for (let m = 1; m <= n; m++) {
      if (!verifyConsistency(m, n, roots[m], roots[n], consistencyProof(leaves.slice(0, n), m))) t.fail(`${m} -> ${n}`)
    }
  }
  t.pass()
})

test('inclusion proofs in random trees verify, and fail under any changed bit, index or size', t => {
  fc.assert(fc.property(tree, fc.integer({ min: 1, max: MAX_LEAVES }), ({ seed, n, at, pick }, otherSize) => {
    const leaves = leavesFor(seed, n)
    const root = rootFromLeafHashes(leaves)
    const i = at % n
    const proof = inclusionProof(leaves, i)
    if (!verifyInclusion(leaves[i], i, n, proof, root)) return false
    if (proof.length > 0 && verifyInclusion(leaves[i], i, n, flipBit(proof, pick), root)) return false
    if (verifyInclusion(flipHash(leaves[i], pick), i, n, proof, root)) return false
    if (verifyInclusion(leaves[i], i, n, proof, flipHash(root, pick))) return false
    if (n > 1 && verifyInclusion(leaves[i], (i + 1 + (pick % (n - 1))) % n, n, proof, root)) return false
    if (proof.length > 0 && verifyInclusion(leaves[i], i, n, proof.slice(0, -1), root)) return false
    if (verifyInclusion(leaves[i], i, n, [...proof, root], root)) return false
    // A different size, with the true root of that size, refuses the proof.
    if (otherSize !== n && otherSize > i) {
      const other = otherSize <= n ? leaves.slice(0, otherSize) : leavesFor(seed, otherSize)
      if (verifyInclusion(leaves[i], i, otherSize, proof, rootFromLeafHashes(other))) return false
    }
    return true
  }), { numRuns: 60 })
  t.pass()
})

test('consistency proofs in random trees verify, and fail under any changed bit or size', t => {
  fc.assert(fc.property(tree, fc.nat(), ({ seed, n, at, pick }, otherPick) => {
    const leaves = leavesFor(seed, n)
    const m = 1 + (at % n)
    const oldRoot = rootOf(leaves, m)
    const newRoot = rootOf(leaves, n)
    const proof = consistencyProof(leaves, m)
    if (!verifyConsistency(m, n, oldRoot, newRoot, proof)) return false
    if (m === n) return proof.length === 0 && !verifyConsistency(m, n, oldRoot, flipHash(newRoot, pick), proof)
    if (verifyConsistency(m, n, oldRoot, newRoot, flipBit(proof, pick))) return false
    if (verifyConsistency(m, n, flipHash(oldRoot, pick), newRoot, proof)) return false
    if (verifyConsistency(m, n, oldRoot, flipHash(newRoot, pick), proof)) return false
    if (verifyConsistency(m, n, oldRoot, newRoot, proof.slice(0, -1))) return false
    if (verifyConsistency(m, n, oldRoot, newRoot, [...proof, newRoot])) return false
    // Another old size in 1..n, with its true root.
    const m2 = 1 + (otherPick % n)
    if (m2 !== m && verifyConsistency(m2, n, rootOf(leaves, m2), newRoot, proof)) return false
    // Another new size in m..n, with its true root.
    const n2 = m + (otherPick % (n - m + 1))
    if (n2 !== n && verifyConsistency(m, n2, oldRoot, rootOf(leaves, n2), proof)) return false
    return true
  }), { numRuns: 60 })
  t.pass()
})

test('appending leaves never changes the root of an old prefix (the log only grows)', t => {
  fc.assert(fc.property(fc.nat(), fc.integer({ min: 1, max: 600 }), fc.integer({ min: 1, max: 600 }), (seed, m, extra) => {
    const leaves = leavesFor(seed, m + extra)
    const old = rootOf(leaves, m)
    return verifyConsistency(m, m + extra, old, rootOf(leaves, m + extra), consistencyProof(leaves, m))
  }), { numRuns: 40 })
  t.pass()
})
