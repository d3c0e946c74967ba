import { createHmac } from 'node:crypto'
import { appendFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { LocalKeyStore } from './local-store.ts'

const READER_DOMAIN = 'medledger/reader/v1'
/** Prefix of a reader pseudonym on the chain, so nobody takes it for a name. */
export const READER_PREFIX = 'rdr:'
export const READERS_FILE = 'readers.jsonl'
// Labels remembered per process to write each mapping line once; past this, lines may repeat.
const MAX_REMEMBERED = 10_000

/**
 * Reader identity on the chain (docs/privacy.md, "Reader pseudonyms"): the free-text label of the
 * person who asked for plaintext (x-medledger-reader) never leaves the node. The access record
 * carries `rdr:` + HMAC-SHA256(reader secret, domain || 0x00 || NFC(trim(label))), keyed with a
 * node-local secret kept in the key store, so the regulator can count and correlate one person's
 * reads while only the hospital can say who it is. The mapping is appended to
 * `<privacy dir>/readers.jsonl` (0600), which stays on the node.
 */
export class ReaderPseudonyms {
  private readonly seen = new Set<string>()

  private constructor (private readonly secret: Uint8Array, private readonly file: string) {}

  static async open (dir: string, keys: LocalKeyStore): Promise<ReaderPseudonyms> {
    return new ReaderPseudonyms(await keys.secret('reader'), join(dir, READERS_FILE))
  }

  /** The on-chain pseudonym of a reader label ("" stays "": nobody named). */
  async pseudonym (label: string): Promise<string> {
    const clean = label.trim().normalize('NFC')
    if (clean === '') return ''
    const p = READER_PREFIX + createHmac('sha256', this.secret).update(READER_DOMAIN).update(new Uint8Array([0])).update(clean, 'utf8').digest('hex')
    if (!this.seen.has(clean)) {
      await appendFile(this.file, JSON.stringify({ pseudonym: p, reader: clean }) + '\n', { mode: 0o600 })
      if (this.seen.size < MAX_REMEMBERED) this.seen.add(clean)
    }
    return p
  }
}
