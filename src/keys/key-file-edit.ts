import { readFile } from 'node:fs/promises'
import { MedledgerError } from '../errors.ts'
import { replaceFile } from './secure-file.ts'
import { checkPassphraseStrength, DEFAULT_SCRYPT, forgetOpenedKeystores, isKeystore, openKeystore, sealKeystore, type KeyFileHeader, type KeystoreJson, type ScryptCost } from './keystore.ts'
import { KeyErrorCode } from './errors.ts'

/**
 * Rewrites of a key file in place: protect with a passphrase, remove the protection, or drop the
 * encryption private key once it is retired. Each goes through replaceFile (a flushed 0600
 * temporary file renamed over the original, the directory flushed); protecting and retiring
 * also overwrite the old content, which held a private key in the clear or a retired key.
 */

async function readJson (file: string): Promise<Record<string, unknown>> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>
  } catch (err) {
    throw new MedledgerError(KeyErrorCode.INVALID, `cannot read ${file} as a key file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
}

/** Protects a plain key file; the passphrase must pass checkPassphraseStrength unless told otherwise (tests). */
export async function protectKeyFile (file: string, passphrase: string, cost: ScryptCost = DEFAULT_SCRYPT, opts: { checkStrength?: boolean } = {}): Promise<KeystoreJson> {
  const json = await readJson(file)
  if (isKeystore(json)) throw new MedledgerError(KeyErrorCode.PROTECTED, `${file} is already protected by a passphrase`)
  if (json.type !== 'medledger-ed25519') throw new MedledgerError(KeyErrorCode.INVALID, `${file} is not a medledger key file`)
  if (opts.checkStrength !== false) checkPassphraseStrength(passphrase)
  const sealed = await sealKeystore(json as unknown as KeyFileHeader & Record<string, unknown>, passphrase, cost)
  await replaceFile(file, JSON.stringify(sealed, null, 2) + '\n', { shredOld: true })
  return sealed
}

export async function unprotectKeyFile (file: string, passphrase: string): Promise<void> {
  const json = await readJson(file)
  if (!isKeystore(json)) throw new MedledgerError(KeyErrorCode.NOT_PROTECTED, `${file} is not protected by a passphrase`)
  const plain = await openKeystore(json, passphrase, file)
  await replaceFile(file, JSON.stringify(plain, null, 2) + '\n')
}

/**
 * Removes the X25519 private (and public) key from a key file, keeping the signing key and the
 * passphrase protection (same scrypt cost, fresh salt and nonce). Used when the key is retired
 * (crypto-shredding, rotation): after this the file cannot unwrap data keys wrapped to it.
 */
export async function removeEncryptionKey (file: string, passphrase: string | undefined): Promise<boolean> {
  const json = await readJson(file)
  if (isKeystore(json)) {
    if (passphrase === undefined) throw new MedledgerError(KeyErrorCode.LOCKED, `${file} is protected by a passphrase; cannot remove its retired encryption key without it`)
    const plain = await openKeystore(json, passphrase, file)
    if (plain.encryptionPrivateKey === undefined && plain.encryptionPublicKey === undefined) return false
    delete plain.encryptionPrivateKey
    delete plain.encryptionPublicKey
    const sealed = await sealKeystore(plain as unknown as KeyFileHeader & Record<string, unknown>, passphrase, { N: json.kdf.N, r: json.kdf.r, p: json.kdf.p })
    await replaceFile(file, JSON.stringify(sealed, null, 2) + '\n', { shredOld: true })
    forgetOpenedKeystores()
    return true
  }
  if (json.encryptionPrivateKey === undefined && json.encryptionPublicKey === undefined) return false
  delete json.encryptionPrivateKey
  delete json.encryptionPublicKey
  await replaceFile(file, JSON.stringify(json, null, 2) + '\n', { shredOld: true })
  return true
}

/** The readable header of a protected key file, or undefined for a plain one. */
export async function readKeyHeader (file: string): Promise<{ peerId: string, publicKey: string, encryptionKey?: string, protected: true } | undefined> {
  const json = await readJson(file)
  if (!isKeystore(json)) return undefined
  return { peerId: json.peerId, publicKey: json.publicKey, ...(json.encryptionPublicKey === undefined ? {} : { encryptionKey: json.encryptionPublicKey }), protected: true }
}
