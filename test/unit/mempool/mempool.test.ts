/**
 * The mempool's bounds and fairness (docs/network.md, "Bounds"): each author holds at most its
 * share of the bytes and batches, so one hospital flooding the network leaves room for the
 * others' submissions; and a block takes the authors in turns, so the others' batches are not
 * queued behind the flood.
 */
import test from 'ava'
import { toHex } from '../../../src/encoding/bytes.ts'
import { batchId, recordId } from '../../../src/chain/hashing.ts'
import { DEFAULT_MEMPOOL, Mempool } from '../../../src/mempool/mempool.ts'
import type { RecordBatch } from '../../../src/chain/types.ts'
import { sampleRecord, signBatch, testValidators } from '../../helpers/fixtures.ts'

const [A, B, C] = testValidators(3)
let n = 0
/** A fresh batch of `count` records by `author`. */
const batch = (author = A, count = 1): RecordBatch => signBatch(author, Array.from({ length: count }, () => sampleRecord(author.publicKey, n++)))
const authorOf = (b: RecordBatch): string => toHex(b.author).slice(0, 6)

test('an author at its batch quota is refused while another author is still admitted', t => {
  const pool = new Mempool({ maxBytes: 1_000_000, maxBatches: 100, maxBytesPerAuthor: 1_000_000, maxBatchesPerAuthor: 3 })
  for (let i = 0; i < 3; i++) t.is(pool.add(batch(A), 100), 'added')
  t.is(pool.add(batch(A), 100), 'author-quota', 'the flooder gets its own refusal, not "full"')
  t.is(pool.add(batch(B), 100), 'added', 'an honest author is served while A is at its quota')
  t.deepEqual(pool.authorUsage(A.publicKey), { bytes: 300, batches: 3 })
  t.deepEqual(pool.authorUsage(B.publicKey), { bytes: 100, batches: 1 })
})

test('an author at its byte quota is refused while another author is still admitted', t => {
  const pool = new Mempool({ maxBytes: 10_000, maxBatches: 100, maxBytesPerAuthor: 2_500, maxBatchesPerAuthor: 100 })
  t.is(pool.add(batch(A), 2_000), 'added')
  t.is(pool.add(batch(A), 501), 'author-quota')
  t.is(pool.add(batch(A), 500), 'added', 'exactly the quota fits')
  t.is(pool.add(batch(B), 2_500), 'added')
  t.is(pool.totalBytes, 5_000)
})

test('a flood from one author cannot fill the pool for the others', t => {
  const pool = new Mempool({ maxBytes: 4_000, maxBatches: 40, maxBytesPerAuthor: 1_000, maxBatchesPerAuthor: 10 })
  let refused = 0
  for (let i = 0; i < 200; i++) if (pool.add(batch(A), 100) !== 'added') refused++
  t.is(refused, 190)
  for (const author of [B, C]) for (let i = 0; i < 10; i++) t.is(pool.add(batch(author), 100), 'added')
})

test('the global bounds still hold when no author is over its share', t => {
  const pool = new Mempool({ maxBytes: 250, maxBatches: 100, maxBytesPerAuthor: 200, maxBatchesPerAuthor: 100 })
  t.is(pool.add(batch(A), 150), 'added')
  t.is(pool.add(batch(B), 150), 'full')
  t.is(pool.add(batch(B), 100), 'added')
})

test('a final block frees its authors\' share', t => {
  const pool = new Mempool({ maxBytes: 10_000, maxBatches: 100, maxBytesPerAuthor: 10_000, maxBatchesPerAuthor: 2 })
  const [first, second, third] = [batch(A), batch(A), batch(A)]
  t.is(pool.add(first, 100), 'added')
  t.is(pool.add(second, 100), 'added')
  t.is(pool.add(third, 100), 'author-quota')
  pool.removeBatches([toHex(batchId(first))])
  t.deepEqual(pool.authorUsage(A.publicKey), { bytes: 100, batches: 1 })
  t.is(pool.add(third, 100), 'added')
  pool.removeBatches([second, third].map(b => toHex(batchId(b))))
  t.deepEqual(pool.authorUsage(A.publicKey), { bytes: 0, batches: 0 })
  t.is(pool.size, 0)
})

