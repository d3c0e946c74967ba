import { blockHash } from '../chain/hashing.ts'
import type { FinalizedBlock } from '../chain/types.ts'
import { toHex } from '../encoding/bytes.ts'
import { certificateJson, headerJson } from './json.ts'

/** Most blocks GET /v1/blocks returns at once; more are read page by page with `before`. */
export const MAX_BLOCK_PAGE = 20
/** Summaries of the newest blocks kept in memory (a few KiB each), so the usual pages decode nothing. */
export const SUMMARY_CACHE_BLOCKS = 128

export type BlockSummary = Record<string, unknown> & { header: { height: number } }

/** A block's line in the list: header, hash, counts and certificate; no batches, records or evidence. */
export function blockSummary (fb: FinalizedBlock): BlockSummary {
  const b = fb.block
  return {
    hash: toHex(blockHash(b.header)),
    header: headerJson(b.header) as { height: number },
    recordCount: b.body.batches.reduce((n, batch) => n + batch.records.length, 0),
    batchCount: b.body.batches.length,
    evidenceCount: b.body.evidence.length,
    certificate: certificateJson(fb.certificate)
  }
}

export interface BlockSource {
  readonly head: { height: number } | null
  iterateFinalized: (from: number, to: number) => AsyncGenerator<FinalizedBlock>
}

/**
 * The pages of GET /v1/blocks: newest first, at most MAX_BLOCK_PAGE blocks, each a summary. The
 * newest SUMMARY_CACHE_BLOCKS summaries are cached (filled as blocks become final); an older page
 * decodes at most MAX_BLOCK_PAGE blocks.
 */
export class BlockList {
  readonly #cache = new Map<number, BlockSummary>()

  constructor (private readonly store: BlockSource) {}

  /** Called for every block made final. */
  add (fb: FinalizedBlock): void {
    const s = blockSummary(fb)
    this.#cache.set(s.header.height, s)
    for (const h of this.#cache.keys()) {
      if (this.#cache.size <= SUMMARY_CACHE_BLOCKS) break
      this.#cache.delete(h) // oldest inserted first
    }
  }

  /** Blocks [to - limit + 1, to], newest first; `next` is the `before` of the following page, null at height 1. */
  async page (to: number, limit: number): Promise<{ blocks: BlockSummary[], next: number | null }> {
    const from = Math.max(1, to - limit + 1)
    const out: BlockSummary[] = []
    let missing: number | undefined
    for (let h = to; h >= from; h--) {
      const s = this.#cache.get(h)
      if (s === undefined) { missing = h; break }
      out.push(s)
    }
    if (missing !== undefined) {
      const older: BlockSummary[] = []
      for await (const fb of this.store.iterateFinalized(from, missing)) older.push(blockSummary(fb))
      out.push(...older.reverse())
    }
    return { blocks: out, next: from > 1 && to >= from ? from : null }
  }
}
