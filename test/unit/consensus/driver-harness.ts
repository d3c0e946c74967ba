import type { ExecutionContext } from 'ava'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ConsensusDriver } from '../../../src/consensus/driver.ts'
import type { DriverOptions } from '../../../src/consensus/options.ts'
import { Genesis, DEFAULT_PARAMS } from '../../../src/chain/genesis.ts'
import { GovernanceSchedule } from '../../../src/governance/schedule.ts'
import { ChainStore } from '../../../src/storage/index.ts'
import { Mempool } from '../../../src/mempool/mempool.ts'
import { VerifyPool } from '../../../src/crypto/verify-pool.ts'
import { ChainVerifier } from '../../../src/chain/verifier.ts'
import { decodeConsensusMessage, type ConsensusMessage } from '../../../src/chain/codec.ts'
import { silentLogger } from '../../../src/logger.ts'
import type { NodeKey } from '../../../src/crypto/ed25519.ts'
import { TEST_CHAIN_ID, TEST_TIME, testValidators } from '../../helpers/fixtures.ts'

export const keys = testValidators(4)
export const genesis = new Genesis({ chainId: TEST_CHAIN_ID, genesisTime: TEST_TIME, validators: keys.map((k, i) => ({ name: `validator-${i}`, publicKey: k.publicKey })), observers: [], params: DEFAULT_PARAMS })

/** Long timeouts, heartbeat and rebroadcast: rounds change only through the messages a test delivers. */
export const QUIET_DRIVER: DriverOptions = {
  timeouts: { proposeMs: 30_000, prevoteMs: 30_000, precommitMs: 30_000, deltaMs: 1000 },
  heartbeatMs: 3_600_000,
  rebroadcastMs: 3_600_000,
  maxBlockBytes: 4 * 1024 * 1024,
  maxBatchesPerBlock: 1000,
  maxFutureMessages: 10_000,
  maxFutureBytes: 16 * 1024 * 1024,
  byzantine: false
}

/** A real driver on a fresh store at height 1, signing as `signer` (`before` runs on the store first); `published` decodes what it sent. */
export async function startDriver (t: ExecutionContext, signer: NodeKey, opts: Partial<DriverOptions> = {}, before?: (store: ChainStore) => Promise<void>): Promise<{ driver: ConsensusDriver, published: () => ConsensusMessage[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'medledger-driver-'))
  const schedule = new GovernanceSchedule(genesis.validators, genesis.params.governanceDelay)
  const store = await ChainStore.open(dir, { chainId: genesis.chainId, genesisHash: genesis.hash })
  const pool = new VerifyPool()
  const sent: Uint8Array[] = []
  const driver = new ConsensusDriver({ ...QUIET_DRIVER, ...opts }, {
    genesis,
    schedule,
    store,
    mempool: new Mempool({ maxBytes: 16 * 1024 * 1024, maxBatches: 1000 }),
    pool,
    verifier: new ChainVerifier(genesis.chainId, schedule, pool, store),
    signer,
    network: { publishConsensus: (bytes) => { sent.push(bytes) }, requestSync: () => {} },
    logger: silentLogger,
    onFinalized: () => {}
  })
  t.teardown(async () => {
    await driver.stop()
    await store.close()
    await pool.close()
    await rm(dir, { recursive: true, force: true })
  })
  await before?.(store)
  await driver.start()
  return { driver, published: () => sent.map(b => decodeConsensusMessage(b)) }
}
