import { randomBytes, scrypt as scryptCb, createHash } from 'node:crypto'
import { promisify } from 'node:util'
import { fromBase64, toBase64 } from '../encoding/bytes.ts'
import { encodeCbor } from '../encoding/cbor.ts'
import { MedledgerError } from '../errors.ts'
import { readSecretFile } from './secret-file.ts'
import { AEAD_NONCE_LENGTH, aeadOpen, aeadSeal } from '../crypto/aead.ts'
import { KeyErrorCode } from './errors.ts'
import { ConfigErrorCode } from '../config/errors.ts'

const scrypt = promisify(scryptCb) as (password: string | Uint8Array, salt: Uint8Array, keylen: number, options: { N: number, r: number, p: number, maxmem: number }) => Promise<Buffer>

/**
 * Passphrase-protected key files (docs/privacy.md, "Keystore format"): the plain key file JSON is
 * encrypted with AES-256-GCM under a key derived from the passphrase with scrypt. The peer id and
 * public keys stay readable (so `keys show` and `init` work without the passphrase) and are bound
 * to the ciphertext as associated data, so editing them breaks decryption.
 */
export const KEYSTORE_TYPE = 'medledger-keystore'
export const KEYSTORE_VERSION = 1
export const KEYSTORE_DOMAIN = 'medledger/keystore/v1'
export const PASSPHRASE_ENV = 'MEDLEDGER_KEY_PASSPHRASE'

/** scrypt cost: N = 2^17, r = 8, p = 1 (128 MiB, about half a second here). */
export interface ScryptCost { N: number, r: number, p: number }
export const DEFAULT_SCRYPT: Readonly<ScryptCost> = Object.freeze({ N: 2 ** 17, r: 8, p: 1 })
// Bounds for reading: refuse parameters that would take minutes or gigabytes to try.
const MAX_N = 2 ** 20
const MAX_R = 32
const MAX_P = 16

export interface KeystoreJson {
  type: typeof KEYSTORE_TYPE
  version: typeof KEYSTORE_VERSION
  peerId: string
  publicKey: string
  encryptionPublicKey?: string
  kdf: { name: 'scrypt', N: number, r: number, p: number, salt: string }
  cipher: { name: 'aes-256-gcm', nonce: string }
  /** base64 of AES-256-GCM(ciphertext || 16-byte tag) of the plain key file JSON (UTF-8). */
  ciphertext: string
}

/** The readable part of a plain key file that a keystore keeps in the clear. */
export interface KeyFileHeader { peerId: string, publicKey: string, encryptionPublicKey?: string }

export function isKeystore (json: unknown): json is KeystoreJson {
  return typeof json === 'object' && json !== null && (json as { type?: unknown }).type === KEYSTORE_TYPE
}

function aad (k: Omit<KeystoreJson, 'ciphertext'>): Uint8Array {
  return encodeCbor([KEYSTORE_DOMAIN, k.type, k.version, k.peerId, k.publicKey, k.encryptionPublicKey ?? '', k.kdf.name, k.kdf.N, k.kdf.r, k.kdf.p, fromBase64(k.kdf.salt), k.cipher.name, fromBase64(k.cipher.nonce)])
}

async function deriveKey (passphrase: string, kdf: KeystoreJson['kdf']): Promise<Uint8Array> {
  const b = await scrypt(passphrase.normalize('NFC'), fromBase64(kdf.salt), 32, { N: kdf.N, r: kdf.r, p: kdf.p, maxmem: 256 * kdf.N * kdf.r + 1024 * 1024 })
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength)
}

function checkPassphrase (passphrase: string): void {
  if (passphrase.length === 0) throw new MedledgerError(KeyErrorCode.PASSPHRASE, 'the passphrase is empty')
}

/** A new passphrase's minimum: characters, distinct characters, and estimated bits. */
export const PASSPHRASE_RULES = Object.freeze({ minLength: 12, minDistinct: 6, minBits: 50 })

/**
 * Refuses a passphrase too weak to protect a key file against offline guessing. The estimate is
 * length x log2(size of the character classes used: lower, upper, digits, other), which
 * overrates dictionary words, so the floor is set well above what scrypt alone makes safe.
 */
export function checkPassphraseStrength (passphrase: string): void {
  const p = passphrase.normalize('NFC')
  const chars = [...p]
  const pool = (/[a-z]/.test(p) ? 26 : 0) + (/[A-Z]/.test(p) ? 26 : 0) + (/[0-9]/.test(p) ? 10 : 0) + (/[^a-zA-Z0-9]/.test(p) ? 33 : 0)
  const bits = pool === 0 ? 0 : chars.length * Math.log2(pool)
  const { minLength, minDistinct, minBits } = PASSPHRASE_RULES
  if (chars.length < minLength || new Set(chars).size < minDistinct || bits < minBits) {
    throw new MedledgerError(KeyErrorCode.PASSPHRASE_WEAK, `the passphrase is too weak: use at least ${minLength} characters with at least ${minDistinct} different ones (about ${minBits} bits; e.g. four or more random words); this one has ${chars.length} characters, ${new Set(chars).size} different, about ${Math.floor(bits)} bits`)
  }
}

