import test from 'ava'
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ConfigSchema } from '../../../src/config/schema.ts'
import { isMedledgerError } from '../../../src/errors.ts'
import { checkRecordTimestamps, RECORD_TIME_WINDOW_MS } from '../../../src/node/record-time.ts'
import { readSecretFile } from '../../../src/keys/secret-file.ts'
import { ApiTokens, readToken } from '../../../src/api/tokens.ts'

async function rejects (t: { true: (v: boolean, m?: string) => void }, p: Promise<unknown>, code: string, message: RegExp): Promise<void> {
  try {
    await p
    t.true(false, `expected ${code}`)
  } catch (err) {
    t.true(isMedledgerError(err, code), String(err))
    t.true(message.test((err as Error).message), (err as Error).message)
  }
}

test('token files are refused when their group or others can read them, with the chmod that fixes it', async t => {
  const home = await mkdtemp(join(tmpdir(), 'medledger-tokens-'))
  t.teardown(async () => { await rm(home, { recursive: true, force: true }) })
  const config = ConfigSchema.parse({})
  await writeFile(join(home, 'api.token'), 'submit\n', { mode: 0o600 })
  await writeFile(join(home, 'api.read.token'), 'read\n', { mode: 0o600 })
  await writeFile(join(home, 'api.plaintext.token'), 'plain\n', { mode: 0o600 })
  const ok = await ApiTokens.load(home, config)
  t.is(ok.roleOf('Bearer read'), 'read')
  for (const [file, mode] of [['api.read.token', 0o644], ['api.plaintext.token', 0o640]] as const) {
    await chmod(join(home, file), mode)
    await rejects(t, ApiTokens.load(home, config), 'CONFIG_TOKEN_PERMISSIONS', new RegExp(`${file.replace(/\./g, '\\.')} can be read by other users \\(mode ${mode.toString(8)}\\); run \`chmod 600`))
    await chmod(join(home, file), 0o600)
  }
  await chmod(join(home, 'api.token'), 0o644)
  await rejects(t, ApiTokens.load(home, config), 'CONFIG_TOKEN_PERMISSIONS', /api\.token can be read by other users/)
  await rejects(t, readToken(join(home, 'api.token'), true), 'CONFIG_TOKEN_PERMISSIONS', /chmod 600/)
  await rejects(t, readToken(join(home, 'missing.token'), true), 'CONFIG_INVALID', /cannot read the API token file/)
  t.is(await readToken(join(home, 'missing.token')), undefined, 'an optional role token may be absent')
  await writeFile(join(home, 'swarm.key'), 'psk', { mode: 0o604 })
  await rejects(t, readSecretFile(join(home, 'swarm.key'), 'the pnet key file', { permissions: 'CONFIG_PSK_PERMISSIONS' }), 'CONFIG_PSK_PERMISSIONS', /the pnet key file .* can be read by other users/)
})

test('record timestamps are accepted within 10 minutes of the node clock and refused beyond', t => {
  const now = 1_800_000_000_000
  t.notThrows(() => { checkRecordTimestamps([{ timestamp: now }, { timestamp: now - RECORD_TIME_WINDOW_MS }, { timestamp: now + RECORD_TIME_WINDOW_MS }], now) })
  for (const timestamp of [now + RECORD_TIME_WINDOW_MS + 1, now - RECORD_TIME_WINDOW_MS - 1, 0, Number.MAX_SAFE_INTEGER]) {
    const err = t.throws(() => { checkRecordTimestamps([{ timestamp: now }, { timestamp }], now) })
    t.true(isMedledgerError(err, 'CHAIN_RECORD_TIMESTAMP'))
    t.regex((err as Error).message, /^CHAIN_RECORD_TIMESTAMP: records\.1\.timestamp .* more than 10 minutes/)
  }
})
