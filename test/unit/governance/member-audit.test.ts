/**
 * The offline audit (`medledger verify`) follows the genesis members: a chain holding members'
 * batches verifies, and a batch by a key that is no member is still refused.
 */
import test from 'ava'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Genesis, DEFAULT_PARAMS } from '../../../src/chain/genesis.ts'
import { ChainStore } from '../../../src/storage/index.ts'
import { VerifyPool } from '../../../src/crypto/verify-pool.ts'
import { auditStore } from '../../../src/audit/audit.ts'
import { makeChain, sampleBatch, testKey, testValidators, TEST_CHAIN_ID, TEST_TIME } from '../../helpers/fixtures.ts'

const V = testValidators(4)
const MEMBER = testKey(90)
const STRANGER = testKey(91)
const genesis = new Genesis({ chainId: TEST_CHAIN_ID, genesisTime: TEST_TIME, validators: V.map((k, i) => ({ name: `v${i}`, publicKey: k.publicKey })), observers: [], members: [{ name: 'clinic', publicKey: MEMBER.publicKey }], params: DEFAULT_PARAMS })
const pool = new VerifyPool({ inlineBelow: Number.MAX_SAFE_INTEGER })
test.after.always(async () => { await pool.close() })

async function audit (t: { teardown: (fn: () => Promise<void>) => void }, author: typeof MEMBER): Promise<{ ok: boolean, code?: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'medledger-member-audit-'))
  const store = await ChainStore.open(dir, { chainId: genesis.chainId, genesisHash: genesis.hash })
  t.teardown(async () => { await store.close(); await rm(dir, { recursive: true, force: true }) })
  await store.commitMany(makeChain(V, 3, { genesisHash: genesis.hash, batchesAt: (h, proposer) => [sampleBatch(proposer, 1, h), sampleBatch(author, 1, 100 + h)] }))
  return await auditStore(store, genesis, pool)
}

test('a chain holding a genesis member\'s batches passes the audit', async t => {
  const report = await audit(t, MEMBER)
  t.true(report.ok, JSON.stringify(report))
})

test('a chain holding a stranger\'s batch fails the audit', async t => {
  t.like(await audit(t, STRANGER), { ok: false, code: 'CHAIN_BATCH_AUTHOR_UNKNOWN' })
})
