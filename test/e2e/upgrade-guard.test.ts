import test from 'ava'
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { Level } from 'level'
import { BIN } from '../../src/devnet/daemon.ts'
import { SCHEMA_VERSION, Bucket } from '../../src/storage/index.ts'
import { startDevnet, waitForHeight } from '../helpers/devnet.ts'

const exec = promisify(execFile)

test.serial('/v1/status says which database layout and wire protocols the node speaks; a database from a newer layout stops `start` with a clear message', async t => {
  const [d] = await startDevnet(t, { validators: ['solo'], observers: [], heartbeatMs: 500 })
  await waitForHeight([d], 1)
  const status = await (await fetch(`${d.api}/v1/status`)).json() as { chainId: string, versions: { schema: number, protocols: string[] } }
  t.is(status.versions.schema, SCHEMA_VERSION)
  t.true(status.versions.protocols.includes(`/medledger/${status.chainId}/blocks/1`), status.versions.protocols.join(' '))
  t.true(status.versions.protocols.every(p => /^\/medledger\/.+\/\d+$/.test(p)))
  await d.stop('SIGTERM')

  // As if a newer medledger had written the database, then the operator went back to this one.
  const db = new Level<string, Uint8Array>(join(d.node.home, 'data'), { valueEncoding: 'view' })
  await db.sublevel<string, Uint8Array>(Bucket.meta, { valueEncoding: 'view' }).put('schemaVersion', new Uint8Array([0, 0, 0, SCHEMA_VERSION + 1]))
  await db.close()
  const r = await exec(process.execPath, [BIN, 'start', '--home', d.node.home], { timeout: 60_000 }).then(x => ({ code: 0, out: x.stdout + x.stderr }), (e: { code: number, stdout: string, stderr: string }) => ({ code: e.code, out: e.stdout + e.stderr }))
  t.not(r.code, 0, r.out)
  t.regex(r.out, new RegExp(`layout version ${SCHEMA_VERSION + 1}, this medledger reads up to ${SCHEMA_VERSION}: upgrade medledger`))
})
