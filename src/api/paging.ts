/** Most entries of a list (evidence, grants, the access log) one response carries. */
export const MAX_LIST_PAGE = 100

/**
 * Parses `limit` (1..max, default max; larger values are clamped) and a numeric cursor; undefined
 * when either is not a whole number.
 */
export function pageQuery (q: { limit?: string }, cursor: string | undefined, max: number): { limit: number, cursor: number | undefined } | undefined {
  const limit = q.limit === undefined ? max : Number(q.limit)
  const c = cursor === undefined ? undefined : Number(cursor)
  if (!Number.isSafeInteger(limit) || limit < 1) return undefined
  if (c !== undefined && (!Number.isSafeInteger(c) || c < 0)) return undefined
  return { limit: Math.min(limit, max), cursor: c }
}

/**
 * One page of an append-only list, oldest first: entries [after, after + limit). `next` is the
 * `after` of the following page, null at the end. New entries only append, so a cursor stays valid.
 */
export function pageOf<T> (items: readonly T[], after: number, limit: number): { items: T[], next: number | null } {
  const end = Math.min(items.length, after + limit)
  return { items: items.slice(after, end), next: end < items.length ? end : null }
}
