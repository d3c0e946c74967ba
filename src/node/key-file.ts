import { readFile, writeFile, stat } from 'node:fs/promises'
import { NodeKey } from '../crypto/ed25519.ts'
import { fromBase64, toBase64, toHex } from '../encoding/bytes.ts'
import { MedledgerError } from '../errors.ts'

/**
 * Key file: JSON with the libp2p protobuf form of the Ed25519 private key (base64), and the
 * peer id and public key for people. Written 0600; refused at start if others can read it.
 */
interface KeyFileJson { type: 'medledger-ed25519', peerId: string, publicKey: string, privateKey: string }

export async function writeKeyFile (file: string, key: NodeKey): Promise<void> {
  const json: KeyFileJson = { type: 'medledger-ed25519', peerId: key.peerId, publicKey: toHex(key.publicKey), privateKey: toBase64(key.toProtobuf()) }
  try {
    await writeFile(file, JSON.stringify(json, null, 2) + '\n', { mode: 0o600, flag: 'wx' })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new MedledgerError('KEY_EXISTS', `${file} already exists; refusing to overwrite a key (move it away first if you really mean to replace it)`)
    throw new MedledgerError('KEY_WRITE', `cannot write ${file}: ${(err as Error).message}`)
  }
}

export async function readKeyFile (file: string, opts: { checkMode?: boolean } = {}): Promise<NodeKey> {
  let text: string
  try {
    if (opts.checkMode !== false) {
      const s = await stat(file)
      if ((s.mode & 0o077) !== 0) throw new MedledgerError('KEY_PERMISSIONS', `${file} can be read by other users (mode ${(s.mode & 0o777).toString(8)}); run \`chmod 600 ${file}\``)
    }
    text = await readFile(file, 'utf8')
  } catch (err) {
    if (err instanceof MedledgerError) throw err
    throw new MedledgerError('KEY_MISSING', `cannot read key file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
  try {
    const json = JSON.parse(text) as KeyFileJson
    if (json.type !== 'medledger-ed25519') throw new Error(`unknown key type ${String(json.type)}`)
    return NodeKey.fromProtobuf(fromBase64(json.privateKey))
  } catch (err) {
    throw new MedledgerError('KEY_INVALID', `${file} is not a medledger key file: ${(err as Error).message}`)
  }
}
