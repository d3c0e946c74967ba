/**
 * One memory budget for what peers and clients can make a node hold (docs/benchmarks.md,
 * "Memory budget"): `node.memory_budget_mb` is split among the waiting batches (mempool), the
 * sync runs in hand and the gossip caches; each share is the default of its own key, and a key
 * set in the file, the environment or a flag wins over its share. `medledger start` runs with a
 * V8 heap limit derived from the same budget (bin/medledger.js).
 */

export const DEFAULT_MEMORY_BUDGET_MB = 128
/** A budget below this cannot hold the smallest gossip window (8 MiB is 1/8 of 64). */
export const MIN_MEMORY_BUDGET_MB = 64
export const MAX_MEMORY_BUDGET_MB = 65_536

const MiB = 1024 * 1024

/**
 * The keys the budget sets, each with its share. What happens when each is full: the mempool
 * answers 503 MEMPOOL_FULL (gossiped batches are not admitted, their authors keep them); sync asks
 * for smaller runs (slower, never more memory); gossip beyond its window is ignored (not
 * forwarded, no penalty); messages for future heights beyond theirs are dropped and fetched again
 * by sync or the rebroadcast.
 */
export const BUDGET_SHARES: ReadonlyArray<{ path: [string, string], share: number, min: number, max: number }> = [
  { path: ['mempool', 'max_bytes'], share: 1 / 2, min: 1, max: Number.MAX_SAFE_INTEGER },
  { path: ['p2p', 'sync_response_bytes'], share: 1 / 8, min: 64 * 1024, max: 64 * MiB },
  { path: ['p2p', 'gossip_in_flight_bytes'], share: 1 / 8, min: 8 * MiB, max: 1024 * MiB },
  { path: ['consensus', 'max_future_bytes'], share: 1 / 8, min: MiB, max: 1024 * MiB }
]

/** One author's share of the mempool's bytes, when not set: a quarter (one of f <= N/3 leaves 3/4 to the others). */
const AUTHOR_SHARE = 1 / 4

/** The default of a budgeted key under a budget of `mb` MiB. */
export function budgetShare (mb: number, share: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, Math.floor(mb * MiB * share)))
}

/**
 * Fills the budgeted keys that `raw` (the merged file, environment and flags, before defaults)
 * leaves unset. A budget of 0 leaves every key to its own default.
 */
export function applyMemoryBudget (raw: Record<string, unknown>): void {
  const node = raw.node as Record<string, unknown> | undefined
  const mb = node?.memory_budget_mb ?? DEFAULT_MEMORY_BUDGET_MB
  if (typeof mb !== 'number' || !Number.isInteger(mb) || mb === 0) return
  const section = (name: string): Record<string, unknown> => {
    const s = raw[name]
    if (typeof s === 'object' && s !== null && !Array.isArray(s)) return s as Record<string, unknown>
    const fresh: Record<string, unknown> = {}
    if (s === undefined) raw[name] = fresh
    return fresh
  }
  for (const { path: [sec, key], share, min, max } of BUDGET_SHARES) {
    const s = section(sec)
    if (!(key in s)) s[key] = budgetShare(mb, share, min, max)
  }
  const mempool = section('mempool')
  if (!('max_bytes_per_author' in mempool) && typeof mempool.max_bytes === 'number') mempool.max_bytes_per_author = Math.max(1, Math.floor(mempool.max_bytes * AUTHOR_SHARE))
}

/**
 * The V8 old-generation limit (MB) for a node with this budget: the budgeted structures twice over
 * (their decoded form is larger than their bytes) plus what an idle node's heap holds; none for a
 * budget of 0.
 */
export function heapLimitMb (budgetMb: number): number | undefined {
  return budgetMb === 0 ? undefined : 2 * budgetMb + 128
}
