import test from 'ava'
import { access, chmod, link, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { NodeKey } from '../../../src/crypto/ed25519.ts'
import { toHex } from '../../../src/encoding/bytes.ts'
import { isMedledgerError } from '../../../src/errors.ts'
import { readKeyFile, readKeyMaterial, writeKeyFile } from '../../../src/keys/key-file.ts'
import { checkPassphraseStrength, openedKeystoreCount, openKeystore, readPassphrase, sealKeystore, type KeystoreJson } from '../../../src/keys/keystore.ts'
import { protectKeyFile, readKeyHeader, removeEncryptionKey, unprotectKeyFile } from '../../../src/keys/key-file-edit.ts'
import { generateX25519 } from '../../../src/crypto/x25519.ts'

// Cheap scrypt for tests; production files use N = 2^17.
const FAST = { N: 2 ** 10, r: 8, p: 1 }
const PW = 'quiet otter 41 lantern'
const RIGHT = 'right: violet kettle 7 harbour'

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

test.serial('a wrong passphrase gives a clear error; no passphrase says how to give one', async t => {
  const dir = await tmp(t)
  const file = join(dir, 'node.key')
  await writeKeyFile(file, await NodeKey.generate())
  await protectKeyFile(file, RIGHT, FAST)
  await rejectsWith(t, readKeyFile(file, { passphrase: 'wrong' }), 'KEY_PASSPHRASE', /wrong passphrase for .*node\.key/)
  const saved = process.env.MEDLEDGER_KEY_PASSPHRASE
  delete process.env.MEDLEDGER_KEY_PASSPHRASE
  try {
    await rejectsWith(t, readKeyFile(file), 'KEY_LOCKED', /MEDLEDGER_KEY_PASSPHRASE/)
    process.env.MEDLEDGER_KEY_PASSPHRASE = RIGHT
    t.truthy(await readKeyFile(file))
  } finally {
    if (saved === undefined) delete process.env.MEDLEDGER_KEY_PASSPHRASE
    else process.env.MEDLEDGER_KEY_PASSPHRASE = saved
  }
})

test('editing the readable header or the ciphertext breaks decryption', async t => {
  const key = await NodeKey.generate()
  const plain = { type: 'medledger-ed25519', peerId: key.peerId, publicKey: toHex(key.publicKey), privateKey: 'x' }
  const ks = await sealKeystore(plain, PW, FAST)
  t.is((await openKeystore(ks, PW)).peerId, key.peerId)
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
    await rejectsWith(t, openKeystore(copy, PW), 'KEY_PASSPHRASE')
  }
  await rejectsWith(t, openKeystore({ ...structuredClone(ks), version: 2 as 1 }, PW), 'KEY_INVALID')
  await rejectsWith(t, openKeystore({ ...structuredClone(ks), kdf: { ...ks.kdf, N: 2 ** 30 } }, PW), 'KEY_INVALID')
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
  await protectKeyFile(file, PW, FAST)
  t.is((await readFile(file)).length > 0, true)
  await chmod(file, 0o640)
  await rejectsWith(t, readKeyFile(file, { passphrase: PW }), 'KEY_PERMISSIONS')
})

test('removing a retired encryption key keeps the signing key and the protection', async t => {
  const dir = await tmp(t)
  const file = join(dir, 'node.key')
  const key = await NodeKey.generate()
  await writeKeyFile(file, key, generateX25519())
  await protectKeyFile(file, PW, FAST)
  t.true(await removeEncryptionKey(file, PW))
  const m = await readKeyMaterial(file, { passphrase: PW })
  t.true(m.protected)
  t.is(m.encryption, undefined)
  t.is(m.key.peerId, key.peerId)
  t.false(await removeEncryptionKey(file, PW))
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

test.serial('a passphrase read from the environment is removed from it; a weak new passphrase is refused with a clear error', async t => {
  const env: NodeJS.ProcessEnv = { MEDLEDGER_KEY_PASSPHRASE: 'from env', OTHER: 'kept' }
  t.is(await readPassphrase(undefined, env), 'from env')
  t.false('MEDLEDGER_KEY_PASSPHRASE' in env)
  t.is(env.OTHER, 'kept')
  // The node's own reader (start, privacy check) takes it out of process.env too.
  const dir = await tmp(t)
  const file = join(dir, 'node.key')
  await writeKeyFile(file, await NodeKey.generate())
  await protectKeyFile(file, PW, FAST)
  process.env.MEDLEDGER_KEY_PASSPHRASE = PW
  t.truthy(await readKeyFile(file))
  t.false('MEDLEDGER_KEY_PASSPHRASE' in process.env)
  for (const weak of ['', 'pw', 'password123', 'aaaaaaaaaaaaaaaa', 'abcabcabcabc']) {
    const err = t.throws(() => { checkPassphraseStrength(weak) })
    t.true(isMedledgerError(err, 'KEY_PASSPHRASE_WEAK'), weak)
    t.regex((err as Error).message, /at least 12 characters/)
  }
  t.notThrows(() => { checkPassphraseStrength('correct horse battery staple') })
  const plain = join(dir, 'plain.key')
  await writeKeyFile(plain, await NodeKey.generate())
  await rejectsWith(t, protectKeyFile(plain, 'hunter2', FAST), 'KEY_PASSPHRASE_WEAK')
})

test('a protected key file\'s decrypted JSON is not kept once its encryption key is retired', async t => {
  const dir = await tmp(t)
  const file = join(dir, 'node.key')
  await writeKeyFile(file, await NodeKey.generate(), generateX25519())
  await protectKeyFile(file, PW, FAST)
  await readKeyMaterial(file, { passphrase: PW })
  t.true(openedKeystoreCount() > 0, 'start reads the file twice and caches it meanwhile')
  t.true(await removeEncryptionKey(file, PW))
  t.is(openedKeystoreCount(), 0, 'nothing decrypted is left in the process after the retirement')
})

test('retiring or protecting a key overwrites the old key file content in place, not only its name', async t => {
  const dir = await tmp(t)
  for (const edit of ['retire', 'protect'] as const) {
    const file = join(dir, `${edit}.key`)
    const enc = generateX25519()
    await writeKeyFile(file, await NodeKey.generate(), enc)
    // A second name for the old inode shows what a rename would have left in its freed blocks.
    const spy = join(dir, `${edit}.spy`)
    await link(file, spy)
    if (edit === 'retire') t.true(await removeEncryptionKey(file, undefined))
    else await protectKeyFile(file, PW, FAST)
    const left = await readFile(spy)
    t.true(left.length > 0 && left.every(b => b === 0), `${edit}: the old content is zeros`)
    t.false((await readFile(file, 'utf8')).includes(Buffer.from(enc.privateKey).toString('base64')))
    t.false(await access(`${file}.old`).then(() => true, () => false), 'no .old copy left behind')
  }
})
