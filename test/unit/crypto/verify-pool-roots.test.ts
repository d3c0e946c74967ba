import test from 'ava'
import { batchSignBytes, batchSignTemplate } from '../../../src/chain/hashing.ts'
import { NodeKey } from '../../../src/crypto/ed25519.ts'
import { sha256 } from '../../../src/crypto/hash.ts'
import { type RootedCheck, VerifyPool } from '../../../src/crypto/verify-pool.ts'
import { merkleRoot } from '../../../src/merkle/rfc6962.ts'

/*
 * VerifyPool.verifyRooted: the workers compute a batch's records root (RFC 6962 over its record
 * ids) beside its signature. The root must be the main thread's merkleRoot, bit for bit, for every
 * leaf count (odd levels carry their last node up), inline and in the workers alike.
 */

const CHAIN = 'medledger-test'
const COUNTS = [0, 1, 2, 3, 4, 5, 7, 8, 9, 31, 33, 255, 256, 257, 1000, 1023, 1025]

let seq = 0
const leavesOf = (n: number): Uint8Array[] => Array.from({ length: n }, () => sha256(new TextEncoder().encode(`record-${seq++}`)))

/** One rooted check per leaf count, signed by `key` over the true root; every `forge`th signature is forged. */
function rooted (key: NodeKey, counts: number[], forge = 0): { checks: RootedCheck[], roots: Uint8Array[], expected: boolean[] } {
  const checks: RootedCheck[] = []
  const roots: Uint8Array[] = []
  const expected: boolean[] = []
  counts.forEach((n, i) => {
    const leaves = leavesOf(n)
    const root = merkleRoot(leaves)
    let signature = key.sign(batchSignBytes(CHAIN, key.publicKey, root, n))
    const bad = forge > 0 && i % forge === forge - 1
    if (bad) { signature = Uint8Array.from(signature); signature[5] ^= 1 }
    const { message, rootAt } = batchSignTemplate(CHAIN, key.publicKey, n)
    checks.push({ publicKey: key.publicKey, message, rootAt, leaves, signature })
    roots.push(root)
    expected.push(!bad)
  })
  return { checks, roots, expected }
}

const hex = (xs: Uint8Array[]): string[] => xs.map(x => Buffer.from(x).toString('hex'))

test('batchSignTemplate with the root written in is batchSignBytes, for counts of every CBOR width', t => {
  const key = new Uint8Array(32).fill(9)
  for (const n of [0, 1, 23, 24, 255, 256, 65_535, 65_536, 2 ** 32]) {
    const root = sha256(Uint8Array.of(n & 0xff))
    const { message, rootAt } = batchSignTemplate(CHAIN, key, n)
    t.deepEqual(message.subarray(rootAt, rootAt + 32), new Uint8Array(32), `count ${n}: zeros where the root goes`)
    message.set(root, rootAt)
    t.deepEqual(message, batchSignBytes(CHAIN, key, root, n), `count ${n}`)
  }
})

test('inline: roots are merkleRoot over the leaves (0, 1, odd and many leaves) and verdicts are the signatures\'', async t => {
  const key = await NodeKey.generate()
  const pool = new VerifyPool({ inlineBelow: Number.MAX_SAFE_INTEGER })
  const { checks, roots, expected } = rooted(key, COUNTS, 4)
  const messages = checks.map(c => Uint8Array.from(c.message))
  const r = pool.verifyRooted(checks)
  t.deepEqual(hex(await r.roots), hex(roots))
  t.deepEqual(await r.ok, expected)
  t.deepEqual(checks.map(c => c.message), messages, 'the caller\'s messages are left as they were')
  t.is(pool.running, 0)
})

test('in workers: roots are merkleRoot over the leaves, bit for bit, across many messages; verdicts in order', async t => {
  const pool = new VerifyPool({ threads: 2, inlineBelow: 1, maxChunk: 5 })
  try {
    const key = await NodeKey.generate()
    const { checks, roots, expected } = rooted(key, [...COUNTS, ...COUNTS.slice().reverse()], 3)
    const r = pool.verifyRooted(checks)
    t.deepEqual(hex(await r.roots), hex(roots))
    t.deepEqual(await r.ok, expected)
    t.is(pool.running, 2)
    t.false(pool.inlineOnly)
    // Many leaves: more than one message's worth (65,536) in one job.
    const big = rooted(key, [40_000, 1, 30_000, 7])
    const rb = pool.verifyRooted(big.checks)
    t.deepEqual(hex(await rb.roots), hex(big.roots))
    t.deepEqual(await rb.ok, big.expected)
  } finally {
    await pool.close()
  }
})

