import test from 'ava'
import { recordId } from '../../../src/chain/hashing.ts'
import { sha256 } from '../../../src/crypto/hash.ts'
import { ChainStore, StorageErrorCode } from '../../../src/storage/index.ts'
import { openStore, sampleChain, STORE_OPTS, tempDir } from './sample.ts'

test('hasRecords and getRecordLocations answer for every id, in order, from one lookup', async t => {
  const store = await openStore(t, await tempDir(t))
  const chain = sampleChain(3, { records: 5, recordsPerBatch: 2 })
  await store.commitMany(chain.slice(0, 2))
  const stored = chain.slice(0, 2).flatMap(fb => fb.block.body.batches.flatMap(b => b.records.map(recordId)))
  const later = chain[2].block.body.batches.flatMap(b => b.records.map(recordId))
  const unknown = sha256(new Uint8Array([9]))
  const ids = [later[0], ...stored, unknown, stored[0], ...later.slice(1)]
  t.deepEqual(await store.hasRecords(ids), [false, ...stored.map(() => true), false, true, ...later.slice(1).map(() => false)])
  // The same answers as one getRecordLocation per id.
  t.deepEqual(await store.hasRecords(ids), await Promise.all(ids.map(async id => (await store.getRecordLocation(id)) !== undefined)))
  t.deepEqual(await store.hasRecords([]), [])
  // getRecordLocations: the same locations as one getRecordLocation per id, also from one lookup.
  t.deepEqual(await store.getRecordLocations(ids), await Promise.all(ids.map(async id => await store.getRecordLocation(id))))
  t.deepEqual(await store.getRecordLocations([]), [])
  await store.commit(chain[2])
  t.deepEqual(await store.hasRecords(later), later.map(() => true))
})

test('hasRecords on a closed store fails like the other reads', async t => {
  const store = await ChainStore.open(await tempDir(t), STORE_OPTS)
  await store.close()
  await t.throwsAsync(store.hasRecords([sha256(new Uint8Array(1))]), { code: StorageErrorCode.CLOSED })
})
