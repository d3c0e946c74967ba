import { spawn } from 'node:child_process'
import { createWriteStream } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import http from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createDevnet, type DevnetLayout, type DevnetSpec } from '../../src/devnet/setup.ts'
import { BIN, Daemon, daemonHeapFlags } from '../../src/devnet/daemon.ts'
import { cpuSecondsOf, du, request, rssOf, sleep } from './util.ts'

/**
 * The devnet Daemon, except that stdout and stderr are piped into the log without ending it: the
 * stock one pipes both with end:true, so a line on stderr after stdout closed (e.g. at exit under
 * --cpu-prof) raises ERR_STREAM_WRITE_AFTER_END in the parent. `nodeArgs` go before the script.
 */
export class BenchDaemon extends Daemon {
  nodeArgs: string[] = []
  /** Node flags for every daemon of this run (`npm run bench -- --node-args="--max-old-space-size=192"`). */
  static commonNodeArgs: string[] = []

  override start (): void {
    const log = createWriteStream(join(this.node.home, 'node.log'), { flags: 'a' })
    const args = [BIN, 'start', '--home', this.node.home, ...this.extraArgs]
    const nodeArgs = [...BenchDaemon.commonNodeArgs, ...this.nodeArgs]
    const proc = spawn(process.execPath, [...daemonHeapFlags(args, process.env, nodeArgs), ...nodeArgs, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env } })
    proc.stdout?.pipe(log, { end: false })
    proc.stderr?.pipe(log, { end: false })
    this.proc = proc
    this.exited = new Promise(resolve => proc.once('exit', (code) => { log.end(); resolve(code) }))
  }
}

export interface BlockEvent { height: number, round: number, records: number, at: number }

/** The block events of one node's /v1/events stream, with the time each reached this process. */
export class BlockFeed {
  readonly events: BlockEvent[] = []
  readonly heightAt = new Map<number, number>()
  total = 0
  private req: http.ClientRequest | undefined
  private waiters: Array<() => void> = []

  constructor (readonly api: string) {}

  async open (): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      // Its own socket: a long-lived stream must not hold one of the load agent's.
      const req = http.get(`${this.api}/v1/events`, { agent: false }, (res) => {
        let buf = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => {
          buf += chunk
          let i
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const msg = buf.slice(0, i)
            buf = buf.slice(i + 2)
            if (!msg.startsWith('event: block')) continue
            const data = JSON.parse(msg.slice(msg.indexOf('data: ') + 6)) as { height: number, round: number, records: number }
            const at = performance.now()
            this.events.push({ height: data.height, round: data.round, records: data.records, at })
            this.heightAt.set(data.height, at)
            this.total += data.records
            for (const w of this.waiters) w()
            this.waiters = []
          }
        })
        resolve()
      })
      req.on('error', (err) => { if (this.req === undefined) reject(err) })
      this.req = req
    })
  }

  /** Records final in blocks that arrived within [from, to] (performance.now() times). */
  recordsBetween (from: number, to: number): number {
    let n = 0
    for (const e of this.events) if (e.at >= from && e.at <= to) n += e.records
    return n
  }

  async nextBlock (timeoutMs: number): Promise<void> {
    await Promise.race([new Promise<void>(resolve => this.waiters.push(resolve)), sleep(timeoutMs)])
  }

  close (): void { this.req?.destroy() }
}

export interface NodeStats { name: string, role: string, readyMs: number, rssMaxBytes: number, rssLastBytes: number, cpuSeconds?: number }

/** A devnet of real daemon processes in a temp dir, with readiness, resident-memory sampling and block feeds. */
export class Cluster {
  readonly daemons: BenchDaemon[]
  readonly readyMs = new Map<string, number>()
  readonly rssMax = new Map<string, number>()
  readonly rssLast = new Map<string, number>()
  /** Start to the first answer of /livez (the node started and its API listens), before peers. */
  readonly apiUpMs = new Map<string, number>()
  /** Resident memory right after each node became ready (idle). */
  readonly rssReady = new Map<string, number>()
  private sampler: NodeJS.Timeout | undefined
  private readonly feeds: BlockFeed[] = []

  private constructor (readonly layout: DevnetLayout) {
    this.daemons = layout.nodes.map(n => new BenchDaemon(n, ['--log-level', process.env.BENCH_LOG_LEVEL ?? 'warn']))
  }

  static async create (spec: Omit<DevnetSpec, 'dir'>): Promise<Cluster> {
    const dir = await mkdtemp(join(tmpdir(), 'medledger-bench-'))
    return new Cluster(await createDevnet({ ...spec, dir }))
  }

  get dir (): string { return this.layout.dir }
  get validators (): BenchDaemon[] { return this.daemons.filter(d => d.node.role === 'validator') }
  get observers (): BenchDaemon[] { return this.daemons.filter(d => d.node.role === 'observer') }

