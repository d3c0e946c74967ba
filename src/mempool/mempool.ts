import { toHex } from '../encoding/bytes.ts'
import { batchId, recordId } from '../chain/hashing.ts'
import type { RecordBatch } from '../chain/types.ts'

export interface MempoolOptions {
  /** Total encoded bytes of waiting batches. */
  maxBytes: number
  maxBatches: number
  /** One author's share of the bytes (at most maxBytes): a flooding author fills only this. */
  maxBytesPerAuthor: number
  /** One author's share of the batches (at most maxBatches). */
  maxBatchesPerAuthor: number
}

/**
 * The per-author shares are a quarter of the whole: one author (of f <= N/3) leaves 3/4 to the
 * others. The bytes are half of the default memory budget (src/config/memory-budget.ts).
 */
export const DEFAULT_MEMPOOL: MempoolOptions = { maxBytes: 64 * 1024 * 1024, maxBatches: 50_000, maxBytesPerAuthor: 16 * 1024 * 1024, maxBatchesPerAuthor: 12_500 }

export interface PooledBatch {
  id: string
  batch: RecordBatch
  size: number
  recordIds: string[]
}

/** 'author-quota': this batch's author has its share of the pool waiting already. */
export type AddResult = 'added' | 'duplicate' | 'full' | 'author-quota'

/** One author's waiting batches, oldest first, and what they hold. */
interface AuthorQueue {
  batches: Map<string, PooledBatch>
  bytes: number
}

/**
 * Batches whose signatures this node has verified, waiting for a block; none holds a final record
 * (callers check every record before `add`, and `removeFinal` drops what a final block makes a
 * replay), so consensus need not look its batches up again. Bounded in bytes and
 * count, in total and per author; first in, first proposed within an author, and authors take
 * turns in a block (reap), so one author flooding the pool neither locks the others out of it nor
 * out of the next blocks. A batch id that is here was verified once and is not verified again when
 * it shows up in a proposal.
 */
export class Mempool {
  private readonly batches = new Map<string, PooledBatch>()
  /** Hex record id -> hex id of the waiting batch that holds it. */
  private readonly records = new Map<string, string>()
  private readonly bySignature = new Map<string, PooledBatch>()
  /** Authors (hex key) with waiting batches, in the order they started waiting. */
  private readonly authors = new Map<string, AuthorQueue>()
  private bytes = 0
  private readonly waiters = new Set<() => void>()
  private readonly opts: MempoolOptions

  constructor (opts: Partial<MempoolOptions> = {}) {
    const o = { ...DEFAULT_MEMPOOL, ...opts }
    this.opts = { ...o, maxBytesPerAuthor: Math.min(o.maxBytesPerAuthor, o.maxBytes), maxBatchesPerAuthor: Math.min(o.maxBatchesPerAuthor, o.maxBatches) }
  }

  get size (): number { return this.batches.size }
  get totalBytes (): number { return this.bytes }
  get recordCount (): number { return this.records.size }

  /** Bytes and batches of one author waiting here. */
  authorUsage (author: Uint8Array): { bytes: number, batches: number } {
    const q = this.authors.get(toHex(author))
    return { bytes: q?.bytes ?? 0, batches: q?.batches.size ?? 0 }
  }

  hasBatch (id: Uint8Array | string): boolean {
    return this.batches.has(typeof id === 'string' ? id : toHex(id))
  }

  /** The waiting batch with this signature, if any: a proposal carrying it is not decoded again. */
  batchBySignature (signature: Uint8Array): RecordBatch | undefined {
    return this.bySignature.get(toHex(signature))?.batch
  }

  /** The waiting batch with this id (hex), if any: what a compact proposal's receiver fills it from. */
  batchById (id: string): RecordBatch | undefined {
    return this.batches.get(id)?.batch
  }

  /** Hex ids of a waiting batch's records, in order. */
  recordIdsOf (batchId: string): string[] | undefined {
    return this.batches.get(batchId)?.recordIds
  }

  hasRecord (id: string): boolean {
    return this.records.has(id)
  }

  add (batch: RecordBatch, size: number, id = toHex(batchId(batch))): AddResult {
    if (this.batches.has(id)) return 'duplicate'
    const recordIds = batch.records.map(r => toHex(recordId(r)))
    // Every record of the batch, not only its first: a record id waits (and is written) once.
    if (recordIds.some(r => this.records.has(r)) || new Set(recordIds).size !== recordIds.length) return 'duplicate'
    const author = toHex(batch.author)
    const q = this.authors.get(author)
    if ((q?.batches.size ?? 0) >= this.opts.maxBatchesPerAuthor || (q?.bytes ?? 0) + size > this.opts.maxBytesPerAuthor) return 'author-quota'
    if (this.batches.size >= this.opts.maxBatches || this.bytes + size > this.opts.maxBytes) return 'full'
    const pooled = { id, batch, size, recordIds }
    this.batches.set(id, pooled)
    this.bySignature.set(toHex(batch.signature), pooled)
    for (const r of recordIds) this.records.set(r, id)
    this.bytes += size
    const queue = q ?? { batches: new Map(), bytes: 0 }
    queue.batches.set(id, pooled)
    queue.bytes += size
    if (q === undefined) this.authors.set(author, queue)
    for (const w of this.waiters) w()
    this.waiters.clear()
    return 'added'
  }

  /**
   * Batches for one block, up to its limits: authors take turns, one batch each per turn, each
   * author's oldest first; authors in the order they started waiting. An author whose next batch
   * does not fit what is left gives up its later turns.
   */
  reap (maxBytes: number, maxBatches: number): PooledBatch[] {
    const out: PooledBatch[] = []
    let bytes = 0
    let turns = [...this.authors.values()].map(q => q.batches.values())
    while (turns.length > 0 && out.length < maxBatches) {
      const next: typeof turns = []
      for (const it of turns) {
        if (out.length >= maxBatches) break
        const r = it.next()
        if (r.done === true || bytes + r.value.size > maxBytes) continue
        out.push(r.value)
        bytes += r.value.size
        next.push(it)
      }
      turns = next
    }
    return out
  }

  /**
   * Drops what a final block makes obsolete: the batches it carried, and any other waiting batch
   * holding one of its records (which could now only be a replay). A batch of the block that was
   * waiting here takes its records with it, so only the records of the others are looked up.
   */
  removeFinal (batches: RecordBatch[]): void {
    const conflicting = new Set<string>()
    for (const b of batches) {
      const id = toHex(batchId(b))
      if (this.batches.has(id)) { conflicting.add(id); continue }
      for (const r of b.records) {
        const holder = this.records.get(toHex(recordId(r)))
        if (holder !== undefined) conflicting.add(holder)
      }
    }
    this.removeBatches(conflicting)
  }

  /** Drops waiting batches by batch id. */
  removeBatches (ids: Iterable<string>): void {
    for (const id of ids) {
      const b = this.batches.get(id)
      if (b === undefined) continue
      this.batches.delete(id)
      this.bySignature.delete(toHex(b.batch.signature))
      for (const r of b.recordIds) this.records.delete(r)
      this.bytes -= b.size
      const author = toHex(b.batch.author)
      const q = this.authors.get(author)
      if (q === undefined) continue
      q.batches.delete(id)
      q.bytes -= b.size
      if (q.batches.size === 0) this.authors.delete(author)
    }
  }

  /** Resolves when a batch is added (or at once if some are waiting). */
  async whenNotEmpty (): Promise<void> {
    if (this.batches.size > 0) return
    await new Promise<void>(resolve => this.waiters.add(resolve))
  }
}
