/**
 * Database schema versions and `medledger migrate` (issue 17), from a database made by an earlier
 * layout: test/fixtures/schema-v1 (scripts/make-schema-v1-fixture.ts), schema v1 without the
 * version stamp. `start` refuses it and says to migrate; `migrate` brings it to this layout (and
 * is safe to run again); the migrated database verifies and serves. Real CLI, real daemon.
 */
import test from 'ava'
import { execFile } from 'node:child_process'
import { cp, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { BIN, Daemon } from '../../src/devnet/daemon.ts'
import { freePort } from '../../src/devnet/ports.ts'
import { writeKeyFile } from '../../src/keys/key-file.ts'
import { SCHEMA_VERSION } from '../../src/storage/index.ts'
import { testKey } from '../helpers/fixtures.ts'
import { waitFor } from '../helpers/devnet.ts'

const exec = promisify(execFile)
const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'schema-v1')

async function cli (...args: string[]): Promise<{ code: number, out: string }> {
  return await exec(process.execPath, [BIN, ...args], { timeout: 120_000 }).then(
    r => ({ code: 0, out: r.stdout + r.stderr }),
    (e: { code: number, stdout: string, stderr: string }) => ({ code: e.code, out: e.stdout + e.stderr }))
}

test.serial('a schema v1 database: `start` refuses it and names `medledger migrate`; migrate upgrades it (again: nothing to do); it verifies and serves its 6 blocks and 12 records', async t => {
  t.is(SCHEMA_VERSION, 2, 'this test knows the steps up to schema 2')
  const dir = await mkdtemp(join(tmpdir(), 'medledger-migrate-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const home = join(dir, 'regulator')
  const keyFile = join(dir, 'regulator.key')
  await writeKeyFile(keyFile, testKey(50))
  const [p2pPort, apiPort] = [await freePort(), await freePort()]
  const init = await cli('init', '--home', home, '--genesis', join(FIXTURE, 'genesis.json'), '--key', keyFile, '--role', 'observer', '--p2p-listen', `/ip4/127.0.0.1/tcp/${p2pPort}`, '--api-listen', `127.0.0.1:${apiPort}`)
  t.is(init.code, 0, init.out)
  // The operator's database from the earlier release, copied (never opened in place: opening writes).
  await cp(join(FIXTURE, 'data'), join(home, 'data'), { recursive: true })
  const dataDir = join(home, 'data')

  const refused = await cli('start', '--home', home)
  t.not(refused.code, 0)
  t.true(refused.out.includes(`the ledger database in ${dataDir} has database schema v1, this binary needs v2: run \`medledger migrate --home ${home}\``), refused.out)
  // Every command that opens the database says the same, and changes nothing.
  const verifyBefore = await cli('verify', '--home', home)
  t.not(verifyBefore.code, 0)
  t.regex(verifyBefore.out, /database schema v1, this binary needs v2: run `medledger migrate/)

  const migrated = await cli('migrate', '--home', home)
  t.is(migrated.code, 0, migrated.out)
  t.is(migrated.out, `migrated ${dataDir} from schema v1 to v2:\n  v1 -> v2: count the final records (meta recordCount: /v1/status and the explorer show the total)\n`)
  const again = await cli('migrate', '--home', home, '--json')
  t.is(again.code, 0, again.out)
  t.deepEqual(JSON.parse(again.out), { from: 2, to: 2, steps: [] })

  const verified = await cli('verify', '--home', home, '--json')
  t.is(verified.code, 0, verified.out)
  t.like(JSON.parse(verified.out), { ok: true, height: 6, blocks: 6, records: 12 })

  const daemon = new Daemon({ name: 'regulator', role: 'observer', home, peerId: testKey(50).peerId, p2pPort, apiPort, token: '' }, [], { lifeline: true })
  daemon.start()
  t.teardown(async () => { await daemon.stop('SIGKILL') })
  const status = await waitFor('the migrated node serving', async () => {
    const res = await fetch(`http://127.0.0.1:${apiPort}/v1/status`).catch(() => undefined)
    return res?.ok === true ? await res.json() as { height: number, records: number, versions: { schema: number } } : undefined
  }, 60_000)
  t.like(status, { height: 6, records: 12, versions: { schema: 2 } })
  // A running node's database is locked: migrate says to stop it, and touches nothing.
  const running = await cli('migrate', '--home', home)
  t.not(running.code, 0)
  t.regex(running.out, /is running \(its database .* is locked\)\. Stop it first/)
  t.is(await daemon.stop('SIGTERM'), 0)
})

test.serial('migrate: a home without a database yet, and a database of a newer layout, are refused with what to do', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'medledger-migrate-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const home = join(dir, 'regulator')
  const keyFile = join(dir, 'regulator.key')
  await writeKeyFile(keyFile, testKey(50))
  t.is((await cli('init', '--home', home, '--genesis', join(FIXTURE, 'genesis.json'), '--key', keyFile, '--role', 'observer')).code, 0)
  const none = await cli('migrate', '--home', home)
  t.not(none.code, 0)
  t.regex(none.out, /there is no ledger database in .*: nothing to migrate/)

  await cp(join(FIXTURE, 'data'), join(home, 'data'), { recursive: true })
  const { Level } = await import('level')
  const db = new Level<string, Uint8Array>(join(home, 'data'), { valueEncoding: 'view' })
  await db.sublevel<string, Uint8Array>('m', { valueEncoding: 'view' }).put('schemaVersion', new Uint8Array([0, 0, 0, SCHEMA_VERSION + 1]))
  await db.close()
  const newer = await cli('migrate', '--home', home)
  t.not(newer.code, 0)
  t.regex(newer.out, new RegExp(`layout version ${SCHEMA_VERSION + 1}, this medledger reads up to ${SCHEMA_VERSION}: upgrade medledger`))
})
