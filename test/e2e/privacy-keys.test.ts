import test from 'ava'
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { createDevnet } from '../../src/devnet/setup.ts'
import { BIN, Daemon } from '../../src/devnet/daemon.ts'
import { FAST_CONSENSUS, waitFor, waitForHeight } from '../helpers/devnet.ts'

const exec = promisify(execFile)
process.env.MEDLEDGER_PRIVACY__RETIRE_GRACE_MS = '200'

async function run (args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number, stdout: string, stderr: string }> {
  const clean = { ...process.env, ...env }
  if (env.MEDLEDGER_KEY_PASSPHRASE === undefined) delete clean.MEDLEDGER_KEY_PASSPHRASE
  try {
    const { stdout, stderr } = await exec(process.execPath, [BIN, ...args], { env: clean, timeout: 30_000 })
    return { code: 0, stdout, stderr }
  } catch (err) {
    const e = err as { code: number, stdout: string, stderr: string }
    return { code: e.code, stdout: e.stdout, stderr: e.stderr }
  }
}

test.serial('a passphrase-protected key file: the daemon refuses to start without the passphrase or with a wrong one, starts with a passphrase file, and keeps the protection when it retires its encryption key', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'medledger-e2e-keys-'))
  const layout = await createDevnet({ dir, validators: ['solo'], observers: [], heartbeatMs: 1000, consensus: FAST_CONSENSUS })
  const node = layout.nodes[0]
  const daemon = new Daemon(node, ['--set', 'key_passphrase_file="passphrase"'])
  t.teardown(async () => { await daemon.stop('SIGKILL'); await rm(dir, { recursive: true, force: true }) })
  const keyFile = join(node.home, 'node.key')
  const passFile = join(node.home, 'passphrase')
  await writeFile(passFile, 'a long and private passphrase\n', { mode: 0o600 })

  const protect = await run(['keys', 'protect', keyFile, '--passphrase-file', passFile, '--scrypt-n', '16384'])
  t.is(protect.code, 0, protect.stderr)
  const shown = JSON.parse((await run(['keys', 'show', keyFile])).stdout) as { peerId: string, protected: boolean, encryptionKey: string }
  t.true(shown.protected)
  t.is(shown.peerId, node.peerId)

  const locked = await run(['start', '--home', node.home])
  t.is(locked.code, 2)
  t.regex(locked.stderr, /protected by a passphrase: set MEDLEDGER_KEY_PASSPHRASE or key_passphrase_file/)
  const wrong = await run(['start', '--home', node.home], { MEDLEDGER_KEY_PASSPHRASE: 'not it' })
  t.is(wrong.code, 2)
  t.regex(wrong.stderr, /wrong passphrase for .*node\.key/)

  daemon.start()
  await waitForHeight([daemon], 1, 60_000)
  const submitToken = node.token
  const adminToken = (await readFile(join(node.home, 'api.admin.token'), 'utf8')).trim()
  const post = async (path: string, body?: unknown, token = submitToken): Promise<{ status: number, body: Record<string, unknown> }> => {
    const res = await fetch(`${daemon.api}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, body: body === undefined ? undefined : JSON.stringify(body) })
    return { status: res.status, body: await res.json() as Record<string, unknown> }
  }
  const sub = await post('/v1/records?wait=final', { records: [{ type: 'consultation', subject: 'ab'.repeat(32), contentType: 'text/plain', plaintext: Buffer.from('hello').toString('base64') }] })
  t.is(sub.status, 200, JSON.stringify(sub.body))

  // Rotation retires the genesis encryption key: the key file is rewritten, still protected.
  t.is((await post('/v1/privacy/rotate', undefined, adminToken)).status, 202)
  await waitFor('the genesis encryption key retired', async () => {
    const ks = JSON.parse(await readFile(keyFile, 'utf8')) as { type: string, encryptionPublicKey?: string }
    return ks.type === 'medledger-keystore' && ks.encryptionPublicKey === undefined
  })
  const after = JSON.parse((await run(['keys', 'show', keyFile])).stdout) as { peerId: string, protected: boolean, encryptionKey?: string }
  t.like(after, { peerId: node.peerId, protected: true })
  t.is(after.encryptionKey, undefined)
  const plaintextToken = (await readFile(join(node.home, 'api.plaintext.token'), 'utf8')).trim()
  const read = await fetch(`${daemon.api}/v1/records/${(sub.body.ids as string[])[0]}/plaintext`, { headers: { authorization: `Bearer ${plaintextToken}` } })
  t.is(read.status, 200, 'records received before the rotation stay readable')

  t.is(await daemon.stop('SIGTERM'), 0)
  const unprotect = await run(['keys', 'unprotect', keyFile], { MEDLEDGER_KEY_PASSPHRASE: 'a long and private passphrase' })
  t.is(unprotect.code, 0, unprotect.stderr)
  t.false(JSON.parse((await run(['keys', 'show', keyFile])).stdout).protected)
})
