import { toHex } from '../encoding/bytes.ts'
import { batchId, recordId } from '../chain/hashing.ts'
import type { RecordBatch } from '../chain/types.ts'

export interface MempoolOptions {
  /** Total encoded bytes of waiting batches. */
  maxBytes: number
  maxBatches: number
}

export const DEFAULT_MEMPOOL: MempoolOptions = { maxBytes: 256 * 1024 * 1024, maxBatches: 50_000 }

export interface PooledBatch {
  id: string
  batch: RecordBatch
  size: number
  recordIds: string[]
}

export type AddResult = 'added' | 'duplicate' | 'full'

/**
 * Batches whose signatures this node has verified, waiting for a block. Bounded in bytes and
 * count; first in, first proposed. A batch id that is here was verified once and is not verified
 * again when it shows up in a proposal.
 */
export class Mempool {
  private readonly batches = new Map<string, PooledBatch>()
  private readonly records = new Set<string>()
  private readonly bySignature = new Map<string, PooledBatch>()
  private bytes = 0
  private readonly waiters = new Set<() => void>()

  constructor (private readonly opts: MempoolOptions = DEFAULT_MEMPOOL) {}

  get size (): number { return this.batches.size }
  get totalBytes (): number { return this.bytes }
  get recordCount (): number { return this.records.size }

  hasBatch (id: Uint8Array | string): boolean {
    return this.batches.has(typeof id === 'string' ? id : toHex(id))
  }

  /** The waiting batch with this signature, if any: a proposal carrying it is not decoded again. */
  batchBySignature (signature: Uint8Array): RecordBatch | undefined {
    return this.bySignature.get(toHex(signature))?.batch
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
    if (recordIds.some(r => this.records.has(r))) return 'duplicate'
    if (this.batches.size >= this.opts.maxBatches || this.bytes + size > this.opts.maxBytes) return 'full'
    const pooled = { id, batch, size, recordIds }
    this.batches.set(id, pooled)
    this.bySignature.set(toHex(batch.signature), pooled)
    for (const r of recordIds) this.records.add(r)
    this.bytes += size
    for (const w of this.waiters) w()
    this.waiters.clear()
    return 'added'
  }

  /** Oldest batches first, up to the limits of one block. */
  reap (maxBytes: number, maxBatches: number): PooledBatch[] {
    const out: PooledBatch[] = []
    let bytes = 0
    for (const b of this.batches.values()) {
      if (out.length >= maxBatches || bytes + b.size > maxBytes) break
      out.push(b)
      bytes += b.size
    }
    return out
  }

  /** Drops the batches a final block carried (by batch id). */
  removeBatches (ids: Iterable<string>): void {
    for (const id of ids) {
      const b = this.batches.get(id)
      if (b === undefined) continue
      this.batches.delete(id)
      this.bySignature.delete(toHex(b.batch.signature))
      for (const r of b.recordIds) this.records.delete(r)
      this.bytes -= b.size
    }
  }

  /** Resolves when a batch is added (or at once if some are waiting). */
  async whenNotEmpty (): Promise<void> {
    if (this.batches.size > 0) return
    await new Promise<void>(resolve => this.waiters.add(resolve))
  }

}