test('the per-author shares default to a quarter of the totals and never exceed them', t => {
  t.is(DEFAULT_MEMPOOL.maxBytesPerAuthor * 4, DEFAULT_MEMPOOL.maxBytes)
  t.is(DEFAULT_MEMPOOL.maxBatchesPerAuthor * 4, DEFAULT_MEMPOOL.maxBatches)
  // A share configured above the total is the total.
  const pool = new Mempool({ maxBytes: 300, maxBatches: 2, maxBytesPerAuthor: 10_000, maxBatchesPerAuthor: 10_000 })
  t.is(pool.add(batch(A), 100), 'added')
  t.is(pool.add(batch(A), 100), 'added')
  t.is(pool.add(batch(A), 100), 'author-quota')
})

test('a block takes the authors in turns, each author\'s oldest first', t => {
  const pool = new Mempool({ maxBytes: 1_000_000, maxBatches: 1000, maxBytesPerAuthor: 1_000_000, maxBatchesPerAuthor: 1000 })
  const a = Array.from({ length: 50 }, () => batch(A))
  for (const b of a) pool.add(b, 100)
  const b1 = batch(B)
  const b2 = batch(B)
  const c1 = batch(C)
  pool.add(b1, 100)
  pool.add(c1, 100)
  pool.add(b2, 100)
  const reaped = pool.reap(1_000_000, 6).map(p => p.batch)
  t.deepEqual(reaped, [a[0], b1, c1, a[1], b2, a[2]])
  // Without turns (first in, first out) the block would hold six of A's batches and none of B's or C's.
  t.deepEqual(reaped.map(authorOf), [A, B, C, A, B, A].map(k => toHex(k.publicKey).slice(0, 6)))
})

test('reaping stays within the block\'s bytes; an author whose next batch does not fit gives up its turn', t => {
  const pool = new Mempool({ maxBytes: 1_000_000, maxBatches: 1000, maxBytesPerAuthor: 1_000_000, maxBatchesPerAuthor: 1000 })
  const big = batch(A)
  const small = [batch(B), batch(B), batch(B)]
  pool.add(big, 900)
  for (const b of small) pool.add(b, 100)
  t.deepEqual(pool.reap(250, 100).map(p => p.batch), [small[0], small[1]])
  t.deepEqual(pool.reap(1000, 100).map(p => p.batch), [big, small[0]])
  t.deepEqual(pool.reap(1_000_000, 100).length, 4)
})

test('a batch repeating any waiting record (not only a first one) or one of its own is a duplicate', t => {
  const pool = new Mempool()
  const first = batch(A, 3)
  t.is(pool.add(first, 100), 'added')
  t.is(pool.add(signBatch(A, [sampleRecord(A.publicKey, n++), first.records[2]]), 100), 'duplicate')
  const r = sampleRecord(A.publicKey, n++)
  t.is(pool.add(signBatch(A, [r, r]), 100), 'duplicate')
  t.true(pool.hasRecord(toHex(recordId(first.records[2]))))
  t.is(pool.size, 1)
})

test('a final block drops its own batches and every waiting batch that holds one of its records', t => {
  const pool = new Mempool()
  const r = sampleRecord(A.publicKey, n++)
  const carried = batch(B)
  const holder = signBatch(A, [sampleRecord(A.publicKey, n++), r])
  const other = batch(C)
  for (const b of [carried, holder, other]) t.is(pool.add(b, 100), 'added')
  // The block carries `carried` (waiting here) and another batch with r (not waiting here).
  pool.removeFinal([carried, signBatch(A, [r])])
  t.false(pool.hasBatch(batchId(carried)))
  t.false(pool.hasBatch(batchId(holder)), 'holding a final record, it could only be a replay now')
  t.true(pool.hasBatch(batchId(other)))
  t.false(pool.hasRecord(toHex(recordId(r))))
  t.deepEqual(pool.authorUsage(A.publicKey), { bytes: 0, batches: 0 })
})
