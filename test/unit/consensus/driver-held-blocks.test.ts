/**
 * Regression test for docs/simulation.md Finding 11, through real ConsensusDrivers on one real
 * ChainStore: a lone validator precommits its block and dies before the block reaches the disk
 * (the commit never returns: the crash point). A new driver on the same store (the first one's
 * memory is gone) must commit that very block. It used to come back locked on a block it no
 * longer held: the re-counted precommit could not be committed, and every later round it refused
 * its own re-proposal, for ever.
 */
import test from 'ava'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ConsensusDriver } from '../../../src/consensus/driver.ts'
import { Genesis, DEFAULT_PARAMS } from '../../../src/chain/genesis.ts'
import { decodeConsensusMessage } from '../../../src/chain/codec.ts'
import { VoteType, type FinalizedBlock } from '../../../src/chain/types.ts'
import { ChainStore } from '../../../src/storage/index.ts'
import { Mempool } from '../../../src/mempool/mempool.ts'
import { VerifyPool } from '../../../src/crypto/verify-pool.ts'
import { bytesEqual } from '../../../src/encoding/bytes.ts'
import { TEST_CHAIN_ID, TEST_TIME, testValidators } from '../../helpers/fixtures.ts'
import { newDriver } from './driver-harness.ts'

async function until (cond: () => boolean | Promise<boolean>, ms = 10_000): Promise<boolean> {
  const deadline = Date.now() + ms
  while (!(await cond())) {
    if (Date.now() > deadline) return false
    await new Promise(resolve => setTimeout(resolve, 20))
  }
  return true
}

test('a lone validator that crashed between its precommit and the commit commits that block after the restart', async t => {
  const [key] = testValidators(1)
  const genesis = new Genesis({ chainId: TEST_CHAIN_ID, genesisTime: TEST_TIME, validators: [{ name: 'validator-0', publicKey: key.publicKey }], observers: [], params: DEFAULT_PARAMS })
  const dir = await mkdtemp(join(tmpdir(), 'medledger-'))
  const store = await ChainStore.open(dir, { chainId: genesis.chainId, genesisHash: genesis.hash })
  const pool = new VerifyPool({ inlineBelow: Number.MAX_SAFE_INTEGER })
  const published: Uint8Array[] = []
  const drivers: ConsensusDriver[] = []
  t.teardown(async () => {
    for (const d of drivers) void d.stop()
    await store.close()
    await pool.close()
    await rm(dir, { recursive: true, force: true })
  })
  const start = async (): Promise<ConsensusDriver> => {
    const driver = newDriver(genesis, key, store, pool, new Mempool({ maxBytes: 16 * 1024 * 1024, maxBatches: 1000 }), published, {
      timeouts: { proposeMs: 200, prevoteMs: 200, precommitMs: 200, deltaMs: 50 },
      heartbeatMs: 0
    })
    drivers.push(driver)
    await driver.start()
    return driver
  }
  const precommits = () => published.map(b => decodeConsensusMessage(b)).flatMap(m => m.kind === 'vote' && m.vote.type === VoteType.PRECOMMIT && m.vote.height === 1 && m.vote.blockHash !== null ? [m.vote] : [])

  // The first life: the decided block's commit never returns (the process dies there).
  const commit = store.commit
  store.commit = async (_fb: FinalizedBlock) => await new Promise<void>(() => {})
  await start()
  t.true(await until(() => precommits().length > 0), 'the validator precommits a block of height 1')
  const decided = precommits()[0].blockHash as Uint8Array
  await new Promise(resolve => setTimeout(resolve, 100))
  t.is(store.head, null, 'nothing reached the chain')
  void drivers[0].stop()

  // The second life: a new driver (no memory of the first) on the same store.
  store.commit = commit
  await start()
  t.true(await until(() => (store.head?.height ?? 0) >= 1), 'height 1 is committed after the restart')
  const fb = await store.getFinalized(1)
  t.true(fb !== undefined && bytesEqual(fb.certificate.blockHash, decided), 'the block committed is the one precommitted before the crash')
})
