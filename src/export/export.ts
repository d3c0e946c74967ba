import { access, link, open, unlink } from 'node:fs/promises'
import { blockHash } from '../chain/hashing.ts'
import { toHex } from '../encoding/bytes.ts'
import { MedledgerError } from '../errors.ts'
import type { ChainStore } from '../storage/index.ts'
import { encodeExportHeader, encodeFrame } from './format.ts'
import { ExportErrorCode } from './errors.ts'
import { StorageErrorCode } from '../storage/errors.ts'
import { ConfigErrorCode } from '../config/errors.ts'

export interface ExportResult {
  file: string
  chainId: string
  genesisHash: string
  from: number
  to: number
  blocks: number
  bytes: number
  /** Hash of the last exported block: compare with the head an import reports. */
  lastBlockHash: string
  ms: number
}

const FLUSH_BYTES = 1 << 20

/**
 * Streams blocks from..to with their certificates into `out` (docs/export-format.md). Written to
 * `out.partial` first and linked to `out` only when complete and flushed, so an interrupted
 * export never leaves a file under the name asked for; an existing `out` is never overwritten.
 */
export async function exportStore (store: ChainStore, out: string, range: { from?: number, to?: number }, progress?: (done: number, total: number) => void): Promise<ExportResult> {
  const started = Date.now()
  const head = store.head?.height ?? 0
  if (store.chainId === undefined || store.genesisHash === undefined) throw new MedledgerError(ExportErrorCode.EMPTY, `the database in ${store.dir} does not name its chain; nothing to export`)
  if (head === 0) throw new MedledgerError(ExportErrorCode.EMPTY, `the database in ${store.dir} holds no blocks yet; nothing to export`)
  const from = range.from ?? 1
  const to = range.to ?? head
  if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to) || from < 1 || to < from) throw new MedledgerError(ConfigErrorCode.USAGE, `--from and --to must be heights with 1 <= from <= to (got ${from}..${to})`)
  if (to > head) throw new MedledgerError(ConfigErrorCode.USAGE, `--to ${to} is above this database's last block ${head}`)
  if (await access(out).then(() => true, () => false)) throw new MedledgerError(ConfigErrorCode.USAGE, `${out} already exists; refusing to overwrite it`)

  const partial = `${out}.partial`
  const fh = await open(partial, 'w', 0o644).catch((err: NodeJS.ErrnoException) => {
    throw new MedledgerError(ConfigErrorCode.USAGE, `cannot write ${partial}: ${err.code ?? err.message}`)
  })
  let bytes = 0
  let last: Uint8Array | undefined
  let done = false
  try {
    let pending: Uint8Array[] = []
    let pendingBytes = 0
    const flush = async (): Promise<void> => {
      if (pendingBytes === 0) return
      await fh.write(Buffer.concat(pending, pendingBytes))
      bytes += pendingBytes
      pending = []
      pendingBytes = 0
    }
    const push = async (b: Uint8Array): Promise<void> => {
      pending.push(b)
      pendingBytes += b.length
      if (pendingBytes >= FLUSH_BYTES) await flush()
    }
    await push(encodeExportHeader({ chainId: store.chainId, genesisHash: store.genesisHash, from, to }))
    let n = 0
    for await (const fb of store.iterateFinalized(from, to)) {
      await push(encodeFrame(fb))
      if (fb.block.header.height === to) last = blockHash(fb.block.header)
      n++
      if (n % 64 === 0 || n === to - from + 1) progress?.(n, to - from + 1)
    }
    await flush()
    if (n !== to - from + 1 || last === undefined) throw new MedledgerError(StorageErrorCode.CORRUPT, `read ${n} blocks from ${from} to ${to}; expected ${to - from + 1}`)
    await fh.sync()
    await fh.close()
    await link(partial, out).catch((err: NodeJS.ErrnoException) => {
      throw new MedledgerError(ConfigErrorCode.USAGE, err.code === 'EEXIST' ? `${out} appeared while exporting; refusing to overwrite it` : `cannot create ${out}: ${err.code ?? err.message}`)
    })
    await unlink(partial)
    done = true
  } finally {
    if (!done) {
      await fh.close().catch(() => {})
      await unlink(partial).catch(() => {})
    }
  }
  return { file: out, chainId: store.chainId, genesisHash: toHex(store.genesisHash), from, to, blocks: to - from + 1, bytes, lastBlockHash: toHex(last), ms: Date.now() - started }
}
