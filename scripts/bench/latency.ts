import { recordId } from '../../src/chain/hashing.ts'
import { toHex } from '../../src/encoding/bytes.ts'
import { ChainStore } from '../../src/storage/index.ts'
import type { BlockFeed } from './cluster.ts'
import type { Sent } from './load.ts'
import { maxOf, percentile } from './util.ts'

/** Height of every batch on a (stopped) node's chain, keyed by the hex id of its first record. */
export async function batchHeights (dataDir: string): Promise<Map<string, number>> {
  const store = await ChainStore.open(dataDir)
  const out = new Map<string, number>()
  try {
    for await (const fb of store.iterateFinalized(1, store.head?.height ?? 0)) {
      for (const b of fb.block.body.batches) out.set(toHex(recordId(b.records[0])), fb.block.header.height)
    }
  } finally {
    await store.close()
  }
  return out
}

export interface Latency { n: number, final: number, p50: number, p95: number, p99: number, max: number, mean: number }

/**
 * Submit-to-final latency of each accepted submission: from the moment it was sent to the moment
 * the node it was sent to announced the block holding it (its /v1/events stream).
 */
export function latencies (sent: Sent[], heights: Map<string, number>, feeds: Map<string, BlockFeed>): Latency {
  const xs: number[] = []
  for (const s of sent) {
    const h = heights.get(s.firstId)
    const at = h === undefined ? undefined : feeds.get(s.node)?.heightAt.get(h)
    if (at !== undefined) xs.push(at - s.at)
  }
  return {
    n: sent.length,
    final: xs.length,
    p50: percentile(xs, 50),
    p95: percentile(xs, 95),
    p99: percentile(xs, 99),
    max: xs.length === 0 ? NaN : maxOf(xs),
    mean: xs.length === 0 ? NaN : xs.reduce((a, b) => a + b, 0) / xs.length
  }
}
