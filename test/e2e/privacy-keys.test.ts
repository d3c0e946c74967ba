import test from 'ava'
import { execFile } from 'node:child_process'
import { access, chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
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
    // A read that opened the old file just before it was replaced sees it zeroed (its retired key
    // is overwritten in place): read again.
    let ks: { type: string, encryptionPublicKey?: string }
    try { ks = JSON.parse(await readFile(keyFile, 'utf8')) as typeof ks } catch { return false }
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

test.serial('key hygiene at setup: init moves the key file keys generate wrote (no second copy), a weak passphrase is refused, and token and pnet key files others can read stop the daemon', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'medledger-e2e-hygiene-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const keyOut = join(dir, 'node.key')
  const gen = await run(['keys', 'generate', '--out', keyOut])
  t.is(gen.code, 0, gen.stderr)
  const { peerId, encryptionKey } = JSON.parse(gen.stdout) as { peerId: string, encryptionKey: string }
  const genesis = join(dir, 'genesis.json')
  t.is((await run(['genesis', 'create', '--chain-id', 'hygiene', '--validator', `a=${peerId}`, '--encryption-key', `a=${encryptionKey}`, '--out', genesis])).code, 0)
  const home = join(dir, 'home')
  const init = await run(['init', '--home', home, '--genesis', genesis, '--key', keyOut])
  t.is(init.code, 0, init.stderr)
  t.like(JSON.parse(init.stdout), { removed: keyOut })
  t.false(await access(keyOut).then(() => true, () => false), 'the key file keys generate wrote is gone')
  t.true((await readFile(join(home, 'node.key'), 'utf8')).includes('encryptionPrivateKey'), 'the home holds the only copy')

  // A weak passphrase is refused before anything is written.
  const weak = join(dir, 'weak')
  await writeFile(weak, 'secret1\n', { mode: 0o600 })
  const refused = await run(['keys', 'protect', join(home, 'node.key'), '--passphrase-file', weak, '--scrypt-n', '16384'])
  t.is(refused.code, 2)
  t.regex(refused.stderr, /KEY_PASSPHRASE_WEAK: the passphrase is too weak/)
  t.false((await readFile(join(home, 'node.key'), 'utf8')).includes('medledger-keystore'))

  // Secret files others can read: the daemon refuses to start and says how to fix it.
  const token = join(home, 'api.token')
  await chmod(token, 0o644)
  const open = await run(['start', '--home', home])
  t.is(open.code, 2)
  t.regex(open.stderr, /CONFIG_TOKEN_PERMISSIONS: the API token file .*api\.token can be read by other users \(mode 644\); run `chmod 600/)
  await chmod(token, 0o600)
  await writeFile(join(home, 'swarm.key'), `/key/swarm/psk/1.0.0/\n/base16/\n${randomBytes(32).toString('hex')}\n`, { mode: 0o644 })
  const psk = await run(['start', '--home', home, '--set', 'p2p.psk_file="swarm.key"'])
  t.is(psk.code, 2)
  t.regex(psk.stderr, /CONFIG_PSK_PERMISSIONS: the pnet key file .*swarm\.key can be read by other users/)
})
