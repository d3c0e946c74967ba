import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { readdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import test from 'ava'
import { Level } from 'level'
import { heightKey } from '../../../src/encoding/bytes.ts'
import { Bucket, ChainStore, StorageErrorCode } from '../../../src/storage/index.ts'
import { migrateDatabase } from '../../../src/storage/migrations.ts'
import { openStore, sampleChain, STORE_OPTS, tempDir } from './sample.ts'

const CHILD = fileURLToPath(new URL('./store-child.ts', import.meta.url))
const code = (c: StorageErrorCode) => ({ code: c })

/** Writes raw entries the way a damaged or foreign database might hold them. */
async function rawPut (dir: string, bucket: string, key: Uint8Array | string, value: Uint8Array): Promise<void> {
  const db = new Level<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' })
  const sub = db.sublevel<Uint8Array | string, Uint8Array>(bucket, { keyEncoding: typeof key === 'string' ? 'utf8' : 'view', valueEncoding: 'view' })
  await sub.put(key, value)
  await db.close()
}

async function storeWithBlocks (dir: string, n: number): Promise<void> {
  const store = await ChainStore.open(dir, STORE_OPTS)
  await store.commitMany(sampleChain(n))
  await store.close()
}

test('a second open in the same process is STORAGE_LOCKED and says what to do', async t => {
  const dir = await tempDir(t)
  await openStore(t, dir)
  const err = await t.throwsAsync(ChainStore.open(dir, STORE_OPTS), code(StorageErrorCode.LOCKED))
  t.true(err!.message.includes(`another medledger process is using ${dir}`))
  t.regex(err!.message, /Stop that process first/)
})

test('a database held by another process is STORAGE_LOCKED, and opens once that process stops', async t => {
  const dir = await tempDir(t)
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, 'hold', dir], { stdio: ['pipe', 'pipe', 'inherit'] })
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  const [line] = await once(createInterface({ input: child.stdout }), 'line')
  t.is(line, 'open')
  const err = await t.throwsAsync(ChainStore.open(dir, STORE_OPTS), code(StorageErrorCode.LOCKED))
  t.notRegex(err!.message, /\n\s+at /) // an operator message, not a stack trace
  child.stdin.end()
  await once(child, 'exit')
  const store = await openStore(t, dir)
  t.is(store.head, null)
})

test('a damaged CURRENT file is STORAGE_CORRUPT with recovery advice', async t => {
  const dir = await tempDir(t)
  await storeWithBlocks(dir, 2)
  await writeFile(join(dir, 'CURRENT'), 'garbage')
  const err = await t.throwsAsync(ChainStore.open(dir, { ...STORE_OPTS, home: '/srv/medledger' }), code(StorageErrorCode.CORRUPT))
  t.regex(err!.message, /medledger verify --home \/srv\/medledger/)
  t.regex(err!.message, /restore it from an export|resync/)
})

test('a lost CURRENT file is refused instead of silently starting an empty ledger', async t => {
  const dir = await tempDir(t)
  await storeWithBlocks(dir, 2)
  await rm(join(dir, 'CURRENT'))
  await t.throwsAsync(ChainStore.open(dir, STORE_OPTS), code(StorageErrorCode.CORRUPT))
  t.true((await readdir(dir)).some(n => n.endsWith('.log') || n.endsWith('.ldb')), 'the data files are left alone')
})

test('a path that is a file is STORAGE_IO_ERROR', async t => {
  const dir = await tempDir(t)
  const file = join(dir, 'not-a-dir')
  await writeFile(file, 'x')
  const err = await t.throwsAsync(ChainStore.open(file, STORE_OPTS), code(StorageErrorCode.IO_ERROR))
  t.regex(err!.message, /Check that the path is a directory/)
})

test('a head pointing at a missing block is STORAGE_CORRUPT', async t => {
  const dir = await tempDir(t)
  await storeWithBlocks(dir, 2)
  const head = new Uint8Array(40)
  head.set(heightKey(7))
  await rawPut(dir, Bucket.meta, 'head', head)
  await t.throwsAsync(ChainStore.open(dir, STORE_OPTS), code(StorageErrorCode.CORRUPT))
})

test('a block stored above the head is STORAGE_CORRUPT', async t => {
  const dir = await tempDir(t)
  await storeWithBlocks(dir, 2)
  await rawPut(dir, Bucket.blocks, heightKey(3), new Uint8Array([1]))
  await t.throwsAsync(ChainStore.open(dir, STORE_OPTS), code(StorageErrorCode.CORRUPT))
})

test('a database from a newer layout is STORAGE_UNSUPPORTED_SCHEMA', async t => {
  const dir = await tempDir(t)
  await storeWithBlocks(dir, 1)
  await rawPut(dir, Bucket.meta, 'schemaVersion', new Uint8Array([0, 0, 0, 99]))
  const err = await t.throwsAsync(ChainStore.open(dir, STORE_OPTS), code(StorageErrorCode.UNSUPPORTED_SCHEMA))
  t.regex(err!.message, /upgrade medledger/)
})

test('a database of an older layout (schema 1, stamped or not) is STORAGE_OLD_SCHEMA, naming `medledger migrate`; migrateDatabase brings it back with its record count', async t => {
  const dir = await tempDir(t)
  await storeWithBlocks(dir, 3)
  const reopened = await ChainStore.open(dir, STORE_OPTS)
  const records = reopened.recordCount
  t.true(records >= 3, 'the record count follows every commit and survives a reopen')
  await reopened.close()
  for (const stamp of [new Uint8Array([0, 0, 0, 1]), undefined]) {
    const db = new Level<string, Uint8Array>(dir, { valueEncoding: 'view' })
    const meta = db.sublevel<string, Uint8Array>(Bucket.meta, { valueEncoding: 'view' })
    await meta.del('recordCount')
    if (stamp === undefined) await meta.del('schemaVersion')
    else await meta.put('schemaVersion', stamp)
    await db.close()
    const err = await t.throwsAsync(ChainStore.open(dir, { ...STORE_OPTS, home: '/srv/node' }), code(StorageErrorCode.OLD_SCHEMA))
    t.true(err!.message.includes('has database schema v1, this binary needs v2: run `medledger migrate --home /srv/node`'), err!.message)
    t.deepEqual(await migrateDatabase(dir, '/srv/node'), { from: 1, to: 2, steps: ['v1 -> v2: count the final records (meta recordCount: /v1/status and the explorer show the total)'] })
    const store = await ChainStore.open(dir, STORE_OPTS)
    t.is(store.recordCount, records)
    await store.close()
  }
})

test('stored bytes that do not decode are STORAGE_CORRUPT on read', async t => {
  const dir = await tempDir(t)
  await storeWithBlocks(dir, 2)
  await rawPut(dir, Bucket.blocks, heightKey(1), new Uint8Array([0x83, 1]))
  const store = await openStore(t, dir)
  await t.throwsAsync(store.getBlock(1), code(StorageErrorCode.CORRUPT))
  await t.throwsAsync(store.getFinalized(1), code(StorageErrorCode.CORRUPT))
  t.truthy(await store.getBlock(2))
})