/** Encrypts a plain key file's JSON (an object with peerId, publicKey, ...) under a passphrase. */
export async function sealKeystore (plain: KeyFileHeader & Record<string, unknown>, passphrase: string, cost: ScryptCost = DEFAULT_SCRYPT): Promise<KeystoreJson> {
  checkPassphrase(passphrase)
  if (!Number.isSafeInteger(cost.N) || cost.N < 2 ** 10 || cost.N > MAX_N || (cost.N & (cost.N - 1)) !== 0) throw new MedledgerError(ConfigErrorCode.USAGE, `scrypt N must be a power of two from 1024 to ${MAX_N}`)
  const head: Omit<KeystoreJson, 'ciphertext'> = {
    type: KEYSTORE_TYPE,
    version: KEYSTORE_VERSION,
    peerId: plain.peerId,
    publicKey: plain.publicKey,
    ...(plain.encryptionPublicKey === undefined ? {} : { encryptionPublicKey: plain.encryptionPublicKey }),
    kdf: { name: 'scrypt', N: cost.N, r: cost.r, p: cost.p, salt: toBase64(randomBytes(16)) },
    cipher: { name: 'aes-256-gcm', nonce: toBase64(randomBytes(AEAD_NONCE_LENGTH)) }
  }
  const key = await deriveKey(passphrase, head.kdf)
  const sealed = aeadSeal(key, fromBase64(head.cipher.nonce), Buffer.from(JSON.stringify(plain)), aad(head))
  return { ...head, ciphertext: toBase64(sealed) }
}

// Decrypted key files by (file text, passphrase): start reads the key file twice (signing key,
// then encryption key) and should not pay scrypt twice. Dropped once the node has its keys and
// whenever a key file is rewritten (a retired key must not live on here).
const opened = new Map<string, Record<string, unknown>>()

/** Drops every decrypted key file this process cached. */
export function forgetOpenedKeystores (): void {
  opened.clear()
}

/** How many decrypted key files this process holds in its cache (for tests). */
export function openedKeystoreCount (): number {
  return opened.size
}

/** Decrypts a keystore; KEY_PASSPHRASE for a wrong passphrase, KEY_INVALID for a malformed file. */
export async function openKeystore (k: KeystoreJson, passphrase: string, where = 'the key file'): Promise<Record<string, unknown>> {
  checkPassphrase(passphrase)
  const memo = createHash('sha256').update(JSON.stringify(k)).update('\0').update(passphrase).digest('hex')
  const cached = opened.get(memo)
  if (cached !== undefined) return structuredClone(cached)
  const { kdf, cipher } = k
  const valid = k.version === KEYSTORE_VERSION && kdf?.name === 'scrypt' && cipher?.name === 'aes-256-gcm' &&
    Number.isSafeInteger(kdf.N) && kdf.N >= 2 && (kdf.N & (kdf.N - 1)) === 0 && kdf.N <= MAX_N &&
    Number.isSafeInteger(kdf.r) && kdf.r >= 1 && kdf.r <= MAX_R && Number.isSafeInteger(kdf.p) && kdf.p >= 1 && kdf.p <= MAX_P &&
    typeof kdf.salt === 'string' && typeof cipher.nonce === 'string' && typeof k.ciphertext === 'string' && typeof k.peerId === 'string' && typeof k.publicKey === 'string'
  if (!valid) throw new MedledgerError(KeyErrorCode.INVALID, `${where} is not a medledger keystore (version ${String(k.version)}, kdf ${String(kdf?.name)}, cipher ${String(cipher?.name)})`)
  const nonce = fromBase64(cipher.nonce)
  if (nonce.length !== AEAD_NONCE_LENGTH) throw new MedledgerError(KeyErrorCode.INVALID, `${where}: cipher.nonce must be ${AEAD_NONCE_LENGTH} bytes`)
  const plain = aeadOpen(await deriveKey(passphrase, kdf), nonce, fromBase64(k.ciphertext), aad(k))
  if (plain === undefined) throw new MedledgerError(KeyErrorCode.PASSPHRASE, `wrong passphrase for ${where} (or the file was altered)`)
  let json: Record<string, unknown>
  try {
    json = JSON.parse(Buffer.from(plain).toString('utf8')) as Record<string, unknown>
  } catch (err) {
    throw new MedledgerError(KeyErrorCode.INVALID, `${where} decrypts to something that is not JSON: ${(err as Error).message}`)
  }
  // The clear header must describe the key inside, or tools would show one key and use another.
  if (json.publicKey !== k.publicKey || json.peerId !== k.peerId || (json.encryptionPublicKey ?? undefined) !== (k.encryptionPublicKey ?? undefined)) {
    throw new MedledgerError(KeyErrorCode.INVALID, `${where}: the readable header does not match the encrypted key`)
  }
  opened.set(memo, json)
  return structuredClone(json)
}

/**
 * The passphrase for encrypted key files: the passphrase file (first line; it must be 0600) if
 * one is configured, else MEDLEDGER_KEY_PASSPHRASE (removed from the environment once read, so
 * child processes and later diagnostics never see it), else undefined.
 */
export async function readPassphrase (file: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  if (file !== undefined && file !== '') {
    const text = (await readSecretFile(file, 'the passphrase file', { permissions: KeyErrorCode.PERMISSIONS, missing: KeyErrorCode.PASSPHRASE }) as Buffer).toString('utf8')
    const line = text.split(/\r?\n/)[0]
    checkPassphrase(line)
    return line
  }
  return takePassphraseFromEnv(env)
}

/** MEDLEDGER_KEY_PASSPHRASE, deleted from the environment as it is read. */
export function takePassphraseFromEnv (env: NodeJS.ProcessEnv = process.env): string | undefined {
  const v = env[PASSPHRASE_ENV]
  delete env[PASSPHRASE_ENV]
  return v === undefined || v === '' ? undefined : v
}
