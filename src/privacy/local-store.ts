import { randomBytes } from 'node:crypto'
import { mkdir, open, readdir, readFile, rename, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { toHex } from '../encoding/bytes.ts'
import { MedledgerError } from '../errors.ts'
import { AEAD_NONCE_LENGTH, aeadOpen, aeadSeal, hkdf } from '../crypto/aead.ts'
import { fsyncDir, overwriteAndUnlink } from '../keys/secure-file.ts'
import { x25519KeyPair, type X25519KeyPair } from '../crypto/x25519.ts'
import { PrivacyErrorCode } from './errors.ts'

const STORE_DOMAIN = 'medledger/privacy/local-store/v1'
type Kind = 'delivery' | 'dk' | 'secret'

/**
 * The node's off-chain key store (docs/privacy.md, "Crypto-shredding"): its X25519 delivery
 * private keys and the data keys of the records it may read, one small file each, encrypted with
 * AES-256-GCM under a key derived from the node's signing seed (so a passphrase-protected key
 * file protects this store too). Nothing here is on the chain; destroying an entry is what makes
 * a shredded record unreadable. Files are overwritten with zeros before they are unlinked.
 *
 *   <dir>/delivery/<x25519 public key hex>.key   delivery private keys
 *   <dir>/dk/<record id hex>.key                 record data keys
 */
export class LocalKeyStore {
  private constructor (readonly dir: string, private readonly key: Uint8Array) {}

  static async open (dir: string, signingSeed: Uint8Array): Promise<LocalKeyStore> {
    for (const d of [dir, join(dir, 'delivery'), join(dir, 'dk'), join(dir, 'secret')]) await mkdir(d, { recursive: true, mode: 0o700 })
    const s = await stat(dir)
    if ((s.mode & 0o077) !== 0) throw new MedledgerError(PrivacyErrorCode.PERMISSIONS, `${dir} can be read by other users (mode ${(s.mode & 0o777).toString(8)}); run \`chmod 700 ${dir}\``)
    return new LocalKeyStore(dir, hkdf(signingSeed, new Uint8Array(0), STORE_DOMAIN))
  }

  private path (kind: Kind, idHex: string): string {
    if (!(kind === 'secret' ? /^[a-z]{1,32}$/ : /^[0-9a-f]{64}$/).test(idHex)) throw new Error(`bad key id ${idHex}`)
    return join(this.dir, kind, `${idHex}.key`)
  }

  private async put (kind: Kind, idHex: string, secret: Uint8Array): Promise<void> {
    const nonce = new Uint8Array(randomBytes(AEAD_NONCE_LENGTH))
    const sealed = aeadSeal(this.key, nonce, secret, Buffer.from(`${kind}/${idHex}`))
    const file = this.path(kind, idHex)
    const tmp = `${file}.tmp`
    await writeFile(tmp, Buffer.concat([nonce, sealed]), { mode: 0o600 })
    const fh = await open(tmp, 'r+')
    try { await fh.sync() } finally { await fh.close() }
    await rename(tmp, file)
    await fsyncDir(join(this.dir, kind))
  }

  private async get (kind: Kind, idHex: string): Promise<Uint8Array | undefined> {
    let bytes: Buffer
    try {
      bytes = await readFile(this.path(kind, idHex))
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw err
    }
    const plain = aeadOpen(this.key, bytes.subarray(0, AEAD_NONCE_LENGTH), bytes.subarray(AEAD_NONCE_LENGTH), Buffer.from(`${kind}/${idHex}`))
    if (plain === undefined) throw new MedledgerError(PrivacyErrorCode.STORE_CORRUPT, `${this.path(kind, idHex)} does not decrypt with this node's key`)
    return plain
  }

  /** Overwrites the file with zeros, flushes, then unlinks it (and flushes the directory). Returns whether it existed. */
  private async destroy (kind: Kind, idHex: string): Promise<boolean> {
    return await overwriteAndUnlink(this.path(kind, idHex))
  }

  private async list (kind: Kind): Promise<string[]> {
    return (await readdir(join(this.dir, kind))).filter(f => /^[0-9a-f]{64}\.key$/.test(f)).map(f => f.slice(0, 64))
  }

  async putDeliveryKey (pair: X25519KeyPair): Promise<void> { await this.put('delivery', toHex(pair.publicKey), pair.privateKey) }
  async deleteDeliveryKey (publicKey: Uint8Array): Promise<boolean> { return await this.destroy('delivery', toHex(publicKey)) }
  async deliveryKeys (): Promise<X25519KeyPair[]> {
    const out: X25519KeyPair[] = []
    for (const id of await this.list('delivery')) {
      const priv = await this.get('delivery', id)
      if (priv === undefined) continue
      const pair = x25519KeyPair(priv)
      if (toHex(pair.publicKey) !== id) throw new MedledgerError(PrivacyErrorCode.STORE_CORRUPT, `delivery key file ${id} holds another key`)
      out.push(pair)
    }
    return out
  }

  async putDataKey (recordId: string, dataKey: Uint8Array): Promise<void> { await this.put('dk', recordId, dataKey) }
  async getDataKey (recordId: string): Promise<Uint8Array | undefined> { return await this.get('dk', recordId) }
  async deleteDataKey (recordId: string): Promise<boolean> { return await this.destroy('dk', recordId) }
  async hasDataKey (recordId: string): Promise<boolean> {
    return await stat(this.path('dk', recordId)).then(() => true, () => false)
  }

  async dataKeyIds (): Promise<string[]> { return await this.list('dk') }

  /** A node-local 32-byte secret by name (created on first use), e.g. the reader-pseudonym key. */
  async secret (name: string): Promise<Uint8Array> {
    const have = await this.get('secret', name)
    if (have !== undefined) return have
    const fresh = new Uint8Array(randomBytes(32))
    await this.put('secret', name, fresh)
    return fresh
  }
}
