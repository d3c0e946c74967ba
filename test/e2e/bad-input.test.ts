import test from 'ava'
import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { BIN, Daemon } from '../../src/devnet/daemon.ts'
import { sampleRecord, startDevnet, waitFor, waitForHeight } from '../helpers/devnet.ts'

const exec = promisify(execFile)

async function cli (args: string[]): Promise<{ code: number, stdout: string, stderr: string }> {
  try {
    const r = await exec(process.execPath, [BIN, ...args])
    return { code: 0, stdout: r.stdout, stderr: r.stderr }
  } catch (err) {
    const e = err as { code: number, stdout: string, stderr: string }
    return { code: e.code, stdout: e.stdout, stderr: e.stderr }
  }
}

test.serial('the API answers bad input with clear JSON errors and the node keeps working', async t => {
  const [d] = await startDevnet(t, { validators: ['solo'], observers: [], heartbeatMs: 1000 })
  await waitForHeight([d], 1)
  const post = async (body: string, headers: Record<string, string> = {}): Promise<{ status: number, json: { error?: { code: string, message: string } } }> => {
    const res = await fetch(`${d.api}/v1/records`, { method: 'POST', headers: { authorization: `Bearer ${d.node.token}`, 'content-type': 'application/json', ...headers }, body })
    return { status: res.status, json: await res.json() as { error?: { code: string, message: string } } }
  }
  const malformed = await post('{"records": [')
  t.is(malformed.status, 400)
  t.truthy(malformed.json.error?.message)
  const wrongType = await post(JSON.stringify({ records: [{ ...sampleRecord(1), subject: 'Jane Doe' }] }))
  t.is(wrongType.status, 400)
  t.regex(wrongType.json.error!.message, /subject/)
  const unknownField = await post(JSON.stringify({ records: [{ ...sampleRecord(1), name: 'Jane Doe' }] }))
  t.is(unknownField.status, 400, 'unknown fields are refused: no patient name slips in beside the record')
  t.is((await post(JSON.stringify({ records: [] }))).status, 400)
  t.is((await post(JSON.stringify({ records: [sampleRecord(2)] }), { authorization: 'Bearer wrong' })).status, 401)
  const noToken = await fetch(`${d.api}/v1/records`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ records: [sampleRecord(2)] }) })
  t.is(noToken.status, 401)
  // A payload over the 64 KiB record limit is refused before anything is signed.
  const oversize = await post(JSON.stringify({ records: [{ ...sampleRecord(3), payload: Buffer.alloc(65 * 1024).toString('base64') }] }))
  t.is(oversize.status, 400)
  t.regex(oversize.json.error!.message, /payload/)
  const unknown = await fetch(`${d.api}/v1/records/${'ab'.repeat(32)}`)
  t.is(unknown.status, 404)
  t.is((await unknown.json() as { error: { code: string } }).error.code, 'RECORD_NOT_FOUND')
  t.is((await fetch(`${d.api}/v1/records/not-an-id`)).status, 400)
  t.is((await fetch(`${d.api}/v1/blocks/-1`)).status, 400)
  // Still healthy: a good record becomes final.
  const ok = await d.submit([sampleRecord(4)])
  t.is(ok.status, 200)
  t.true((await fetch(`${d.api}/livez`)).ok)
  const metrics = await (await fetch(`${d.api}/metrics`)).text()
  t.regex(metrics, /medledger_chain_height \d+/)
})

test.serial('the CLI fails clearly on missing files, a wrong genesis, an occupied port and a locked data dir', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'medledger-cli-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const missing = await cli(['start', '--home', join(dir, 'nowhere')])
  t.is(missing.code, 2)
  t.regex(missing.stderr, /config\.toml.*medledger init/)
  t.notRegex(missing.stderr, /at .*\.ts:\d+/, 'no stack trace for an operator error')

  const keys = await cli(['keys', 'generate', '--out', join(dir, 'a.key')])
  t.is(keys.code, 0)
  const again = await cli(['keys', 'generate', '--out', join(dir, 'a.key')])
  t.is(again.code, 2)
  t.regex(again.stderr, /refusing to overwrite/)
  await writeFile(join(dir, 'bad-genesis.json'), '{"chainId": "x", "validators": []}')
  const badGenesis = await cli(['init', '--home', join(dir, 'home'), '--genesis', join(dir, 'bad-genesis.json'), '--key', join(dir, 'a.key')])
  t.is(badGenesis.code, 2)
  t.regex(badGenesis.stderr, /genesisTime|validators/)

  const [d] = await startDevnet(t, { validators: ['solo'], observers: [] })
  await waitForHeight([d], 1)
  // Same home again: the data dir is locked by the running daemon.
  const second = new Daemon({ ...d.node }, ['--api-listen', '127.0.0.1:0', '--p2p-listen', '/ip4/127.0.0.1/tcp/0'])
  second.start()
  t.is(await second.exited, 1)
  const locked = await cli(['start', '--home', d.node.home, '--api-listen', '127.0.0.1:0', '--p2p-listen', '/ip4/127.0.0.1/tcp/0'])
  t.is(locked.code, 1)
  t.regex(locked.stderr, /another medledger process|locked/i)
  await d.stop('SIGTERM')
  // The API port is taken by someone else: a clear message, exit 1.
  const { createServer } = await import('node:net')
  const blocker = createServer()
  await new Promise<void>(resolve => blocker.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { blocker.close() })
  const port = (blocker.address() as { port: number }).port
  const occupied = await cli(['start', '--home', d.node.home, '--api-listen', `127.0.0.1:${port}`])
  t.is(occupied.code, 1)
  t.regex(occupied.stderr, /already in use/)
  // And the database is unharmed: it still verifies.
  const verify = await cli(['verify', '--home', d.node.home])
  t.is(verify.code, 0, verify.stdout + verify.stderr)
  await waitFor('nothing', async () => true)
})
