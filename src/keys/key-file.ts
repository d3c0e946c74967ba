import { readFile, writeFile, stat } from 'node:fs/promises'
import { NodeKey } from '../crypto/ed25519.ts'
import { fromBase64, toBase64, toHex } from '../encoding/bytes.ts'
import { MedledgerError } from '../errors.ts'
import { assertPrivateMode } from './secret-file.ts'
import { isKeystore, openKeystore, PASSPHRASE_ENV, takePassphraseFromEnv } from './keystore.ts'
import { x25519KeyPair, type X25519KeyPair } from '../crypto/x25519.ts'
import { KeyErrorCode } from './errors.ts'

/**
 * Key file: JSON with the libp2p protobuf form of the Ed25519 private key (base64), and the
 * peer id and public key for people. Written 0600; refused at start if others can read it.
 * Optionally the node's X25519 encryption key (raw, base64) and its public key (hex); files
 * without them still load. The whole file may be a passphrase keystore (docs/privacy.md).
 */
export interface KeyFileJson { type: 'medledger-ed25519', peerId: string, publicKey: string, privateKey: string, encryptionPublicKey?: string, encryptionPrivateKey?: string }

export function keyFileJson (key: NodeKey, encryption?: X25519KeyPair): KeyFileJson {
  const json: KeyFileJson = { type: 'medledger-ed25519', peerId: key.peerId, publicKey: toHex(key.publicKey), privateKey: toBase64(key.toProtobuf()) }
  if (encryption !== undefined) {
    json.encryptionPublicKey = toHex(encryption.publicKey)
    json.encryptionPrivateKey = toBase64(encryption.privateKey)
  }
  return json
}

export async function writeKeyFile (file: string, key: NodeKey, encryption?: X25519KeyPair): Promise<void> {
  const json = keyFileJson(key, encryption)
  try {
    await writeFile(file, JSON.stringify(json, null, 2) + '\n', { mode: 0o600, flag: 'wx' })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new MedledgerError(KeyErrorCode.EXISTS, `${file} already exists; refusing to overwrite a key (move it away first if you really mean to replace it)`)
    throw new MedledgerError(KeyErrorCode.WRITE, `cannot write ${file}: ${(err as Error).message}`)
  }
}

export async function readKeyFile (file: string, opts: { checkMode?: boolean, passphrase?: string } = {}): Promise<NodeKey> {
  return (await readKeyMaterial(file, opts)).key
}

/** The signing key, the encryption key if the file has one, and whether the file is passphrase-protected. */
export async function readKeyMaterial (file: string, opts: { checkMode?: boolean, passphrase?: string } = {}): Promise<{ key: NodeKey, encryption?: X25519KeyPair, protected: boolean }> {
  let text: string
  try {
    if (opts.checkMode !== false) assertPrivateMode(file, 'the key file', (await stat(file)).mode, KeyErrorCode.PERMISSIONS)
    text = await readFile(file, 'utf8')
  } catch (err) {
    if (err instanceof MedledgerError) throw err
    throw new MedledgerError(KeyErrorCode.MISSING, `cannot read key file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch (err) {
    throw new MedledgerError(KeyErrorCode.INVALID, `${file} is not a medledger key file: ${(err as Error).message}`)
  }
  let locked = false
  if (isKeystore(raw)) {
    locked = true
    const passphrase = opts.passphrase ?? takePassphraseFromEnv()
    if (passphrase === undefined || passphrase === '') throw new MedledgerError(KeyErrorCode.LOCKED, `${file} is protected by a passphrase: set ${PASSPHRASE_ENV} or key_passphrase_file in config.toml`)
    raw = await openKeystore(raw, passphrase, file)
  }
  const json = raw as KeyFileJson
  try {
    if (json.type !== 'medledger-ed25519') throw new Error(`unknown key type ${String(json.type)}`)
    const key = NodeKey.fromProtobuf(fromBase64(json.privateKey))
    let encryption: X25519KeyPair | undefined
    if (typeof json.encryptionPrivateKey === 'string') {
      encryption = x25519KeyPair(fromBase64(json.encryptionPrivateKey))
      if (json.encryptionPublicKey !== undefined && json.encryptionPublicKey !== toHex(encryption.publicKey)) throw new Error('encryptionPublicKey does not match encryptionPrivateKey')
    }
    return { key, encryption, protected: locked }
  } catch (err) {
    throw new MedledgerError(KeyErrorCode.INVALID, `${file} is not a medledger key file: ${(err as Error).message}`)
  }
}
