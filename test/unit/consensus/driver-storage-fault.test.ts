/**
 * Fail-stop in the consensus driver (issue 13, item 5): a storage fault met by a consensus task
 * halts the driver and is handed to its owner, never left as an unhandled rejection. On 30150e2 the
 * height started by the mempool waiter (`void whenNotEmpty().then(...)`) rejected with nobody to
 * catch it: the daemon died with a stack trace (here ava reports the unhandled rejection).
 */
import test from 'ava'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Genesis, DEFAULT_PARAMS } from '../../../src/chain/genesis.ts'
import { ChainStore, StorageError, StorageErrorCode } from '../../../src/storage/index.ts'
import { Mempool } from '../../../src/mempool/mempool.ts'
import { VerifyPool } from '../../../src/crypto/verify-pool.ts'
import { batchId } from '../../../src/chain/hashing.ts'
import { encodeBatch } from '../../../src/chain/codec.ts'
import { toHex } from '../../../src/encoding/bytes.ts'
import { TEST_CHAIN_ID, TEST_TIME, sampleBatch, testValidators } from '../../helpers/fixtures.ts'
import { newDriver } from './driver-harness.ts'

test('a storage fault while the mempool waiter starts a height halts the driver and reaches onFatal; nothing is signed', async t => {
  const [key] = testValidators(1)
  const genesis = new Genesis({ chainId: TEST_CHAIN_ID, genesisTime: TEST_TIME, validators: [{ name: 'validator-0', publicKey: key.publicKey }], observers: [], params: DEFAULT_PARAMS })
  const dir = await mkdtemp(join(tmpdir(), 'medledger-'))
  const store = await ChainStore.open(dir, { chainId: genesis.chainId, genesisHash: genesis.hash })
  const pool = new VerifyPool()
  const mempool = new Mempool({ maxBytes: 16 * 1024 * 1024, maxBatches: 1000 })
  const published: Uint8Array[] = []
  const fatal: Error[] = []
  const driver = newDriver(genesis, key, store, pool, mempool, published, {
    timeouts: { proposeMs: 200, prevoteMs: 200, precommitMs: 200, deltaMs: 100 },
    rebroadcastMs: 100
  }, {
    onFatal: (err) => { fatal.push(err) },
    // The clock stands at genesis: the heartbeat is an hour away, so the height waits for records.
    now: () => TEST_TIME
  })
  t.teardown(async () => {
    await driver.stop()
    await store.close()
    await pool.close()
    await rm(dir, { recursive: true, force: true })
  })
  await driver.start()
  t.is(driver.currentRound, 0)
  t.deepEqual(published, [], 'idle: nothing proposed yet')

  // The disk goes bad: the next read of consensus state fails.
  const fault = new StorageError(StorageErrorCode.IO_ERROR, `reading or writing the consensus snapshot in ${dir} failed: IO error: Input/output error`)
  store.getConsensusSnapshot = async () => { throw fault }
  const batch = sampleBatch(key)
  t.is(mempool.add(batch, encodeBatch(batch).length, toHex(batchId(batch))), 'added')

  const deadline = Date.now() + 30_000
  while (fatal.length === 0 && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 20))
  t.deepEqual(fatal, [fault], 'the owner hears of the fault once')
  t.is(driver.fault, fault)
  await new Promise(resolve => setTimeout(resolve, 1000))
  t.deepEqual(published, [], 'nothing proposed, voted or re-sent after the fault')
})
