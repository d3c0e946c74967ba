import test from 'ava'
import { encodeBlock } from '../../../src/chain/codec.ts'
import { blockHash, evidenceHash, recordId } from '../../../src/chain/hashing.ts'
import type { FinalizedBlock } from '../../../src/chain/types.ts'
import { sha256 } from '../../../src/crypto/hash.ts'
import { bytesEqual } from '../../../src/encoding/bytes.ts'
import { ChainStore, StorageErrorCode } from '../../../src/storage/index.ts'
import { voteEquivocation } from '../../helpers/fixtures.ts'
import { GENESIS_HASH, GENESIS_TIP, nextFinalized, openStore, sampleChain, STORE_OPTS, tempDir, tipOf, VALIDATORS } from './sample.ts'

const code = (c: StorageErrorCode) => ({ code: c })

/** Every index of `fb` answers with its place. */
async function assertIndexed (t: import('ava').ExecutionContext, store: ChainStore, fb: FinalizedBlock): Promise<void> {
  const height = fb.block.header.height
  const hash = blockHash(fb.block.header)
  t.is(await store.getHeightByHash(hash), height)
  t.true(bytesEqual((await store.getBlockBytes(height))!, encodeBlock(fb.block)))
  t.deepEqual(await store.getFinalized(height), fb)
  for (const [bi, batch] of fb.block.body.batches.entries()) {
    for (const [ri, record] of batch.records.entries()) {
      t.deepEqual(await store.getRecordLocation(recordId(record)), { height, batchIndex: bi, recordIndex: ri })
    }
  }
}

test('an empty store has no head and no blocks', async t => {
  const store = await openStore(t, await tempDir(t))
  t.is(store.head, null)
  t.is(await store.getBlock(1), undefined)
  t.is(await store.getFinalized(1), undefined)
  t.is(await store.getHeightByHash(GENESIS_HASH), undefined)
  t.is(await store.getRecordLocation(sha256(new Uint8Array(1))), undefined)
  t.is(await store.getRecord(sha256(new Uint8Array(1))), undefined)
  t.deepEqual(await store.listCommittedEvidence(), [])
  t.is(store.chainId, STORE_OPTS.chainId)
})

test('commit round-trips blocks, certificates and every index', async t => {
  const store = await openStore(t, await tempDir(t))
  const chain = sampleChain(4, { records: 250, recordsPerBatch: 100, evidenceEvery: 2 })
  await store.commit(chain[0])
  await store.commit(chain[1], encodeBlock(chain[1].block))
  await store.commitMany(chain.slice(2))
  t.deepEqual(store.head, { height: 4, hash: blockHash(chain[3].block.header) })
  for (const fb of chain) await assertIndexed(t, store, fb)

  const rec = chain[2].block.body.batches[2].records[7]
  const got = await store.getRecord(recordId(rec))
  t.deepEqual(got?.record, rec)
  t.deepEqual(got?.location, { height: 3, batchIndex: 2, recordIndex: 7 })
  t.deepEqual(got?.certificate, chain[2].certificate)
  t.is(got?.block.header.height, 3)

  const committed = await store.listCommittedEvidence()
  t.deepEqual(committed, [{ height: 2, evidence: chain[1].block.body.evidence[0] }, { height: 4, evidence: chain[3].block.body.evidence[0] }])
  t.deepEqual(await store.getCommittedEvidence(evidenceHash(chain[3].block.body.evidence[0])), committed[1])
})

