import { readdir, stat, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import http from 'node:http'
import os from 'node:os'

export const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

export function median (xs: number[]): number {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2
}

/** Nearest-rank percentile (p in 0..100) of an unsorted list. */
export function percentile (xs: number[], p: number): number {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p / 100 * s.length) - 1))]
}

/**
 * Operations per second of `fn` (which performs `opsPerCall` operations) over `runs` timed runs of
 * at least `minMs` each, after one warm-up run: the median and the best run. On a shared machine
 * other processes only ever slow a run down, so the best run is the closer estimate of the limit.
 */
export async function rate (fn: () => unknown, opsPerCall: number, opts: { runs?: number, minMs?: number } = {}): Promise<{ median: number, best: number }> {
  const runs = opts.runs ?? 5
  const minMs = opts.minMs ?? 300
  const once = async (): Promise<number> => {
    let calls = 0
    const t0 = performance.now()
    let el = 0
    do {
      const r = fn()
      if (r instanceof Promise) await r
      calls++
      el = performance.now() - t0
    } while (el < minMs)
    return calls * opsPerCall * 1000 / el
  }
  await once()
  const out: number[] = []
  for (let i = 0; i < runs; i++) out.push(await once())
  return { median: median(out), best: Math.max(...out) }
}

/** Bytes of all files under dir (apparent size), and the blocks they occupy. */
export async function du (dir: string): Promise<{ apparent: number, allocated: number }> {
  let apparent = 0
  let allocated = 0
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name)
      if (e.isDirectory()) await walk(p)
      else if (e.isFile()) { const s = await stat(p); apparent += s.size; allocated += s.blocks * 512 }
    }
  }
  await walk(dir)
  return { apparent, allocated }
}

/** Resident set of a process in bytes (Linux /proc), undefined when gone. */
export async function rssOf (pid: number | undefined): Promise<number | undefined> {
  if (pid === undefined) return undefined
  try {
    const s = await readFile(`/proc/${pid}/status`, 'utf8')
    const m = /VmRSS:\s+(\d+) kB/.exec(s)
    return m === null ? undefined : Number(m[1]) * 1024
  } catch {
    return undefined
  }
}

/** CPU seconds (user + system) a process has used so far (Linux /proc). */
export async function cpuSecondsOf (pid: number | undefined): Promise<number | undefined> {
  if (pid === undefined) return undefined
  try {
    const s = await readFile(`/proc/${pid}/stat`, 'utf8')
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ')
    return (Number(f[11]) + Number(f[12])) / 100
  } catch {
    return undefined
  }
}

/** Whole-machine busy CPU seconds so far (from /proc/stat), for utilisation over a window. */
export async function machineCpu (): Promise<{ busy: number, total: number }> {
  const s = await readFile('/proc/stat', 'utf8')
  const f = s.split('\n')[0].trim().split(/\s+/).slice(1).map(Number)
  const idle = f[3] + (f[4] ?? 0)
  const total = f.reduce((a, b) => a + b, 0)
  return { busy: (total - idle) / 100, total: total / 100 }
}

export const agent = new http.Agent({ keepAlive: true, maxSockets: 512 })

export interface HttpResult { status: number, body: string }

/** A plain HTTP request over the keep-alive agent (lighter than fetch at thousands per second). */
export async function request (url: string, opts: { method?: string, headers?: Record<string, string>, body?: string, timeoutMs?: number } = {}): Promise<HttpResult> {
  return await new Promise((resolve, reject) => {
    const req = http.request(url, { method: opts.method ?? 'GET', headers: opts.headers, agent }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }) })
      res.on('error', reject)
    })
    req.on('error', reject)
    if (opts.timeoutMs !== undefined) req.setTimeout(opts.timeoutMs, () => { req.destroy(new Error(`timeout after ${opts.timeoutMs} ms: ${url}`)) })
    if (opts.body !== undefined) req.end(opts.body)
    else req.end()
  })
}

export function machine (): Record<string, unknown> {
  const cpus = os.cpus()
  return {
    cpus: cpus.length,
    availableParallelism: os.availableParallelism(),
    model: cpus[0]?.model ?? 'unknown',
    mhz: cpus[0]?.speed,
    memoryBytes: os.totalmem(),
    memoryGiB: Math.round(os.totalmem() / 2 ** 30 * 10) / 10,
    node: process.version,
    v8: process.versions.v8,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    date: new Date().toISOString()
  }
}

/** Human figures: 12345 -> "12.3k", 0.1234 -> "0.123". */
export function fmt (x: number | undefined, digits = 3): string {
  if (x === undefined || Number.isNaN(x)) return 'n/a'
  const a = Math.abs(x)
  if (a >= 1e6) return `${(x / 1e6).toPrecision(digits)}M`
  if (a >= 1e4) return `${(x / 1e3).toPrecision(digits)}k`
  if (a >= 100) return Math.round(x).toString()
  return x.toPrecision(digits)
}

export function log (msg: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`)
}

/** Machine CPU over a window, split into what the given processes used and what others used. */
export class CpuWatch {
  private m0 = { busy: 0, total: 0 }
  private own0 = 0
  private t0 = 0
  constructor (private readonly pids: () => Array<number | undefined>) {}

  private async own (): Promise<number> {
    let s = 0
    for (const p of this.pids()) s += (await cpuSecondsOf(p)) ?? 0
    const u = process.cpuUsage()
    return s + (u.user + u.system) / 1e6
  }

  async start (): Promise<void> {
    this.m0 = await machineCpu()
    this.own0 = await this.own()
    this.t0 = performance.now()
  }

  /** Cores busy on average over the window: all, ours (bench + daemons), others'. */
  async stop (): Promise<{ wallS: number, busyCores: number, ownCores: number, foreignCores: number }> {
    const m1 = await machineCpu()
    const own = await this.own() - this.own0
    const wallS = (performance.now() - this.t0) / 1000
    const busy = m1.busy - this.m0.busy
    return { wallS, busyCores: busy / wallS, ownCores: own / wallS, foreignCores: Math.max(0, busy - own) / wallS }
  }
}

/** The largest value (or `empty`): Math.max(...xs) overflows the stack on a few hundred thousand values. */
export function maxOf (xs: Iterable<number>, empty = -Infinity): number {
  let m = empty
  for (const x of xs) if (x > m) m = x
  return m
}
