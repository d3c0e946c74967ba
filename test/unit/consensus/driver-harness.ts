import type { ExecutionContext } from 'ava'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ConsensusDriver, type DriverModules } from '../../../src/consensus/driver.ts'
import { Genesis, DEFAULT_PARAMS } from '../../../src/chain/genesis.ts'
import type { DriverOptions } from '../../../src/consensus/options.ts'
import { GovernanceSchedule } from '../../../src/governance/schedule.ts'
import { ChainStore } from '../../../src/storage/index.ts'
import { Mempool } from '../../../src/mempool/mempool.ts'
import { VerifyPool } from '../../../src/crypto/verify-pool.ts'
import { ChainVerifier } from '../../../src/chain/verifier.ts'
import { decodeConsensusMessage, encodeConsensusMessage, type ConsensusMessage } from '../../../src/chain/codec.ts'
import type { FinalizedBlock, Proposal, Vote } from '../../../src/chain/types.ts'
import { bytesEqual } from '../../../src/encoding/bytes.ts'
import { silentLogger } from '../../../src/logger.ts'
import type { NodeKey } from '../../../src/crypto/ed25519.ts'
import { TEST_CHAIN_ID, TEST_TIME, testValidators } from '../../helpers/fixtures.ts'

/** Four test validators and their genesis, for tests that need no other chain. */
export const keys = testValidators(4)
export const genesis = new Genesis({ chainId: TEST_CHAIN_ID, genesisTime: TEST_TIME, validators: keys.map((k, i) => ({ name: `validator-${i}`, publicKey: k.publicKey })), observers: [], params: DEFAULT_PARAMS })

export interface StartedDriver {
  driver: ConsensusDriver
  store: ChainStore
  mempool: Mempool
  /** The votes `self` published, decoded. */
  votes: () => Vote[]
  /** Every proposal published, decoded. */
  proposals: () => Proposal[]
  /** Every message published, decoded. */
  published: () => ConsensusMessage[]
}

export interface DriverHarnessOptions {
  /** Final blocks in the store before the driver starts. */
  chain?: FinalizedBlock[]
  heartbeatMs?: number
  maxClockDriftMs?: number
  /** Fills the mempool before the driver starts. */
  fill?: (m: Mempool) => void
  /** Runs on the store before the driver starts. */
  before?: (store: ChainStore) => Promise<void>
  /** Driver options over the quiet defaults. */
  options?: Partial<DriverOptions>
}

/** What a test may give the driver besides its options: who hears of a fatal fault, and a held clock. */
export type DriverHooks = Pick<DriverModules, 'onFatal' | 'now'>

/**
 * A real ConsensusDriver of `self` on `store`, publishing into `published`: long timeouts,
 * heartbeat and rebroadcast unless `options` says otherwise (`options.timeouts` replaces the
 * round timeouts); `hooks` passes onFatal and a clock that stands still.
 */
export function newDriver (genesis: Genesis, self: NodeKey, store: ChainStore, pool: VerifyPool, mempool: Mempool, published: Uint8Array[], options: Partial<DriverOptions> = {}, hooks: DriverHooks = {}): ConsensusDriver {
  const schedule = GovernanceSchedule.fromGenesis(genesis)
  return new ConsensusDriver({
    timeouts: { proposeMs: 30_000, prevoteMs: 30_000, precommitMs: 30_000, deltaMs: 1000 },
    heartbeatMs: 3_600_000,
    rebroadcastMs: 3_600_000,
    maxBlockBytes: 4 * 1024 * 1024,
    maxBatchesPerBlock: 1000,
    maxFutureMessages: 10_000,
    maxFutureBytes: 16 * 1024 * 1024,
    byzantine: false,
    ...options
  }, {
    genesis,
    schedule,
    store,
    mempool,
    pool,
    verifier: new ChainVerifier(genesis.chainId, schedule, pool, store),
    signer: self,
    network: { publishConsensus: (bytes) => { published.push(bytes) }, publishProposal: (proposal) => { published.push(encodeConsensusMessage({ kind: 'proposal', proposal })) }, requestSync: () => {} },
    logger: silentLogger,
    onFinalized: () => {},
    ...hooks
  })
}

/**
 * A real ConsensusDriver of `self` over a fresh LevelDB store, publishing into a list. Long
 * timeouts and heartbeat (unless given): rounds change only through the messages a test delivers.
 */
export async function startDriver (t: ExecutionContext, genesis: Genesis, self: NodeKey, o: DriverHarnessOptions = {}): Promise<StartedDriver> {
  const dir = await mkdtemp(join(tmpdir(), 'medledger-'))
  const store = await ChainStore.open(dir, { chainId: genesis.chainId, genesisHash: genesis.hash })
  if (o.chain !== undefined && o.chain.length > 0) await store.commitMany(o.chain)
  // Worker threads would not inherit the test runner's TypeScript loader: verify inline.
  const pool = new VerifyPool({ inlineBelow: Number.MAX_SAFE_INTEGER })
  const mempool = new Mempool({ maxBytes: 16 * 1024 * 1024, maxBatches: 1000 })
  o.fill?.(mempool)
  const published: Uint8Array[] = []
  const driver = newDriver(genesis, self, store, pool, mempool, published, {
    heartbeatMs: o.heartbeatMs ?? 3_600_000,
    maxClockDriftMs: o.maxClockDriftMs,
    ...o.options
  })
  t.teardown(async () => {
    await driver.stop()
    await store.close()
    await pool.close()
    await rm(dir, { recursive: true, force: true })
  })
  await o.before?.(store)
  await driver.start()
  const messages = () => published.map(b => decodeConsensusMessage(b))
  return {
    driver,
    store,
    mempool,
    votes: () => messages().flatMap(m => m.kind === 'vote' ? [m.vote] : []).filter(v => bytesEqual(v.validator, self.publicKey)),
    proposals: () => messages().flatMap(m => m.kind === 'proposal' ? [m.proposal] : []),
    published: messages
  }
}

/** Waits until `cond` holds, checking every 20 ms; throws naming `what` after `ms`. */
export async function until (what: string, cond: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}
