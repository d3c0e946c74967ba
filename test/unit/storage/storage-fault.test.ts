import test, { type ExecutionContext } from 'ava'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Level } from 'level'
import { ChainStore, StorageErrorCode, isStorageFault, type StorageError } from '../../../src/storage/index.ts'
import type { FinalizedBlock } from '../../../src/chain/types.ts'
import { makeChain, testValidators } from '../../helpers/fixtures.ts'

/** LevelDB's own get fails (a broken disk) until restored: patched on its prototype, in this test only. */
function breakLevelReads (): { restore: () => void } {
  const proto = Level.prototype as unknown as { _get: (...a: unknown[]) => Promise<unknown> }
  const get = proto._get
  proto._get = async () => { throw Object.assign(new Error('IO error: 000005.ldb: Input/output error'), { code: 'LEVEL_IO_ERROR' }) }
  return { restore: () => { proto._get = get } }
}

/** A store holding block 1 of a 2-block chain, and the faults it reports. */
async function storeAtHeight1 (t: ExecutionContext): Promise<{ store: ChainStore, chain: FinalizedBlock[], faults: StorageError[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'medledger-fault-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const chain = makeChain(testValidators(4), 2)
  const store = await ChainStore.open(dir)
  t.teardown(async () => { await store.close() })
  const faults: StorageError[] = []
  store.onFault(err => { faults.push(err) })
  await store.commit(chain[0])
  return { store, chain, faults }
}

test.serial('a LevelDB read failure surfaces as STORAGE_IO_ERROR naming what was read, reported once; later writes are refused', async t => {
  const { store, chain, faults } = await storeAtHeight1(t)
  t.is(store.fault, undefined)

  const broken = breakLevelReads()
  try {
    const err = await t.throwsAsync(store.getConsensusSnapshot())
    t.true(isStorageFault(err))
    t.is((err as StorageError).code, StorageErrorCode.IO_ERROR)
    t.regex(err!.message, /the consensus snapshot in .* failed: IO error: 000005\.ldb: Input\/output error\. Check the disk/)
    await t.throwsAsync(store.getBlock(1), { message: /block 1 in .* failed: IO error/ })
  } finally {
    broken.restore()
  }
  t.is(faults.length, 1, 'the owner is told once, with the first fault')
  t.is(store.fault, faults[0])
  // Never a half state: with the disk in doubt nothing more is written, though reads work again.
  await t.throwsAsync(store.commit(chain[1]), { message: /consensus snapshot/ })
  await t.throwsAsync(store.putLastSigned({ height: 2, round: 0, step: 1 }), { message: /consensus snapshot/ })
  t.is(store.head?.height, 1)
})

test.serial('a failed batch write (disk full) is a storage fault naming the blocks; the head stays', async t => {
  const { store, chain, faults } = await storeAtHeight1(t)
  // classic-level's chained batch: its native write fails as on a full disk.
  const chainedBatch: string = 'classic-level/chained-batch.js'
  const { ChainedBatch } = await import(chainedBatch) as { ChainedBatch: { prototype: { _write: (...a: unknown[]) => Promise<void> } } }
  const write = ChainedBatch.prototype._write
  ChainedBatch.prototype._write = async () => { throw Object.assign(new Error('IO error: 000007.log: No space left on device'), { code: 'LEVEL_IO_ERROR' }) }
  try {
    await t.throwsAsync(store.commit(chain[1]), { message: /writing blocks 2-2 to .* failed: .*No space left on device\. Check free disk space/ })
  } finally {
    ChainedBatch.prototype._write = write
  }
  t.is(faults.length, 1)
  t.is(faults[0].code, StorageErrorCode.IO_ERROR)
  t.is(store.head?.height, 1, 'the head stays at the last block written')
})
