import test from 'ava'
import { maxFaulty, oneHonest, proposerIndex, quorum } from '../../../src/chain/quorum.ts'
import { bytesCompare } from '../../../src/encoding/bytes.ts'
import { testValidators, validatorSetOf } from '../../helpers/fixtures.ts'

/*
 * Quorum arithmetic (f = floor((N-1)/3), Q = floor(2N/3) + 1) and round-robin proposer choice
 * V[(h + r) mod N], for the validator counts a medledger network will have.
 */

// N: [Q, f], worked out by hand from the formulas.
const TABLE: Record<number, [number, number]> = {
  1: [1, 0], 2: [2, 0], 3: [3, 0], 4: [3, 1], 5: [4, 1], 6: [5, 1], 7: [5, 2], 8: [6, 2], 9: [7, 2], 10: [7, 3]
}

test('quorum and maxFaulty for N = 1..10', t => {
  for (let n = 1; n <= 10; n++) {
    t.deepEqual([quorum(n), maxFaulty(n)], TABLE[n], `N = ${n}`)
    t.is(oneHonest(n), maxFaulty(n) + 1)
  }
})

test('f is the largest number of faults with N >= 3f + 1', t => {
  for (let n = 1; n <= 256; n++) {
    const f = maxFaulty(n)
    t.true(n >= 3 * f + 1 && n < 3 * (f + 1) + 1, `N = ${n}`)
  }
})

/** Every subset of {0..n-1} of size k, as bit masks. */
function subsets (n: number, k: number): number[] {
  const out: number[] = []
  for (let m = 0; m < 1 << n; m++) if (popcount(m) === k) out.push(m)
  return out
}
function popcount (m: number): number {
  let c = 0
  for (; m !== 0; m &= m - 1) c++
  return c
}

test('safety: any two quorums share at least f + 1 validators, so at least one honest one (exhaustive, N = 1..10)', t => {
  for (let n = 1; n <= 10; n++) {
    const q = quorum(n)
    const f = maxFaulty(n)
    const qs = subsets(n, q)
    let least = n
    for (const a of qs) for (const b of qs) least = Math.min(least, popcount(a & b))
    t.is(least, 2 * q - n, `N = ${n}: the smallest overlap is 2Q - N`)
    t.true(least >= f + 1, `N = ${n}: overlap ${least} < f + 1 = ${f + 1}`)
  }
})

test('safety by arithmetic for every N up to the 256-validator limit: 2Q - N >= f + 1', t => {
  for (let n = 1; n <= 256; n++) t.true(2 * quorum(n) - n >= maxFaulty(n) + 1, `N = ${n}`)
})

test('liveness: the N - f honest validators alone form a quorum', t => {
  for (let n = 1; n <= 256; n++) t.true(n - maxFaulty(n) >= quorum(n), `N = ${n}`)
})

test('oneHonest: any f + 1 validators include an honest one; f may all be faulty', t => {
  for (let n = 1; n <= 10; n++) {
    t.true(oneHonest(n) > maxFaulty(n))
    t.true(oneHonest(n) <= quorum(n))
  }
})

test('proposer of (h, r) is V[(h + r) mod N]: each validator proposes once per N heights and once per N rounds', t => {
  for (let n = 1; n <= 10; n++) {
    for (const start of [0, 1, 7, 1_000_003]) {
      const byHeight = new Set(Array.from({ length: n }, (_, i) => proposerIndex(start + i, 0, n)))
      const byRound = new Set(Array.from({ length: n }, (_, r) => proposerIndex(start, r, n)))
      t.is(byHeight.size, n)
      t.is(byRound.size, n)
    }
    t.is(proposerIndex(5, 3, n), (5 + 3) % n)
    // The next round at a height hands the turn to the next height's first proposer.
    t.is(proposerIndex(5, 1, n), proposerIndex(6, 0, n))
  }
})

test('the proposer is taken from the validator list sorted by public key bytes', t => {
  const keys = testValidators(4)
  // Listed in reverse: the set sorts them, so the order of the genesis file does not matter.
  const set = validatorSetOf([...keys].reverse())
  const sorted = [...keys].map(k => k.publicKey).sort(bytesCompare)
  for (let h = 1; h <= 8; h++) {
    for (let r = 0; r < 4; r++) t.deepEqual(set.proposer(h, r), sorted[(h + r) % 4], `h = ${h}, r = ${r}`)
  }
})

test('2f + 1 is a safe quorum only when N = 3f + 1, which is why Q is floor(2N/3) + 1', t => {
  for (let n = 1; n <= 10; n++) {
    const f = maxFaulty(n)
    if (n === 3 * f + 1) {
      t.is(quorum(n), 2 * f + 1, `N = ${n}`)
    } else {
      // Two sets of 2f + 1 could overlap in f validators or fewer, all of them possibly faulty.
      t.true(2 * (2 * f + 1) - n < f + 1, `N = ${n}`)
      t.true(quorum(n) > 2 * f + 1, `N = ${n}`)
    }
  }
})