test('in workers: the roots come before the verdicts, and a tampered leaf fails the signature but gives its own root', async t => {
  const pool = new VerifyPool({ threads: 1, inlineBelow: 1 })
  try {
    const key = await NodeKey.generate()
    const { checks, roots } = rooted(key, [1000, 3, 1])
    // A record changed after signing: its id (a leaf) differs, so the root does and the signature fails.
    const tampered = checks[1].leaves.slice()
    tampered[2] = sha256(Uint8Array.of(1, 2, 3))
    checks[1] = { ...checks[1], leaves: tampered }
    const order: string[] = []
    const r = pool.verifyRooted(checks)
    const got = await Promise.all([r.roots.then(x => { order.push('roots'); return x }), r.ok.then(x => { order.push('ok'); return x })])
    t.deepEqual(order, ['roots', 'ok'])
    t.deepEqual(hex(got[0]), hex([roots[0], merkleRoot(tampered), roots[2]]))
    t.notDeepEqual(hex([got[0][1]]), hex([roots[1]]))
    t.deepEqual(got[1], [true, false, true])
  } finally {
    await pool.close()
  }
})

test('malformed keys and signatures never verify; a check whose root has no room gets it from the main thread', async t => {
  const pool = new VerifyPool({ threads: 1, inlineBelow: 1 })
  try {
    const key = await NodeKey.generate()
    const { checks, roots } = rooted(key, [5, 6, 7, 8])
    checks[0] = { ...checks[0], publicKey: checks[0].publicKey.subarray(0, 31) }
    checks[1] = { ...checks[1], signature: checks[1].signature.subarray(0, 63) }
    checks[2] = { ...checks[2], rootAt: checks[2].message.length - 10 }
    const r = pool.verifyRooted(checks)
    t.deepEqual(hex(await r.roots), hex(roots))
    t.deepEqual(await r.ok, [false, false, false, true])
  } finally {
    await pool.close()
  }
})

test('a worker that dies mid-job: its roots and verdicts are computed inline, the same', async t => {
  const pool = new VerifyPool({ threads: 2, inlineBelow: 1, maxChunk: 3 })
  try {
    const key = await NodeKey.generate()
    const { checks, roots, expected } = rooted(key, [...COUNTS, ...COUNTS], 5)
    const r = pool.verifyRooted(checks)
    await (pool as unknown as { workers: Array<{ terminate: () => Promise<number> }> }).workers[0].terminate()
    t.deepEqual(hex(await r.roots), hex(roots))
    t.deepEqual(await r.ok, expected)
    const again = pool.verifyRooted(checks)
    t.deepEqual(hex(await again.roots), hex(roots))
    t.deepEqual(await again.ok, expected)
  } finally {
    await pool.close()
  }
})

/** Checks over record-like byte strings (hashLeaves): in one buffer end to end when `together`, else each its own. */
function hashedChecks (key: NodeKey, counts: number[], together: boolean): { checks: RootedCheck[], roots: Uint8Array[], ids: Uint8Array[][] } {
  const checks: RootedCheck[] = []
  const roots: Uint8Array[] = []
  const ids: Uint8Array[][] = []
  for (const n of counts) {
    const parts = Array.from({ length: n }, (_, i) => new TextEncoder().encode(`record ${seq++} `.padEnd(20 + (i * 37) % 300, 'x')))
    let leaves = parts
    if (together) {
      const all = new Uint8Array(parts.reduce((s, p) => s + p.length + 3, 0) + 5)
      let at = 5
      leaves = parts.map(p => { all.set(p, at); at += p.length; return all.subarray(at - p.length, at) })
    }
    const mine = parts.map(p => sha256(p))
    const root = merkleRoot(mine)
    const { message, rootAt } = batchSignTemplate(CHAIN, key.publicKey, n)
    checks.push({ publicKey: key.publicKey, message, rootAt, leaves, hashLeaves: true, signature: key.sign(batchSignBytes(CHAIN, key.publicKey, root, n)) })
    roots.push(root)
    ids.push(mine)
  }
  return { checks, roots, ids }
}

test('hashLeaves: the workers hash record encodings to their ids, answer them, and root over them; inline the same', async t => {
  const key = await NodeKey.generate()
  const workers = new VerifyPool({ threads: 2, inlineBelow: 1, maxChunk: 4 })
  const inline = new VerifyPool({ inlineBelow: Number.MAX_SAFE_INTEGER })
  try {
    for (const together of [true, false]) {
      const { checks, roots, ids } = hashedChecks(key, [1, 2, 3, 7, 64, 1000, 5], together)
      // A check of plain leaves among them: no ids for it.
      const plain = rooted(key, [9])
      checks.splice(2, 0, plain.checks[0])
      roots.splice(2, 0, plain.roots[0])
      for (const p of [workers, inline]) {
        const r = p.verifyRooted(checks)
        t.deepEqual(hex(await r.roots), hex(roots), `roots, together ${String(together)}`)
        const got = await r.ids
        t.is(got[2], undefined)
        t.deepEqual(got.filter((_, i) => i !== 2).map(x => hex(x as Uint8Array[])), ids.map(hex), `ids, together ${String(together)}`)
        t.deepEqual(await r.ok, checks.map(() => true))
      }
    }
  } finally {
    await workers.close()
  }
})
