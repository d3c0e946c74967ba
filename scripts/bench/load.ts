import type { Daemon } from '../../src/devnet/daemon.ts'
import type { BlockFeed } from './cluster.ts'
import { batchesBody, submitBody } from './records.ts'
import { request, sleep } from './util.ts'

/** One accepted submission: when it was sent, to which node, and the id of its first record. */
export interface Sent { node: string, at: number, firstId: string, records: number }

export interface LoadResult {
  /** Records acknowledged (202) by the API. */
  accepted: number
  /** Requests refused with 503 (mempool full) and other failures. */
  busy: number
  failed: number
  sent: Sent[]
  /** Final records per second, counted from the block feed over the measured window. */
  finalPerSec: number
  submittedPerSec: number
  windowMs: number
  clientCpuSeconds: number
}

async function post (d: Daemon, body: string, perRequest: number): Promise<{ status: number, body: string }> {
  return await request(`${d.api}/v1/${perRequest > 1 ? 'batches' : 'records'}`, { method: 'POST', headers: { authorization: `Bearer ${d.node.token}`, 'content-type': 'application/json' }, body, timeoutMs: 30_000 })
}

/** A request's body: one batch for POST /v1/records, or `perRequest` of them for POST /v1/batches. */
function bodyOf (batch: number, perRequest: number): string {
  return perRequest > 1 ? batchesBody(batch, perRequest) : submitBody(batch)
}

/**
 * The batches a 2xx answer admitted, with the id of each one's first record: POST /v1/records
 * answers one batch, POST /v1/batches one result each (202 when admitted, else 503 or another refusal).
 */
function admitted (r: { status: number, body: string }, perRequest: number): { firstIds: string[], busy: number, failed: number } {
  if (perRequest <= 1) return r.status === 202 ? { firstIds: [(JSON.parse(r.body) as { ids: string[] }).ids[0]], busy: 0, failed: 0 } : { firstIds: [], busy: r.status === 503 ? 1 : 0, failed: r.status === 503 ? 0 : 1 }
  if (r.status !== 202 && r.status !== 207) return { firstIds: [], busy: r.status === 503 ? 1 : 0, failed: r.status === 503 ? 0 : 1 }
  const results = (JSON.parse(r.body) as { results: Array<{ status: number, ids?: string[] }> }).results
  return { firstIds: results.filter(x => x.status === 202).map(x => (x.ids as string[])[0]), busy: results.filter(x => x.status === 503).length, failed: results.filter(x => x.status !== 202 && x.status !== 503).length }
}

/**
 * Saturation: `conns` closed-loop clients spread over the targets, each posting batches of
 * `batch` as fast as answers come back, while at most `window` records are submitted and not yet
 * final (so the mempool holds a few seconds of work, not an unbounded backlog). Measured after
 * `warmupMs` for `measureMs` on the feed (the slowest node's view: an observer's).
 */
export async function saturate (o: { targets: Daemon[], feed: BlockFeed, batch: number, perRequest: number, conns: number, window: number, warmupMs: number, measureMs: number }): Promise<LoadResult> {
  const res: LoadResult = { accepted: 0, busy: 0, failed: 0, sent: [], finalPerSec: 0, submittedPerSec: 0, windowMs: o.measureMs, clientCpuSeconds: 0 }
  const base = o.feed.total
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  const end = t0 + o.warmupMs + o.measureMs
  let submitted = 0
  let acceptedInWindow = 0
  const worker = async (i: number): Promise<void> => {
    const d = o.targets[i % o.targets.length]
    while (performance.now() < end) {
      if (submitted - (o.feed.total - base) >= o.window) { await sleep(2); continue }
      const records = o.batch * o.perRequest
      submitted += records
      const at = performance.now()
      const r = await post(d, bodyOf(o.batch, o.perRequest), o.perRequest).catch(() => undefined)
      const a = r === undefined ? { firstIds: [], busy: 0, failed: 1 } : admitted(r, o.perRequest)
      const n = a.firstIds.length * o.batch
      res.accepted += n
      if (at >= t0 + o.warmupMs) acceptedInWindow += n
      for (const firstId of a.firstIds) res.sent.push({ node: d.node.name, at, firstId, records: o.batch })
      submitted -= records - n
      res.busy += a.busy
      res.failed += a.failed
      if (a.busy > 0) await sleep(20)
      else if (a.failed > 0) await sleep(50)
    }
  }
  await Promise.all(Array.from({ length: o.conns }, async (_, i) => { await worker(i) }))
  const c = process.cpuUsage(cpu0)
  res.clientCpuSeconds = (c.user + c.system) / 1e6
  res.finalPerSec = o.feed.recordsBetween(t0 + o.warmupMs, t0 + o.warmupMs + o.measureMs) * 1000 / o.measureMs
  res.submittedPerSec = acceptedInWindow * 1000 / o.measureMs
  return res
}

/**
 * Offered load: batches sent at a fixed rate (open loop: a slow answer does not delay the next
 * send), round robin over the targets, for `durationMs`. Latency is computed afterwards from the
 * block each first record landed in (read from a store) and the time that block reached us.
 */
export async function offer (o: { targets: Daemon[], feed: BlockFeed, batch: number, perRequest: number, recordsPerSec: number, durationMs: number }): Promise<LoadResult> {
  const res: LoadResult = { accepted: 0, busy: 0, failed: 0, sent: [], finalPerSec: 0, submittedPerSec: 0, windowMs: o.durationMs, clientCpuSeconds: 0 }
  const cpu0 = process.cpuUsage()
  const intervalMs = 1000 * o.batch * o.perRequest / o.recordsPerSec
  const t0 = performance.now()
  const total = Math.max(1, Math.floor(o.durationMs / intervalMs))
  const inflight = new Set<Promise<void>>()
  // Bodies are built ahead so that building them never delays a send.
  const bodies: string[] = []
  const refill = (): void => { while (bodies.length < 64) bodies.push(bodyOf(o.batch, o.perRequest)) }
  refill()
  for (let k = 0; k < total; k++) {
    const due = t0 + k * intervalMs
    const wait = due - performance.now()
    if (wait > 1) await sleep(wait)
    else if (k % 64 === 0) await new Promise(resolve => setImmediate(resolve))
    const d = o.targets[k % o.targets.length]
    const body = bodies.pop() ?? bodyOf(o.batch, o.perRequest)
    const at = performance.now()
    const p = post(d, body, o.perRequest).then((r) => {
      const a = admitted(r, o.perRequest)
      res.accepted += a.firstIds.length * o.batch
      for (const firstId of a.firstIds) res.sent.push({ node: d.node.name, at, firstId, records: o.batch })
      res.busy += a.busy
      res.failed += a.failed
    }, () => { res.failed += o.perRequest })
    inflight.add(p)
    void p.finally(() => inflight.delete(p))
    if (bodies.length < 8) refill()
  }
  await Promise.all(inflight)
  const el = performance.now() - t0
  const c = process.cpuUsage(cpu0)
  res.clientCpuSeconds = (c.user + c.system) / 1e6
  res.submittedPerSec = res.accepted * 1000 / el
  res.windowMs = el
  return res
}
