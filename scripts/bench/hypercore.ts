import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createRequire } from 'node:module'
import { NodeKey } from '../../src/crypto/ed25519.ts'
import { encodeRecord } from '../../src/chain/codec.ts'
import { chainRecords } from './records.ts'
import { du, log } from './util.ts'

export interface HypercoreResult {
  available: boolean
  note?: string
  version?: string
  records: number
  batch: number
  appendPerSec: number
  replicatePerSec: number
  replicated: number
  bytesPerRecord: number
  replicaBytesPerRecord: number
}

interface Core {
  key: Buffer
  length: number
  contiguousLength: number
  ready: () => Promise<void>
  append: (b: Buffer | Buffer[]) => Promise<unknown>
  replicate: (initiator: boolean) => NodeJS.ReadWriteStream & { destroy: () => void }
  download: (r: { start: number, end: number }) => { done: () => Promise<void>, destroy: () => void }
  close: () => Promise<void>
}

/**
 * The reference: the same encoded records appended to a Hypercore in batches (one signed tree
 * update per append) and replicated to a second Hypercore in this process over a stream pair.
 */
export async function measureHypercore (o: { records: number, batch: number, timeoutMs: number }): Promise<HypercoreResult> {
  const none: HypercoreResult = { available: false, records: 0, batch: o.batch, appendPerSec: NaN, replicatePerSec: NaN, replicated: 0, bytesPerRecord: NaN, replicaBytesPerRecord: NaN }
  let Hypercore: new (dir: string, key?: Buffer) => Core
  let version: string | undefined
  try {
    Hypercore = (await import('hypercore' as string)).default
    version = (createRequire(import.meta.url)('hypercore/package.json') as { version: string }).version
  } catch (err) {
    return { ...none, note: `hypercore is not installed or does not load (${(err as Error).message.split('\n')[0]}): comparison skipped` }
  }
  const dir = await mkdtemp(join(tmpdir(), 'medledger-hypercore-'))
  try {
    const key = await NodeKey.generate()
    const a = new Hypercore(join(dir, 'a'))
    await a.ready()
    let appended = 0
    let appendMs = 0
    while (appended < o.records) {
      const n = Math.min(o.batch, o.records - appended)
      const bufs = chainRecords(n, key.publicKey, Date.now()).map(r => Buffer.from(encodeRecord(r)))
      const t = performance.now()
      await a.append(bufs)
      appendMs += performance.now() - t
      appended += n
    }
    const b = new Hypercore(join(dir, 'b'), a.key)
    await b.ready()
    const s1 = a.replicate(true)
    const s2 = b.replicate(false)
    s1.pipe(s2).pipe(s1)
    const t0 = performance.now()
    const range = b.download({ start: 0, end: a.length })
    let timer: NodeJS.Timeout | undefined
    const finished = await Promise.race([
      range.done().then(() => true),
      new Promise<boolean>(resolve => { timer = setTimeout(() => { resolve(false) }, o.timeoutMs) })
    ])
    clearTimeout(timer)
    const ms = performance.now() - t0
    const replicated = b.contiguousLength
    if (!finished) { log(`hypercore: replication timed out at ${replicated}/${a.length}`); range.destroy() }
    s1.destroy()
    s2.destroy()
    await Promise.all([a.close(), b.close()])
    const aBytes = (await du(join(dir, 'a'))).apparent
    const bBytes = (await du(join(dir, 'b'))).apparent
    return {
      available: true,
      version,
      note: finished ? undefined : `replication did not finish within ${o.timeoutMs} ms`,
      records: appended,
      batch: o.batch,
      appendPerSec: appended * 1000 / appendMs,
      replicatePerSec: replicated * 1000 / ms,
      replicated,
      bytesPerRecord: aBytes / appended,
      replicaBytesPerRecord: bBytes / Math.max(1, replicated)
    }
  } catch (err) {
    return { ...none, version, note: `hypercore failed: ${(err as Error).message}` }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
