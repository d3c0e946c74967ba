import { createHash, type Hash } from 'node:crypto'
import { MedledgerError } from '../errors.ts'
import { BackupErrorCode } from './errors.ts'

/**
 * The snapshot stream: a running node's whole database, raw, as `POST /v1/admin/snapshot` sends
 * it and `medledger snapshot` reads it.
 *
 *   "medledger-snapshot/1\n"
 *   entry*:  key length u32 BE | value length u32 BE | key | value
 *   end:     0xFFFFFFFF | entry count u64 BE | SHA-256 of every byte before this end frame
 *
 * The end frame is how a reader knows the copy is whole: a stream cut short (the node stopped, the
 * connection dropped) has none and is refused.
 */
export const SNAPSHOT_MAGIC = 'medledger-snapshot/1\n'
const END = 0xffffffff
/** Larger than any key the store writes (sublevel prefix + 32-byte hash); a bigger one is a broken stream. */
export const MAX_KEY_BYTES = 4 * 1024
/** Larger than any value the store writes (a block is bounded by the protocol limits); a bigger one is a broken stream. */
export const MAX_VALUE_BYTES = 512 * 1024 * 1024
const CHUNK_BYTES = 256 * 1024

export class SnapshotStreamError extends MedledgerError {
  constructor (message: string) {
    super(BackupErrorCode.STREAM_INVALID, message)
    this.name = 'SnapshotStreamError'
  }
}

/** Frames pages of entries into chunks of about 256 KiB, then the end frame. */
export async function * encodeSnapshot (pages: AsyncIterable<Array<[Uint8Array, Uint8Array]>>): AsyncGenerator<Uint8Array> {
  const hash = createHash('sha256')
  const emit = (b: Uint8Array): Uint8Array => { hash.update(b); return b }
  yield emit(new TextEncoder().encode(SNAPSHOT_MAGIC))
  let count = 0n
  let parts: Uint8Array[] = []
  let size = 0
  for await (const page of pages) {
    for (const [key, value] of page) {
      const head = Buffer.alloc(8)
      head.writeUInt32BE(key.length, 0)
      head.writeUInt32BE(value.length, 4)
      parts.push(head, key, value)
      size += 8 + key.length + value.length
      count++
    }
    if (size >= CHUNK_BYTES) {
      yield emit(Buffer.concat(parts))
      parts = []
      size = 0
    }
  }
  if (size > 0) yield emit(Buffer.concat(parts))
  const end = Buffer.alloc(12)
  end.writeUInt32BE(END, 0)
  end.writeBigUInt64BE(count, 4)
  yield Buffer.concat([end, hash.digest()])
}

export interface SnapshotSummary { entries: number, bytes: number, sha256: string }

/**
 * Reads a snapshot stream, handing its entries to `onPage` in pages of at most about 4 MiB, and
 * checks its end frame (entry count and digest). Throws SnapshotStreamError on anything else.
 */
export async function decodeSnapshot (source: AsyncIterable<Uint8Array>, onPage: (page: Array<[Uint8Array, Uint8Array]>) => Promise<void>): Promise<SnapshotSummary> {
  const hash: Hash = createHash('sha256')
  let buf = Buffer.alloc(0)
  let bytes = 0
  let magicSeen = false
  let count = 0
  let page: Array<[Uint8Array, Uint8Array]> = []
  let pageBytes = 0
  const chunks = source[Symbol.asyncIterator]()
  while (true) {
    const next = await chunks.next()
    if (next.done === true) break
    const chunk = next.value
    bytes += chunk.length
    buf = buf.length === 0 ? Buffer.from(chunk) : Buffer.concat([buf, chunk])
    let off = 0
    if (!magicSeen) {
      if (buf.length < SNAPSHOT_MAGIC.length) continue
      if (buf.subarray(0, SNAPSHOT_MAGIC.length).toString('latin1') !== SNAPSHOT_MAGIC) throw new SnapshotStreamError('not a medledger snapshot stream (version 1)')
      off = SNAPSHOT_MAGIC.length
      magicSeen = true
    }
    while (buf.length - off >= 8) {
      const keyLen = buf.readUInt32BE(off)
      if (keyLen === END) {
        if (buf.length - off < 44) break
        const entries = Number(buf.readBigUInt64BE(off + 4))
        hash.update(buf.subarray(0, off))
        const digest = hash.digest()
        if (!digest.equals(buf.subarray(off + 12, off + 44))) throw new SnapshotStreamError('the snapshot stream does not match its digest')
        if (entries !== count + page.length) throw new SnapshotStreamError(`the snapshot stream names ${entries} entries but holds ${count + page.length}`)
        if (buf.length !== off + 44) throw new SnapshotStreamError('bytes after the end of the snapshot stream')
        if (page.length > 0) await onPage(page)
        for (let more = await chunks.next(); more.done !== true; more = await chunks.next()) {
          if (more.value.length > 0) throw new SnapshotStreamError('bytes after the end of the snapshot stream')
        }
        return { entries, bytes, sha256: digest.toString('hex') }
      }
      const valueLen = buf.readUInt32BE(off + 4)
      if (keyLen === 0 || keyLen > MAX_KEY_BYTES || valueLen > MAX_VALUE_BYTES) throw new SnapshotStreamError(`a snapshot entry of ${keyLen} + ${valueLen} bytes: the stream is broken`)
      if (buf.length - off < 8 + keyLen + valueLen) break
      const key = new Uint8Array(buf.subarray(off + 8, off + 8 + keyLen))
      const value = new Uint8Array(buf.subarray(off + 8 + keyLen, off + 8 + keyLen + valueLen))
      page.push([key, value])
      pageBytes += keyLen + valueLen
      off += 8 + keyLen + valueLen
      if (pageBytes >= 4 * 1024 * 1024 || page.length >= 10_000) {
        count += page.length
        await onPage(page)
        page = []
        pageBytes = 0
      }
    }
    hash.update(buf.subarray(0, off))
    buf = buf.subarray(off)
  }
  throw new SnapshotStreamError('the snapshot stream ended before its end frame: the copy is incomplete (did the node stop?)')
}