test('iterateFinalized reads a range in order and clamps it to the head', async t => {
  const store = await openStore(t, await tempDir(t))
  const chain = sampleChain(12)
  await store.commitMany(chain)
  const heights = async (from: number, to: number) => {
    const out: number[] = []
    for await (const fb of store.iterateFinalized(from, to)) out.push(fb.block.header.height)
    return out
  }
  t.deepEqual(await heights(1, 12), Array.from({ length: 12 }, (_, i) => i + 1))
  t.deepEqual(await heights(5, 7), [5, 6, 7])
  t.deepEqual(await heights(10, 100), [10, 11, 12])
  t.deepEqual(await heights(0, 2), [1, 2])
  t.deepEqual(await heights(13, 20), [])
  t.deepEqual(await heights(7, 6), [])
  const all: FinalizedBlock[] = []
  for await (const fb of store.iterateFinalized(1, 12)) all.push(fb)
  t.deepEqual(all, chain)
  // Leaving early closes the iterators: the store still closes cleanly afterwards.
  for await (const fb of store.iterateFinalized(1, 12)) if (fb.block.header.height === 3) break
})

test('the head and everything under it persist across close and reopen', async t => {
  const dir = await tempDir(t)
  const chain = sampleChain(6, { records: 20, evidenceEvery: 3 })
  const first = await ChainStore.open(dir, STORE_OPTS)
  await first.commitMany(chain.slice(0, 5))
  await first.close()
  await t.throwsAsync(first.getBlock(1), code(StorageErrorCode.CLOSED))

  const second = await openStore(t, dir, STORE_OPTS)
  t.deepEqual(second.head, { height: 5, hash: blockHash(chain[4].block.header) })
  await second.commit(chain[5])
  for (const fb of chain) await assertIndexed(t, second, fb)
  t.is((await second.listCommittedEvidence()).length, 2)
})

test('refuses a gap, a repeat, a wrong parent, a wrong chain and a foreign certificate, writing nothing', async t => {
  const store = await openStore(t, await tempDir(t))
  const chain = sampleChain(3)
  await t.throwsAsync(store.commit(chain[1]), code(StorageErrorCode.NOT_NEXT_HEIGHT))
  const orphan = nextFinalized({ ...GENESIS_TIP, hash: sha256(new Uint8Array([9])) })
  await t.throwsAsync(store.commit(orphan), code(StorageErrorCode.PARENT_MISMATCH))
  await store.commit(chain[0])
  await t.throwsAsync(store.commit(chain[0]), code(StorageErrorCode.NOT_NEXT_HEIGHT))
  const sibling = nextFinalized(GENESIS_TIP, { records: 5 })
  await t.throwsAsync(store.commit(nextFinalized(tipOf(sibling))), code(StorageErrorCode.PARENT_MISMATCH))
  await t.throwsAsync(store.commit({ block: chain[1].block, certificate: chain[2].certificate }), code(StorageErrorCode.CERTIFICATE_MISMATCH))
  const foreign = structuredClone(chain[1])
  foreign.block.header.chainId = 'another-chain'
  foreign.certificate.blockHash = blockHash(foreign.block.header)
  await t.throwsAsync(store.commit(foreign), code(StorageErrorCode.WRONG_CHAIN))
  // A run with a bad link in the middle writes none of it.
  const broken = [chain[1], nextFinalized({ height: 2, hash: sha256(new Uint8Array([8])), certificate: null })]
  await t.throwsAsync(store.commitMany(broken), code(StorageErrorCode.PARENT_MISMATCH))
  t.is(store.head?.height, 1)
  t.is(await store.getBlock(2), undefined)
  t.is(await store.getRecordLocation(recordId(chain[1].block.body.batches[0].records[0])), undefined)
  await store.commitMany(chain.slice(1))
  t.is(store.head?.height, 3)
})

test('concurrent commits are applied in call order', async t => {
  const store = await openStore(t, await tempDir(t))
  const chain = sampleChain(20)
  await Promise.all(chain.map(fb => store.commit(fb)))
  t.is(store.head?.height, 20)
  const results = await Promise.allSettled([store.commit(chain[0]), store.commit(nextFinalized(tipOf(chain[19])))])
  t.is(results[0].status, 'rejected')
  t.is(results[1].status, 'fulfilled')
  t.is(store.head?.height, 21)
})

