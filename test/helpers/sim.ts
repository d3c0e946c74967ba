import { mkdtemp, readFile, rm, appendFile } from 'node:fs/promises'
import { readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { randomBytes } from 'node:crypto'
import type { ExecutionContext } from 'ava'
import type { DevnetLayout, DevnetSpec } from '../../src/devnet/setup.ts'
import { type Daemon, BIN } from '../../src/devnet/daemon.ts'
import { Devnet, FAST_CONSENSUS, VALIDATOR_NAMES, waitFor, type LinkMesh } from '../../src/testkit/index.ts'
import { setConfigKey } from '../../src/testkit/config-file.ts'
import { testDaemonEntry, type TestSwitch } from './test-daemon.ts'

const exec = promisify(execFile)

/**
 * The fault-injection simulation's toolkit (test/sim): a network of real daemon processes that
 * can be killed, frozen and restarted, a load generator that remembers every acknowledged record,
 * the checks every scenario ends with, and the run report.
 */

/** True in the full-length run (`npm run test:sim`); the default is the short form `npm test` runs. */
export const LONG = process.env.MEDLEDGER_SIM_LONG === '1'

/** Progress on stderr as it happens (t.log shows only once a test ends): MEDLEDGER_SIM_VERBOSE=1. */
export function progress (msg: string): void {
  if (process.env.MEDLEDGER_SIM_VERBOSE === '1') process.stderr.write(`[sim ${new Date().toISOString().slice(11, 23)}] ${msg}\n`)
}

/** t.log, and progress on stderr at once when MEDLEDGER_SIM_VERBOSE=1. */
export function say (t: ExecutionContext, msg: string): void {
  t.log(msg)
  progress(msg)
}

/** Picks the short or the long value. */
export function len<T> (short: T, long: T): T {
  return LONG ? long : short
}

export const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

export interface NodeStatus { height: number, headHash: string | null, peers: number, round: number, mempool?: { batches: number, records: number } }

const DEFAULT_HEARTBEAT_MS = 3000

/** Every daemon answered, all with the same head (height and hash). */
function oneHead (st: Array<NodeStatus | undefined>): boolean {
  const first = st[0]
  return first !== undefined && st.every(s => s !== undefined && s.height === first.height && s.headHash === first.headHash)
}

/** "name=height/hash" per daemon (and its mempool), for a timeout's message. */
function describeHeads (daemons: Daemon[], st: Array<NodeStatus | undefined>, mempool = false): string {
  return daemons.map((d, i) => `${d.node.name}=${st[i]?.height ?? '?'}/${st[i]?.headHash?.slice(0, 12) ?? '?'}${mempool ? ` mempool ${st[i]?.mempool?.batches ?? '?'}` : ''}`).join(' ')
}

export interface SimSpec {
  validators?: number
  observers?: number
  heartbeatMs?: number
  consensus?: DevnetSpec['consensus']
  /** Extra `start` arguments per node index, e.g. { 0: ['--set', 'consensus.rebroadcast_ms=500'] }. */
  extraArgs?: Record<number, string[]>
  /**
   * Test-only daemon switches per node index, e.g. { 0: ['--test-byzantine'] }: that node runs
   * test/helpers/test-daemon.js instead of bin/medledger.js (no config or environment reaches them).
   */
  testSwitches?: Record<number, TestSwitch[]>
  /** Remove the directory even when the test fails (tests that are expected to fail). */
  alwaysCleanUp?: boolean
  /** Node indices whose daemon is not started (their identity is used by the test itself). */
  skip?: number[]
  /** Called after the homes exist and before any daemon starts (e.g. to rewrite config.toml). */
  beforeStart?: (layout: DevnetLayout) => Promise<void>
  /** Every connection through the testkit's loopback relays (SimNet.links): bootstrap a relay per ordered pair, announce one per node. */
  relays?: boolean
}

/** A network of daemon processes under test, with the fault operations the scenarios use. */
export class SimNet {
  readonly daemons: Daemon[]
  /** Daemons the load generator may use: started and neither killed nor frozen. */
  readonly up = new Set<Daemon>()
  readonly frozen = new Set<Daemon>()
  /** Run at teardown, first: stop load generators, samplers and hostile hosts of a failed scenario. */
  readonly cleanups: Array<() => Promise<void>> = []
  faults = 0
  /** Set at teardown: a scenario body still running after a failure or timeout starts nothing more. */
  closed = false
  /** The devnet's heartbeat: with no records, a block this long after the last one. */
  heartbeatMs = DEFAULT_HEARTBEAT_MS

  constructor (readonly t: ExecutionContext, readonly kit: Devnet) {
    this.daemons = kit.nodes.map(n => n.daemon)
  }

  get layout (): DevnetLayout { return this.kit.layout }
  /** The relays every connection runs through (SimSpec.relays). */
  get links (): LinkMesh {
    const m = this.kit.links
    if (m === undefined) throw new Error('this simulation network runs without relays (SimSpec.relays)')
    return m
  }

  get validators (): Daemon[] { return this.daemons.filter(d => d.node.role === 'validator') }
  get observers (): Daemon[] { return this.daemons.filter(d => d.node.role === 'observer') }
  get dir (): string { return this.layout.dir }
  /** Daemons this test has started at least once. */
  get launched (): Daemon[] { return this.daemons.filter(d => d.proc !== undefined) }

  static async start (t: ExecutionContext, spec: SimSpec = {}): Promise<SimNet> {
    const dir = await mkdtemp(join(tmpdir(), 'medledger-sim-'))
    const nv = spec.validators ?? 4
    const no = spec.observers ?? 0
    const observers = Array.from({ length: no }, (_, i) => `regulator-${i}`)
    const level = process.env.MEDLEDGER_SIM_LOG_LEVEL
    const validators = Array.from({ length: nv }, (_, i) => VALIDATOR_NAMES[i] ?? `validator-${i}`)
    const names = [...validators, ...observers]
    // The testkit's network (src/testkit), in a directory this harness keeps when a scenario fails.
    // (A failed Devnet.start stops what it started itself.)
    const kit = await Devnet.start({
      dir,
      validators,
      observers,
      heartbeatMs: spec.heartbeatMs ?? DEFAULT_HEARTBEAT_MS,
      consensus: { ...FAST_CONSENSUS, ...spec.consensus },
      relays: spec.relays ?? false,
      extraArgs: Object.fromEntries(names.map((n, i) => [n, [...(spec.extraArgs?.[i] ?? []), ...(level !== undefined ? ['--log-level', level] : [])]])),
      // Test-only switches (the Byzantine validator of sim 4) run through the test harness's entry.
      entries: Object.fromEntries(names.flatMap((n, i) => spec.testSwitches?.[i] === undefined ? [] : [[n, testDaemonEntry(spec.testSwitches[i])]])),
      skip: names,
      ...(spec.beforeStart !== undefined ? { beforeStart: spec.beforeStart } : {})
    })
    const net = new SimNet(t, kit)
    net.heartbeatMs = spec.heartbeatMs ?? DEFAULT_HEARTBEAT_MS
    t.teardown(async () => {
      // Whatever failed, nothing of the scenario may outlive it (ava waits for open handles for ever).
      net.closed = true
      net.up.clear()
      for (const fn of net.cleanups.splice(0)) await fn().catch(() => {})
      for (const d of net.frozen) d.proc?.kill('SIGCONT')
      await kit.stop().catch(() => {})
      if ((t.passed || spec.alwaysCleanUp === true) && process.env.MEDLEDGER_SIM_KEEP !== '1') await rm(dir, { recursive: true, force: true })
      else console.error(`medledger sim: kept ${dir} (node logs in <home>/node.log)`)
    })
    say(t, `devnet in ${dir}: ${nv} validators, ${no} observers`)
    const launched = net.daemons.filter((_d, i) => !(spec.skip ?? []).includes(i))
    for (const d of launched) net.launch(d)
    await Promise.all(launched.map(async d => await net.waitApi(d)))
    return net
  }

  /** A load generator on the live validators (or `targets`), stopped at teardown whatever happens. */
  load (opts: LoadOptions = {}, targets?: () => Daemon[]): LoadGen {
    const gen = new LoadGen(targets ?? (() => [...this.up].filter(d => d.node.role === 'validator')), opts)
    this.cleanups.push(async () => { gen.halt() })
    if (this.closed) return gen
    return gen.start()
  }

  /** Runs `fn` at teardown (before the daemons are killed). */
  onCleanup (fn: () => Promise<void>): void {
    this.cleanups.push(fn)
  }

  private launch (d: Daemon): void {
    if (this.closed) throw new Error('the simulation network was torn down')
    d.start()
    this.up.add(d)
  }

  /** Resolves once the daemon's API answers /v1/status. */
  async waitApi (d: Daemon, timeoutMs = 60_000): Promise<NodeStatus> {
    return await waitFor(`${d.node.name} API`, async () => {
      if (!d.running) throw new Error(`${d.node.name} exited (code ${d.proc?.exitCode}, signal ${d.proc?.signalCode}); see ${d.node.home}/node.log`)
      return await status(d)
    }, timeoutMs, 100)
  }

  /** kill -9. */
  async kill (d: Daemon): Promise<void> {
    this.up.delete(d)
    this.faults++
    await d.stop('SIGKILL')
  }

  async restart (d: Daemon): Promise<NodeStatus> {
    if (d.running) throw new Error(`${d.node.name} is still running`)
    this.launch(d)
    return await this.waitApi(d)
  }

  /** SIGSTOP: the process and its sockets stay, but it answers nothing. */
  freeze (d: Daemon): void {
    this.up.delete(d)
    this.frozen.add(d)
    this.faults++
    d.proc?.kill('SIGSTOP')
  }

  thaw (d: Daemon): void {
    d.proc?.kill('SIGCONT')
    this.frozen.delete(d)
    this.up.add(d)
  }

  async statuses (daemons: Daemon[] = this.launched): Promise<Array<NodeStatus | undefined>> {
    return await Promise.all(daemons.map(async d => this.frozen.has(d) ? undefined : await status(d)))
  }

  /** The highest height any of these daemons reports (0 when none answers). */
  async maxHeight (daemons: Daemon[] = this.launched): Promise<number> {
    return Math.max(0, ...(await this.statuses(daemons)).map(s => s?.height ?? 0))
  }

  async minHeight (daemons: Daemon[] = this.launched): Promise<number> {
    return Math.min(...(await this.statuses(daemons)).map(s => s?.height ?? 0))
  }

  /** Waits until every one of `daemons` reports at least `height`. */
  async waitHeight (height: number, daemons: Daemon[] = this.launched, timeoutMs = 60_000): Promise<void> {
    await waitFor(`height ${height} on ${daemons.map(d => d.node.name).join(', ')}`, async () => (await this.minHeight(daemons)) >= height, timeoutMs)
  }

  /** Waits until the daemons report one head (same height and hash) at one moment; returns it. */
  async waitEqualHeads (daemons: Daemon[] = this.launched, timeoutMs = 60_000, minHeight = 0): Promise<NodeStatus> {
    let last: Array<NodeStatus | undefined> = []
    try {
      return await waitFor('equal heads', async () => {
        last = await this.statuses(daemons)
        const first = last[0]
        if (first === undefined || first.height < minHeight) return undefined
        return oneHead(last) ? first : undefined
      }, timeoutMs, 150)
    } catch (err) {
      throw new Error(`${(err as Error).message}: ${describeHeads(daemons, last)}`)
    }
  }

  /**
   * Stops the daemons (SIGTERM, all at once) between two blocks, so that all of them end at one
   * height. A chain without load is still live (heartbeat blocks, evidence from a Byzantine
   * validator): stopped at a random moment, a daemon that received its last precommit a moment
   * before the others were stopped ends one block ahead of them. So this waits until every mempool
   * is empty and one poll sees every head move to the same new block, and stops them then: the
   * next block is due a heartbeat later. A chain that makes no block for two heartbeats is quiet
   * and stopped as it is. Returns the exit codes.
   */
  async stopBetweenBlocks (daemons: Daemon[], timeoutMs = 60_000): Promise<Array<number | null>> {
    let base: number | undefined
    let top = -1
    let movedAt = Date.now()
    let st: Array<NodeStatus | undefined> = []
    await waitFor('a new block on every node with empty mempools', async () => {
      st = await this.statuses(daemons)
      const first = st[0]
      const highest = Math.max(...st.map(s => s?.height ?? 0))
      if (highest !== top) { top = highest; movedAt = Date.now() }
      // The first poll only sets the baseline: its block may have been made long before.
      base ??= highest
      const empty = st.every(s => (s?.mempool?.batches ?? 0) === 0)
      if (first === undefined || !oneHead(st) || !empty) return false
      // Polled every 50 ms: the first poll that sees every head on one block above the baseline
      // comes right after the last of them committed it.
      return first.height > base || Date.now() - movedAt > 2 * this.heartbeatMs
    }, timeoutMs, 50).catch((err: Error) => {
      throw new Error(`${err.message}: ${describeHeads(daemons, st, true)}`)
    })
    return await Promise.all(daemons.map(async d => { this.up.delete(d); return await d.stop('SIGTERM') }))
  }

  /** Resident set size of the daemon's process in KiB (Linux /proc), undefined when it is not running. */
  rssKiB (d: Daemon): number | undefined {
    const pid = d.proc?.pid
    if (pid === undefined || !d.running) return undefined
    try {
      const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
      return m === null ? undefined : Number(m[1])
    } catch {
      return undefined
    }
  }

  /** Log lines of a node at pino level >= `minLevel` (50 = error, 60 = fatal). */
  async logLines (d: Daemon, minLevel = 50): Promise<string[]> {
    const text = await readFile(join(d.node.home, 'node.log'), 'utf8').catch(() => '')
    return text.split('\n').filter(line => {
      try {
        return (JSON.parse(line) as { level?: number }).level! >= minLevel
      } catch {
        // Non-JSON output (a stack trace printed by the CLI) counts as an error line.
        return line.trim() !== ''
      }
    })
  }

  /** Rewrites one key of a node's config.toml (value in TOML syntax). */
  static async setConfig (home: string, key: string, tomlValue: string): Promise<void> {
    await setConfigKey(home, key, tomlValue)
  }
}

export async function status (d: Daemon): Promise<NodeStatus | undefined> {
  return await d.status() as NodeStatus | undefined
}

// ------------------------------------------------------------------------------------ load

export interface SubmittedRecord { type: string, subject: string, contentType: string, payload: string, timestamp: number }

export interface LoadOptions {
  /** Concurrent submitters. */
  workers?: number
  /** Records per request (one signed batch). */
  batch?: number
  /** Client-side limit on one wait=final request; an aborted request's records are not acknowledged. */
  requestTimeoutMs?: number
  /** Pause between a worker's requests (steady, lighter load for the soak). */
  pauseMs?: number
}

/**
 * Submits records with wait=final to the live validators and remembers every acknowledged record
 * (HTTP 200, final on the node that answered). Errors (a node going down mid-request, 504 while
 * there is no quorum, refused connections) are counted, never fatal.
 */
export class LoadGen {
  readonly acked = new Map<string, SubmittedRecord>()
  readonly errors = new Map<string, number>()
  /** Acknowledgement times (ms since epoch), one entry per acknowledged record. */
  readonly ackTimes: number[] = []
  requests = 0
  private seq = 0
  private stopping = false
  private workers: Array<Promise<void>> = []
  private readonly tag = randomBytes(4).toString('hex')
  private readonly opts: Required<LoadOptions>
  maxAckedHeight = 0

  constructor (private readonly targets: () => Daemon[], opts: LoadOptions = {}) {
    this.opts = { workers: 4, batch: 2, requestTimeoutMs: 30_000, pauseMs: 0, ...opts }
  }

  start (): this {
    this.stopping = false
    for (let w = 0; w < this.opts.workers; w++) this.workers.push(this.worker())
    return this
  }

  /** Stops submitting at once, without waiting for requests in flight. */
  halt (): void {
    this.stopping = true
  }

  /** Stops submitting and waits for every request in flight to settle. */
  async stop (): Promise<void> {
    this.stopping = true
    await Promise.all(this.workers)
    this.workers = []
  }

  /** Acknowledged records per second between two times. */
  rate (from: number, to: number): number {
    const n = this.ackTimes.filter(x => x >= from && x < to).length
    return n / Math.max(0.001, (to - from) / 1000)
  }

  ackedBetween (from: number, to: number): number {
    return this.ackTimes.filter(x => x >= from && x < to).length
  }

  errorSummary (): string {
    return [...this.errors].map(([k, v]) => `${k}:${v}`).join(' ') || 'none'
  }

  nextRecord (): SubmittedRecord {
    const n = this.seq++
    return {
      type: 'sim.load',
      subject: randomBytes(32).toString('hex'),
      contentType: 'application/octet-stream',
      payload: Buffer.concat([Buffer.from(`sim-${this.tag}-${n}-`), randomBytes(24)]).toString('base64'),
      timestamp: Date.now()
    }
  }

  /** One wait=final submission; resolves to the acknowledged ids or undefined. */
  async submitOnce (d: Daemon, records: SubmittedRecord[]): Promise<string[] | undefined> {
    this.requests++
    try {
      const res = await fetch(`${d.api}/v1/records?wait=final`, {
        method: 'POST',
        headers: { authorization: `Bearer ${d.node.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ records }),
        signal: AbortSignal.timeout(this.opts.requestTimeoutMs)
      })
      const body = await res.json() as { ids?: string[], height?: number, error?: { code: string } }
      if (res.status === 200 && body.ids?.length === records.length) {
        const now = Date.now()
        body.ids.forEach((id, i) => { this.acked.set(id, records[i]); this.ackTimes.push(now) })
        this.maxAckedHeight = Math.max(this.maxAckedHeight, body.height ?? 0)
        return body.ids
      }
      this.count(`${res.status}${body.error?.code !== undefined ? `/${body.error.code}` : ''}`)
    } catch (err) {
      const e = err as Error & { cause?: { code?: string } }
      this.count(e.name === 'TimeoutError' ? 'client-timeout' : (e.cause?.code ?? e.name))
    }
    return undefined
  }

  private count (what: string): void {
    this.errors.set(what, (this.errors.get(what) ?? 0) + 1)
  }

  private async worker (): Promise<void> {
    while (!this.stopping) {
      const live = this.targets()
      if (live.length === 0) { await sleep(100); continue }
      const d = live[Math.floor(Math.random() * live.length)]
      const records = Array.from({ length: this.opts.batch }, () => this.nextRecord())
      const ids = await this.submitOnce(d, records)
      // A failed request's records may or may not become final: only acknowledged ones are checked.
      if (ids === undefined) {
        await sleep(100)
      } else if (this.opts.pauseMs > 0) {
        await sleep(this.opts.pauseMs)
      }
    }
  }
}

// ------------------------------------------------------------------------------------ memory

/** One daemon's resident memory: the highest sample before an attack and the highest from its start on. */
export interface RssVerdict { node: string, baselineMiB: number, peakMiB: number, ratio: number, /** V8 heap and buffers read from /metrics near the peak RSS. */ atPeak?: string }

/**
 * Samples the daemons' RSS (/proc VmRSS) every `everyMs` until stopped, in two phases: the
 * baseline (from start until `attackBegins()`) and the attack (from then until `stop()`). Each
 * phase keeps the highest sample per daemon. Stopped at teardown whatever happens.
 */
export class RssSampler {
  private readonly baseline = new Map<Daemon, number>()
  private readonly peak = new Map<Daemon, number>()
  private attacking = false
  private running = true
  private readonly loop: Promise<void>

  constructor (private readonly net: SimNet, readonly daemons: Daemon[], everyMs = 250) {
    net.onCleanup(async () => { await this.stop() })
    this.loop = (async () => {
      while (this.running) {
        this.sample()
        await sleep(everyMs)
      }
    })()
  }

  /** Ends the baseline phase: from now on samples count as the attack's. */
  attackBegins (): void {
    this.sample()
    this.attacking = true
  }

  private sample (): void {
    const into = this.attacking ? this.peak : this.baseline
    for (const d of this.daemons) {
      const kib = this.net.rssKiB(d)
      if (kib === undefined) continue
      if (kib / 1024 > (into.get(d) ?? 0)) {
        into.set(d, kib / 1024)
        if (this.attacking) void this.breakdown(d)
      }
    }
  }

  /** What the daemon's memory is at its highest RSS so far: V8 heap and buffers (/metrics), for the report. */
  private readonly peakBreakdown = new Map<Daemon, string>()
  private async breakdown (d: Daemon): Promise<void> {
    const rssMiB = this.peak.get(d) ?? 0
    const text = await fetch(`${d.api}/metrics`, { headers: { authorization: `Bearer ${d.node.tokens?.read ?? d.node.token}` }, signal: AbortSignal.timeout(5_000) }).then(async r => await r.text(), () => '')
    const mib = (name: string): string => { const m = new RegExp(`^${name} (\\S+)`, 'm').exec(text); return m === null ? '?' : (Number(m[1]) / 1048576).toFixed(0) }
    if (text === '' || (this.peak.get(d) ?? 0) > rssMiB) return
    this.peakBreakdown.set(d, `heap used ${mib('nodejs_heap_size_used_bytes')} of ${mib('nodejs_heap_size_total_bytes')} MiB, external (buffers) ${mib('nodejs_external_memory_bytes')} MiB`)
  }

  /** Stops sampling; one verdict per daemon. */
  async stop (): Promise<RssVerdict[]> {
    if (this.running) this.sample()
    this.running = false
    await this.loop
    return this.daemons.map(d => {
      const baselineMiB = this.baseline.get(d) ?? 0
      const peakMiB = this.peak.get(d) ?? 0
      return { node: d.node.name, baselineMiB: round1(baselineMiB), peakMiB: round1(peakMiB), ratio: baselineMiB === 0 ? Number.POSITIVE_INFINITY : Math.round(100 * peakMiB / baselineMiB) / 100, atPeak: this.peakBreakdown.get(d) }
    })
  }
}

const round1 = (x: number): number => Math.round(10 * x) / 10

/** "name base -> peak MiB (xR)" per daemon. */
export function describeRss (verdicts: RssVerdict[]): string {
  return verdicts.map(v => `${v.node} ${v.baselineMiB} -> ${v.peakMiB} MiB (x${v.ratio}${v.atPeak === undefined ? '' : `; near the peak: ${v.atPeak}`})`).join('; ')
}

// ------------------------------------------------------------------------------------ checks

export interface CheckResult {
  height: number
  headHash: string
  acked: number
  lost: number
  verified: Array<{ node: string, ok: boolean, height: number, records: number }>
}

interface RecordView { recordId: string, record: Record<string, unknown>, block: { header: Record<string, unknown> }, certificate: { signatures: unknown[] } }

/** Runs `fn` over `items`, at most `limit` at a time; results in order. */
export async function mapLimit<T, R> (items: T[], limit: number, fn: (x: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length)
  let next = 0
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++
      out[i] = await fn(items[i])
    }
  }))
  return out
}

/**
 * The checks every scenario ends with. The load stops first; then, with every daemon running:
 * all heads equal; every acknowledged record is served by every node (so final there: a record is
 * only served with its certificate), identical to what was submitted and in the same block
 * everywhere; then SIGTERM (exit 0) and `medledger verify --home` on every database.
 */
export async function finalChecks (t: ExecutionContext, net: SimNet, load: LoadGen | LoadGen[] | undefined, opts: { nodes?: Daemon[], expectNoEvidence?: boolean } = {}): Promise<CheckResult> {
  const loads = load === undefined ? [] : Array.isArray(load) ? load : [load]
  await Promise.all(loads.map(async l => { await l.stop() }))
  const nodes = opts.nodes ?? net.launched
  for (const d of nodes) t.true(d.running && !net.frozen.has(d), `${d.node.name} runs at the end of the scenario`)
  const acked = loads.flatMap(l => [...l.acked])
  const head = await net.waitEqualHeads(nodes, 90_000, Math.max(0, ...loads.map(l => l.maxAckedHeight)))
  say(t, `heads equal on ${nodes.length} nodes at height ${head.height} (${head.headHash?.slice(0, 16)})`)

  // Every acknowledged record, on every node, identical, final, in the same block.
  let lost = 0
  const problems: string[] = []
  const quorum = Math.floor(2 * net.validators.length / 3) + 1
  await mapLimit(acked, 8, async ([id, sent]) => {
    const views = await Promise.all(nodes.map(async d => {
      const res = await fetch(`${d.api}/v1/records/${id}`, { signal: AbortSignal.timeout(10_000) })
      return { d, status: res.status, body: res.status === 200 ? await res.json() as RecordView : undefined }
    }))
    let missing = false
    for (const v of views) {
      if (v.body === undefined) { missing = true; problems.push(`${id} on ${v.d.node.name}: HTTP ${v.status}`); continue }
      const r = v.body.record
      const same = v.body.recordId === id && r.type === sent.type && r.subject === sent.subject && r.contentType === sent.contentType && r.payload === sent.payload && r.timestamp === sent.timestamp
      if (!same) problems.push(`${id} on ${v.d.node.name} differs from what was submitted: ${JSON.stringify(r)}`)
      if (v.body.certificate.signatures.length < quorum) problems.push(`${id} on ${v.d.node.name}: certificate with ${v.body.certificate.signatures.length} < ${quorum} signatures`)
      if (JSON.stringify(v.body.block.header) !== JSON.stringify(views[0].body?.block.header)) problems.push(`${id}: ${v.d.node.name} holds it in another block than ${views[0].d.node.name}`)
    }
    if (missing) lost++
  })
  t.deepEqual(problems.slice(0, 20), [], `acknowledged records: ${problems.length} problems`)
  t.is(lost, 0, 'no acknowledged record is lost')
  say(t, `${acked.length} acknowledged records present and identical on ${nodes.length} nodes`)

  if (opts.expectNoEvidence === true) {
    for (const d of nodes) {
      const ev = await (await fetch(`${d.api}/v1/evidence`)).json() as { committed: unknown[], pending: unknown[] }
      t.is(ev.committed.length + ev.pending.length, 0, `${d.node.name}: no evidence among honest validators (no double-sign after a crash)`)
    }
  }

  // Clean shutdown and offline verification of every database.
  const codes = await net.stopBetweenBlocks(nodes)
  t.deepEqual(codes, nodes.map(() => 0), 'every daemon exits 0 on SIGTERM')
  const verified = await mapLimit(nodes, 3, async d => {
    try {
      const { stdout } = await exec(process.execPath, [BIN, 'verify', '--home', d.node.home, '--json'], { maxBuffer: 16 * 1024 * 1024 })
      const r = JSON.parse(stdout) as { ok: boolean, height: number, records: number }
      return { node: d.node.name, ok: r.ok, height: r.height, records: r.records }
    } catch (err) {
      const e = err as { code?: number, stdout?: string, stderr?: string }
      say(t, `verify ${d.node.name} failed (exit ${e.code}): ${e.stdout ?? ''} ${e.stderr ?? ''}`)
      return { node: d.node.name, ok: false, height: -1, records: -1 }
    }
  })
  for (const v of verified) t.true(v.ok, `medledger verify passes on ${v.node}`)
  const heights = new Set(verified.map(v => v.height))
  t.is(heights.size, 1, `every database ends at one height: ${verified.map(v => `${v.node}=${v.height}`).join(' ')}`)
  say(t, `medledger verify ok on ${verified.filter(v => v.ok).length}/${verified.length} databases (height ${verified[0]?.height}, ${verified[0]?.records} records)`)
  return { height: head.height, headHash: head.headHash ?? '', acked: acked.length, lost, verified }
}

// ------------------------------------------------------------------------------------ report

export interface ScenarioReport {
  scenario: string
  mode: 'short' | 'long'
  faults: number
  acked: number
  lost: number
  /** Worst time to recover after a fault, ms (undefined when not applicable). */
  recoveryMs?: number
  durationMs: number
  passed?: boolean
  /** Set for a scenario that reproduces an open product bug (its test is marked failing). */
  knownBug?: string
  /** Honest daemons' resident memory before and under an attack (the insider tier), MiB. */
  rss?: RssVerdict[]
  notes: string[]
}

/**
 * Appends one scenario's line to the report file named by MEDLEDGER_SIM_REPORT (JSON lines; the
 * sim runner turns it into the summary table and JSON report) and logs it.
 */
export async function report (t: ExecutionContext, r: Omit<ScenarioReport, 'mode'>): Promise<void> {
  const line: ScenarioReport = { ...r, mode: LONG ? 'long' : 'short' }
  say(t, `report: ${JSON.stringify(line)}`)
  const file = process.env.MEDLEDGER_SIM_REPORT
  if (file !== undefined && file !== '') await appendFile(file, JSON.stringify(line) + '\n')
}

/** Runs `body` as a scenario: times it and writes its report line even when an assertion fails. */
export async function scenario (t: ExecutionContext, name: string, body: (r: Omit<ScenarioReport, 'mode' | 'durationMs' | 'scenario'>) => Promise<void>, opts: { knownBug?: string } = {}): Promise<void> {
  const started = Date.now()
  const r = { faults: 0, acked: 0, lost: 0, notes: [] as string[], recoveryMs: undefined as number | undefined, rss: undefined as RssVerdict[] | undefined, passed: false, ...opts }
  try {
    await body(r)
    r.passed = t.passed
  } catch (err) {
    r.notes.push(`error: ${(err as Error).message}`)
    throw err
  } finally {
    say(t, `${name}: ${((Date.now() - started) / 1000).toFixed(1)} s`)
    await report(t, { scenario: name, ...r, durationMs: Date.now() - started })
  }
}

// ------------------------------------------------------------------------------------ randomness

/** A seeded PRNG (mulberry32), so a failing run's fault schedule can be replayed with MEDLEDGER_SIM_SEED. */
export function seededRandom (t: ExecutionContext, name: string): { next: () => number, int: (lo: number, hi: number) => number, pick: <T>(xs: T[]) => T, seed: number } {
  const seed = process.env.MEDLEDGER_SIM_SEED !== undefined ? Number(process.env.MEDLEDGER_SIM_SEED) : randomBytes(4).readUInt32LE(0)
  say(t, `${name}: seed ${seed} (replay with MEDLEDGER_SIM_SEED=${seed})`)
  let a = seed >>> 0
  const next = (): number => {
    a = (a + 0x6D2B79F5) >>> 0
    let x = a
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
  return { next, seed, int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)), pick: xs => xs[Math.floor(next() * xs.length)] }
}
