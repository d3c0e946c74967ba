import test from 'ava'
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { NodeKey } from '../../../src/crypto/ed25519.ts'
import { toHex } from '../../../src/encoding/bytes.ts'
import { isMedledgerError } from '../../../src/errors.ts'
import { readKeyFile, readKeyMaterial, writeKeyFile } from '../../../src/node/key-file.ts'
import { openKeystore, readPassphrase, sealKeystore, type KeystoreJson } from '../../../src/privacy/keystore.ts'
import { protectKeyFile, readKeyHeader, removeEncryptionKey, unprotectKeyFile } from '../../../src/privacy/key-file-edit.ts'
import { generateX25519 } from '../../../src/privacy/x25519.ts'

// Cheap scrypt for tests; production files use N = 2^17.
const FAST = { N: 2 ** 10, r: 8, p: 1 }

async function tmp (t: { teardown: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'medledger-keystore-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  return dir
}

async function rejectsWith (t: { true: (v: boolean, m?: string) => void }, p: Promise<unknown>, code: string, message?: RegExp): Promise<void> {
  try {
    await p
    t.true(false, `expected ${code}`)
  } catch (err) {
    t.true(isMedledgerError(err, code), `expected ${code}, got ${String(err)}`)
    if (message !== undefined) t.true(message.test((err as Error).message), (err as Error).message)
  }
}

test('a protected key file round-trips: same signing and encryption keys, readable header, mode 0600', async t => {
  const dir = await tmp(t)
  const file = join(dir, 'node.key')
  const key = await NodeKey.generate()
  const enc = generateX25519()
  await writeKeyFile(file, key, enc)
  const ks = await protectKeyFile(file, 'correct horse battery staple', FAST)
  const text = await readFile(file, 'utf8')
  t.is((await stat(file)).mode & 0o777, 0o600)
  t.false(text.includes(Buffer.from(enc.privateKey).toString('base64')), 'no private key in the clear')
  t.is(ks.type, 'medledger-keystore')
  t.deepEqual(await readKeyHeader(file), { peerId: key.peerId, publicKey: toHex(key.publicKey), encryptionKey: toHex(enc.publicKey), protected: true })
  const m = await readKeyMaterial(file, { passphrase: 'correct horse battery staple' })
  t.true(m.protected)
  t.is(m.key.peerId, key.peerId)
  t.deepEqual(m.encryption?.privateKey, enc.privateKey)
  await unprotectKeyFile(file, 'correct horse battery staple')
  const plain = await readKeyMaterial(file)
  t.false(plain.protected)
  t.is(plain.key.peerId, key.peerId)
})

test('a wrong passphrase gives a clear error; no passphrase says how to give one', async t => {
  const dir = await tmp(t)
  const file = join(dir, 'node.key')
  await writeKeyFile(file, await NodeKey.generate())
  await protectKeyFile(file, 'right', FAST)
  await rejectsWith(t, readKeyFile(file, { passphrase: 'wrong' }), 'KEY_PASSPHRASE', /wrong passphrase for .*node\.key/)
  const saved = process.env.MEDLEDGER_KEY_PASSPHRASE
  delete process.env.MEDLEDGER_KEY_PASSPHRASE
  try {
    await rejectsWith(t, readKeyFile(file), 'KEY_LOCKED', /MEDLEDGER_KEY_PASSPHRASE/)
    process.env.MEDLEDGER_KEY_PASSPHRASE = 'right'
    t.truthy(await readKeyFile(file))
  } finally {
    if (saved === undefined) delete process.env.MEDLEDGER_KEY_PASSPHRASE
    else process.env.MEDLEDGER_KEY_PASSPHRASE = saved
  }
})

test('editing the readable header or the ciphertext breaks decryption', async t => {
  const key = await NodeKey.generate()
  const plain = { type: 'medledger-ed25519', peerId: key.peerId, publicKey: toHex(key.publicKey), privateKey: 'x' }
  const ks = await sealKeystore(plain, 'pw', FAST)
  t.is((await openKeystore(ks, 'pw')).peerId, key.peerId)
  const other = await NodeKey.generate()
  const edits: Array<(k: KeystoreJson) => void> = [
    k => { k.publicKey = toHex(other.publicKey) },
    k => { k.peerId = other.peerId },
    k => { k.kdf.N = 2 ** 11 },
    k => { k.ciphertext = Buffer.from(Buffer.from(k.ciphertext, 'base64').map((b, i) => i === 3 ? b ^ 1 : b)).toString('base64') },
    k => { k.encryptionPublicKey = 'aa'.repeat(32) }
  ]
  for (const edit of edits) {
    const copy = structuredClone(ks)
    edit(copy)
    await rejectsWith(t, openKeystore(copy, 'pw'), 'KEY_PASSPHRASE')
  }
  await rejectsWith(t, openKeystore({ ...structuredClone(ks), version: 2 as 1 }, 'pw'), 'KEY_INVALID')
  await rejectsWith(t, openKeystore({ ...structuredClone(ks), kdf: { ...ks.kdf, N: 2 ** 30 } }, 'pw'), 'KEY_INVALID')
  await rejectsWith(t, sealKeystore(plain, '', FAST), 'KEY_PASSPHRASE')
})

test('key files are refused when others can read them; old key files without an encryption key still load', async t => {
  const dir = await tmp(t)
  const file = join(dir, 'node.key')
  const key = await NodeKey.generate()
  await writeKeyFile(file, key)
  const m = await readKeyMaterial(file)
  t.is(m.encryption, undefined)
  t.is(m.key.peerId, key.peerId)
  await chmod(file, 0o644)
  await rejectsWith(t, readKeyFile(file), 'KEY_PERMISSIONS', /chmod 600/)
  await chmod(file, 0o600)
  await protectKeyFile(file, 'pw', FAST)
  t.is((await readFile(file)).length > 0, true)
  await chmod(file, 0o640)
  await rejectsWith(t, readKeyFile(file, { passphrase: 'pw' }), 'KEY_PERMISSIONS')
})

test('removing a retired encryption key keeps the signing key and the protection', async t => {
  const dir = await tmp(t)
  const file = join(dir, 'node.key')
  const key = await NodeKey.generate()
  await writeKeyFile(file, key, generateX25519())
  await protectKeyFile(file, 'pw', FAST)
  t.true(await removeEncryptionKey(file, 'pw'))
  const m = await readKeyMaterial(file, { passphrase: 'pw' })
  t.true(m.protected)
  t.is(m.encryption, undefined)
  t.is(m.key.peerId, key.peerId)
  t.false(await removeEncryptionKey(file, 'pw'))
  await rejectsWith(t, removeEncryptionKey(file, undefined), 'KEY_LOCKED')
})

test('the passphrase comes from a 0600 file (first line) or the environment', async t => {
  const dir = await tmp(t)
  const file = join(dir, 'pass')
  await writeFile(file, 'from file\nignored\n', { mode: 0o600 })
  t.is(await readPassphrase(file, {}), 'from file')
  t.is(await readPassphrase(undefined, { MEDLEDGER_KEY_PASSPHRASE: 'from env' }), 'from env')
  t.is(await readPassphrase(undefined, {}), undefined)
  await chmod(file, 0o644)
  await rejectsWith(t, readPassphrase(file, {}), 'KEY_PERMISSIONS')
})