test('a store remembers its chain and refuses another genesis or chain id', async t => {
  const dir = await tempDir(t)
  await (await ChainStore.open(dir, STORE_OPTS)).close()
  const other = sha256(new Uint8Array([1, 2, 3]))
  const err = await t.throwsAsync(ChainStore.open(dir, { ...STORE_OPTS, genesisHash: other }), code(StorageErrorCode.GENESIS_MISMATCH))
  t.regex(err!.message, /move this one away/)
  await t.throwsAsync(ChainStore.open(dir, { ...STORE_OPTS, chainId: 'other' }), code(StorageErrorCode.GENESIS_MISMATCH))
  // Without options the store opens as whatever it holds; the refused opens released the lock.
  const store = await openStore(t, dir, {})
  t.is(store.chainId, STORE_OPTS.chainId)
  t.true(bytesEqual(store.genesisHash!, GENESIS_HASH))
})

test('block 1 must name the recorded genesis hash', async t => {
  const dir = await tempDir(t)
  const store = await openStore(t, dir)
  const wrongGenesis = nextFinalized({ height: 0, hash: sha256(new Uint8Array([7])), certificate: null })
  await t.throwsAsync(store.commit(wrongGenesis), code(StorageErrorCode.PARENT_MISMATCH))
})

test('the double-sign guard persists, is flushed, and only moves forward', async t => {
  const dir = await tempDir(t)
  const first = await ChainStore.open(dir, STORE_OPTS)
  t.is(await first.getLastSigned(), undefined)
  await first.putLastSigned({ height: 5, round: 0, step: 0 })
  await first.putLastSigned({ height: 5, round: 0, step: 1 })
  await first.putLastSigned({ height: 5, round: 0, step: 1 }) // re-sending the same vote is fine
  await t.throwsAsync(first.putLastSigned({ height: 5, round: 0, step: 0 }), code(StorageErrorCode.GUARD_REGRESSION))
  await t.throwsAsync(first.putLastSigned({ height: 4, round: 9, step: 2 }), code(StorageErrorCode.GUARD_REGRESSION))
  await t.throwsAsync(first.putLastSigned({ height: 5, round: 1, step: 3 }), { instanceOf: TypeError })
  // Racing calls: the later, lower one is refused even before the first reaches the disk.
  const [a, b] = await Promise.allSettled([first.putLastSigned({ height: 6, round: 2, step: 2 }), first.putLastSigned({ height: 6, round: 1, step: 2 })])
  t.is(a.status, 'fulfilled')
  t.is(b.status, 'rejected')
  await first.close()

  const second = await openStore(t, dir)
  t.deepEqual(await second.getLastSigned(), { height: 6, round: 2, step: 2 })
  await t.throwsAsync(second.putLastSigned({ height: 6, round: 2, step: 1 }), code(StorageErrorCode.GUARD_REGRESSION))
})

test('consensus snapshot and meta values persist; the store owns its meta keys', async t => {
  const dir = await tempDir(t)
  const first = await ChainStore.open(dir, STORE_OPTS)
  t.is(await first.getConsensusSnapshot(), undefined)
  await first.putConsensusSnapshot(new Uint8Array([1, 2, 3]))
  await first.putConsensusSnapshot(new Uint8Array([4, 5]))
  await first.putMeta('peers', new Uint8Array([9]))
  await t.throwsAsync(first.putMeta('head', new Uint8Array(40)), code(StorageErrorCode.RESERVED_KEY))
  await t.throwsAsync(first.putMeta('chainId', new Uint8Array(1)), code(StorageErrorCode.RESERVED_KEY))
  await first.close()
  const second = await openStore(t, dir)
  t.true(bytesEqual((await second.getConsensusSnapshot())!, new Uint8Array([4, 5])))
  t.true(bytesEqual((await second.getMeta('peers'))!, new Uint8Array([9])))
  t.is(await second.getMeta('missing'), undefined)
})