  /** Starts the given daemons (all by default) and resolves once each answers /readyz with 200. */
  async start (which: Daemon[] = this.daemons, timeoutMs = 60_000): Promise<void> {
    const t0 = performance.now()
    for (const d of which) d.start()
    await Promise.all(which.map(async (d) => {
      for (;;) {
        if (!d.running) {
          const tail = (await readFile(join(d.node.home, 'node.log'), 'utf8').catch(() => '')).trim().split('\n').slice(-5).join('\n')
          throw new Error(`${d.node.name} exited during start; its log ends:\n${tail}`)
        }
        const r = await request(`${d.api}/readyz`, { timeoutMs: 1000 }).catch(() => undefined)
        if (r !== undefined && !this.apiUpMs.has(d.node.name)) this.apiUpMs.set(d.node.name, performance.now() - t0)
        if (r?.status === 200) {
          this.readyMs.set(d.node.name, performance.now() - t0)
          this.rssReady.set(d.node.name, (await rssOf(d.proc?.pid)) ?? NaN)
          return
        }
        if (performance.now() - t0 > timeoutMs) throw new Error(`${d.node.name} not ready after ${timeoutMs} ms`)
        // Tens of daemons starting on a few cores: polling each every 25 ms would itself slow them.
        await sleep(which.length > 8 ? 250 : 25)
      }
    }))
    if (this.sampler === undefined) {
      this.sampler = setInterval(() => { void this.sample() }, 500)
      this.sampler.unref()
    }
  }

  async sample (): Promise<void> {
    for (const d of this.daemons) {
      const r = await rssOf(d.proc?.pid)
      if (r === undefined || !d.running) continue
      this.rssLast.set(d.node.name, r)
      this.rssMax.set(d.node.name, Math.max(r, this.rssMax.get(d.node.name) ?? 0))
    }
  }

  resetRss (): void { this.rssMax.clear() }

  async feed (d: Daemon): Promise<BlockFeed> {
    const f = new BlockFeed(d.api)
    await f.open()
    this.feeds.push(f)
    return f
  }

  async status (d: Daemon): Promise<{ height: number, mempool: { batches: number, records: number } } | undefined> {
    const r = await request(`${d.api}/v1/status`, { timeoutMs: 5000 }).catch(() => undefined)
    return r?.status === 200 ? JSON.parse(r.body) : undefined
  }

  /** Heap and off-heap memory of a node from its Prometheus metrics, with its mempool. */
  async memory (d: Daemon): Promise<Record<string, number> | undefined> {
    const r = await request(`${d.api}/metrics`, { timeoutMs: 10_000 }).catch(() => undefined)
    if (r?.status !== 200) return undefined
    const get = (name: string): number => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+]+)`, 'm').exec(r.body)?.[1] ?? NaN)
    const st = await this.status(d)
    return {
      rss: get('process_resident_memory_bytes'),
      heapUsed: get('nodejs_heap_size_used_bytes'),
      heapTotal: get('nodejs_heap_size_total_bytes'),
      external: get('nodejs_external_memory_bytes'),
      mempoolRecords: st?.mempool.records ?? NaN,
      mempoolBatches: st?.mempool.batches ?? NaN
    }
  }

  /** Waits until no validator holds records waiting for a block and all nodes share one height. */
  async drain (timeoutMs = 60_000): Promise<boolean> {
    const t0 = performance.now()
    while (performance.now() - t0 < timeoutMs) {
      const s = await Promise.all(this.daemons.filter(d => d.running).map(async d => await this.status(d)))
      if (s.every(x => x !== undefined && x.mempool.records === 0 && x.height === s[0]?.height)) return true
      await sleep(200)
    }
    return false
  }

  /** CPU seconds (all threads) each running daemon has used so far. */
  async cpuByNode (): Promise<Record<string, number>> {
    const out: Record<string, number> = {}
    for (const d of this.daemons) {
      const s = await cpuSecondsOf(d.proc?.pid)
      if (s !== undefined) out[d.node.name] = s
    }
    return out
  }

  stats (): NodeStats[] {
    return this.daemons.map(d => ({ name: d.node.name, role: d.node.role, readyMs: this.readyMs.get(d.node.name) ?? NaN, rssMaxBytes: this.rssMax.get(d.node.name) ?? NaN, rssLastBytes: this.rssLast.get(d.node.name) ?? NaN }))
  }

  async dataBytes (d: Daemon): Promise<{ apparent: number, allocated: number }> {
    return await du(join(d.node.home, 'data'))
  }

  async stop (which: Daemon[] = this.daemons): Promise<void> {
    for (const f of this.feeds) f.close()
    await Promise.all(which.map(async d => await Promise.race([d.stop('SIGTERM'), sleep(15_000).then(async () => await d.stop('SIGKILL'))])))
    if (which === this.daemons && this.sampler !== undefined) { clearInterval(this.sampler); this.sampler = undefined }
  }

  async remove (): Promise<void> {
    await this.stop()
    if (process.env.BENCH_KEEP === '1') { process.stderr.write(`bench: kept ${this.dir} (BENCH_KEEP=1)\n`); return }
    await rm(this.dir, { recursive: true, force: true })
  }
}
