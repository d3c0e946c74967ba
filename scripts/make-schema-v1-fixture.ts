/**
 * Writes test/fixtures/schema-v1: a small ledger database in the layout of schema v1 (the layout
 * before `medledger migrate` existed, without the version stamp that releases of that layout did
 * not always write), with the genesis file it belongs to. test/e2e/migrate.test.ts upgrades a copy.
 *
 *   node_modules/.bin/node --import tsx scripts/make-schema-v1-fixture.ts [out dir]
 *
 * v1 is v2 without meta `recordCount`: so the chain is written by today's store and the keys v1
 * never had are deleted. The chain is real: 4 validators' keys from fixed seeds (test/helpers/
 * fixtures.ts), every block certified by all, 6 blocks of 2 records; a regulator observer (seed 50).
 */
import { mkdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Level } from 'level'
import { DEFAULT_PARAMS, Genesis } from '../src/chain/genesis.ts'
import { Bucket, ChainStore } from '../src/storage/index.ts'
import { makeChain, sampleBatch, testKey, testValidators, TEST_TIME } from '../test/helpers/fixtures.ts'

export const FIXTURE_CHAIN_ID = 'medledger-fixture'
export const FIXTURE_BLOCKS = 6
export const FIXTURE_RECORDS = 12
/** The seed byte of the fixture's regulator key (testKey(50)). */
export const FIXTURE_OBSERVER_SEED = 50

const out = process.argv[2] ?? join(import.meta.dirname, '..', 'test', 'fixtures', 'schema-v1')
await rm(out, { recursive: true, force: true })
await mkdir(out, { recursive: true })
const validators = testValidators(4)
const genesis = new Genesis({
  chainId: FIXTURE_CHAIN_ID,
  genesisTime: TEST_TIME,
  validators: validators.map((k, i) => ({ name: `validator-${i}`, publicKey: k.publicKey })),
  observers: [{ name: 'regulator', publicKey: testKey(FIXTURE_OBSERVER_SEED).publicKey }],
  params: DEFAULT_PARAMS
})
const chain = makeChain(validators, FIXTURE_BLOCKS, { chainId: FIXTURE_CHAIN_ID, genesisHash: genesis.hash, batchesAt: (h, proposer) => [sampleBatch(proposer, 2, h * 10, FIXTURE_CHAIN_ID)] })
const dataDir = join(out, 'data')
const store = await ChainStore.open(dataDir, { chainId: genesis.chainId, genesisHash: genesis.hash })
await store.commitMany(chain)
await store.close()

const db = new Level<string, Uint8Array>(dataDir, { valueEncoding: 'view' })
const meta = db.sublevel<string, Uint8Array>(Bucket.meta, { valueEncoding: 'view' })
await meta.batch([{ type: 'del', key: 'schemaVersion' }, { type: 'del', key: 'recordCount' }])
// Into table files (classic-level has compactRange; the level type does not list it).
await (db as unknown as { compactRange: (start: string, end: string) => Promise<void> }).compactRange('!', '~')
await db.close()
// LevelDB's own text logs and lock file are not the database.
for (const f of ['LOG', 'LOG.old', 'LOCK']) await rm(join(dataDir, f), { force: true })
await writeFile(join(out, 'genesis.json'), JSON.stringify(genesis.toJson(), null, 2) + '\n')
process.stdout.write(`wrote ${out}: ${FIXTURE_BLOCKS} blocks, ${FIXTURE_RECORDS} records, schema v1 (no version stamp)\n`)