test('putSigned writes the guard, the signed bytes and the kept messages together; the snapshot keeps its blocks; kept messages of an earlier release are still read', async t => {
  const dir = await tempDir(t)
  const first = await ChainStore.open(dir, STORE_OPTS)
  t.is(await first.getOwnMessages(), undefined)
  // A database written by a release before putSigned kept them in the meta bucket.
  await first.putMeta('consensus.ownMessages', new Uint8Array([7]))
  t.true(bytesEqual((await first.getOwnMessages())!, new Uint8Array([7])))
  await first.putSigned({ height: 3, round: 1, step: 1 }, new Uint8Array([1]), new Uint8Array([2]))
  // A proposal is guarded without touching the kept votes.
  await first.putSigned({ height: 3, round: 2, step: 0 }, new Uint8Array([3]))
  await t.throwsAsync(first.putSigned({ height: 3, round: 1, step: 2 }, new Uint8Array([4]), new Uint8Array([5])), code(StorageErrorCode.GUARD_REGRESSION))
  await first.putConsensusSnapshot(new Uint8Array([8]), new Uint8Array([9]))
  await first.putConsensusSnapshot(new Uint8Array([10]))
  await first.close()
  const second = await openStore(t, dir)
  t.deepEqual(await second.getLastSigned(), { height: 3, round: 2, step: 0 })
  t.true(bytesEqual((await second.getLastSignedBytes())!, new Uint8Array([3])))
  t.true(bytesEqual((await second.getOwnMessages())!, new Uint8Array([2])))
  t.true(bytesEqual((await second.getConsensusSnapshot())!, new Uint8Array([10])))
  t.true(bytesEqual((await second.getHeldBlocks())!, new Uint8Array([9])), 'blocks stay until the next snapshot that names others')
})

test('pending evidence is listed, removed, and dropped when a block includes it', async t => {
  const store = await openStore(t, await tempDir(t))
  const e1 = voteEquivocation(VALIDATORS[1], 1)
  const e2 = voteEquivocation(VALIDATORS[2], 1)
  await store.putPendingEvidence(e1)
  await store.putPendingEvidence(e2)
  await store.putPendingEvidence(e1)
  t.is((await store.listPendingEvidence()).length, 2)
  await store.removePendingEvidence(evidenceHash(e2))
  t.deepEqual(await store.listPendingEvidence(), [e1])

  const fb = nextFinalized(GENESIS_TIP)
  const withEvidence = structuredClone(fb)
  withEvidence.block.body.evidence = [e1]
  withEvidence.certificate.blockHash = blockHash(withEvidence.block.header) // storage does not re-check evidenceHash
  await store.commit(withEvidence)
  t.deepEqual(await store.listPendingEvidence(), [])
  t.deepEqual(await store.listCommittedEvidence(), [{ height: 1, evidence: e1 }])
  await store.putPendingEvidence(e1) // already committed: not pending again
  t.deepEqual(await store.listPendingEvidence(), [])
})

test('close waits for queued writes and is idempotent', async t => {
  const dir = await tempDir(t)
  const store = await ChainStore.open(dir, STORE_OPTS)
  const chain = sampleChain(5)
  const writes = chain.map(fb => store.commit(fb))
  const guard = store.putLastSigned({ height: 6, round: 0, step: 0 })
  await store.close()
  await Promise.all([...writes, guard])
  await store.close()
  const reopened = await openStore(t, dir)
  t.is(reopened.head?.height, 5)
  t.deepEqual(await reopened.getLastSigned(), { height: 6, round: 0, step: 0 })
})

test('a block that cannot be encoded is refused without leaving anything behind', async t => {
  const store = await openStore(t, await tempDir(t))
  const [good] = sampleChain(1)
  const bad = structuredClone(good)
  ;(bad.block.body.batches[0].records[0] as { payload: unknown }).payload = Symbol('not bytes')
  await t.throwsAsync(store.commit(bad))
  t.is(store.head, null)
  t.is(await store.getBlock(1), undefined)
  await store.commit(good)
  t.is(store.head?.height, 1)
})
