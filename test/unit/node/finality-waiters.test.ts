import test from 'ava'
import { recordId } from '../../../src/chain/hashing.ts'
import { toHex } from '../../../src/encoding/bytes.ts'
import { FinalityWaiters } from '../../../src/node/finality-waiters.ts'
import { makeChain, sampleBatch, testValidators } from '../../helpers/fixtures.ts'

const keys = testValidators(4)
// Blocks 1..3, each with one batch of 3 records.
const chain = makeChain(keys, 3, { batchesAt: (height, proposer) => [sampleBatch(proposer, 3, height * 10)] })
const idsOf = (height: number): string[] => chain[height - 1].block.body.batches.flatMap(b => b.records.map(r => toHex(recordId(r))))
const notInStore = async (ids: string[]): Promise<undefined[]> => ids.map(() => undefined)

test('resolves with the highest height once every record is final, whatever the order of blocks', async t => {
  const w = new FinalityWaiters()
  const waiting = w.wait([idsOf(2)[0], idsOf(1)[1]], 5_000, notInStore)
  await Promise.resolve()
  w.onFinalized(chain[0])
  t.is(w.size, 1, 'one record still waited for')
  w.onFinalized(chain[1])
  t.is(await waiting, 2)
  t.is(w.size, 0, 'nothing left indexed')
})

test('records already in the store count, and a block made final during the lookup is not missed', async t => {
  const w = new FinalityWaiters()
  // The first record is in the store at height 1; while the store is asked, block 3 becomes final.
  const waiting = w.wait([idsOf(1)[0], idsOf(3)[2]], 5_000, async ids => {
    w.onFinalized(chain[2])
    return ids.map(id => id === idsOf(1)[0] ? 1 : undefined)
  })
  t.is(await waiting, 3)
  t.is(w.size, 0)
})

test('many waiters on one block are all settled from one pass; each only by its own records', async t => {
  const w = new FinalityWaiters()
  const ids = idsOf(2)
  const all = ids.map(id => w.wait([id], 5_000, notInStore))
  const same = w.wait(ids, 5_000, notInStore)
  const other = w.wait(idsOf(3), 200, notInStore)
  await Promise.resolve()
  w.onFinalized(chain[1])
  t.deepEqual(await Promise.all([...all, same]), [2, 2, 2, 2])
  await t.throwsAsync(other, { code: 'WAIT_TIMEOUT' })
  t.is(w.size, 0, 'a timed-out waiter leaves nothing indexed')
})

test('a failing store lookup rejects the wait and unregisters it', async t => {
  const w = new FinalityWaiters()
  await t.throwsAsync(w.wait(idsOf(1), 5_000, async () => { throw new Error('store closed') }), { message: 'store closed' })
  t.is(w.size, 0)
  t.is(await w.wait([], 10, notInStore), 0, 'nothing to wait for')
})
