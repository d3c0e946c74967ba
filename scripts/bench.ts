// `npm run bench`: measures the machine's own limits and the node against them in one run, prints
// a table and writes bench/results.json. `--quick` for a ~2 minute pass; `--profile` runs the
// daemons under --cpu-prof and prints where their time goes; `--only=raw,single,cluster,sync,hypercore,latency`;
// `--docs` rewrites the results section of docs/benchmarks.md. The heavy network-size phases run only
// when named: `--only=scale [--scale-n=4,7,10,16]` and `--only=members [--members-m=10,20,40]`;
// `--merge` keeps what the previous results file holds for every phase, N and M not run this time.
import { execFileSync } from 'node:child_process'
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { measureRaw, type RawLimits } from './bench/raw.ts'
import { measureCluster, type ClusterResult, type PhaseSpec } from './bench/ingest.ts'
import { measureSync, type SyncResult } from './bench/sync.ts'
import { measureHypercore, type HypercoreResult } from './bench/hypercore.ts'
import { profilesIn, renderSummary, summarize, type ProfileSummary } from './bench/profile.ts'
import { renderMarkdown, renderText, row, type Row } from './bench/report.ts'
import { log, machine } from './bench/util.ts'
import { BenchDaemon } from './bench/cluster.ts'
import { measureScale, type ScalePoint } from './bench/scale.ts'
import { measureMembers, type MembersPoint } from './bench/members.ts'
import { curvesMarkdown, membersRows, scaleCurves, scaleRows } from './bench/scale-report.ts'
import { measureWanLatency, wanLatencyRows, type WanLatencyResult } from './bench/wan-latency.ts'

const args = process.argv.slice(2)
const quick = args.includes('--quick')
const profile = args.includes('--profile')
const docs = args.includes('--docs')
const only = args.find(a => a.startsWith('--only='))?.slice(7).split(',')
const out = args.find(a => a.startsWith('--out='))?.slice(6) ?? join('bench', quick ? 'results-quick.json' : 'results.json')
const nodeArgs = args.find(a => a.startsWith('--node-args='))?.slice(12).split(' ').filter(Boolean) ?? []
BenchDaemon.commonNodeArgs = nodeArgs
// The network-size phases start tens of daemons: only when named.
const HEAVY = ['scale', 'members']
const wants = (s: string): boolean => only === undefined ? !HEAVY.includes(s) : only.includes(s)
const listArg = (name: string, dflt: number[]): number[] => {
  const v = args.find(a => a.startsWith(`--${name}=`))?.slice(name.length + 3)
  if (v === undefined) return dflt
  const xs = v.split(',').map(Number)
  if (xs.some(x => !Number.isSafeInteger(x) || x < 1)) { process.stderr.write(`--${name}: expected a comma-separated list of positive integers, got "${v}"\n`); process.exit(2) }
  return xs
}
const scaleNs = listArg('scale-n', [4, 7, 10, 16])
const membersMs = listArg('members-m', [10, 20, 40])
const merge = args.includes('--merge')
// --batches=1 runs only the phases with batches of 1 (e.g. to profile them alone).
const batchesArg = args.find(a => a.startsWith('--batches='))?.slice(10).split(',').map(Number)
const batchFilter = (phases: PhaseSpec[]): PhaseSpec[] => batchesArg === undefined ? phases : phases.filter(p => batchesArg.includes(p.batch))
// The devnet's clients of single-record batches post this many per request (POST /v1/batches);
// `--per-request=1` posts each on its own (POST /v1/records), as before 2026-12-03.
const perRequest = Number(args.find(a => a.startsWith('--per-request='))?.slice(14) ?? 50)
const root = process.cwd()
const profileDir = profile ? join(tmpdir(), `medledger-bench-profiles-${new Date().toISOString().replace(/[:.]/g, '-')}`) : undefined

const P = quick
  ? {
      single: [
        { batch: 1000, conns: 4, window: 30_000, warmupMs: 3000, measureMs: 8000, loads: [], loadMs: 0 },
        { batch: 1, conns: 64, window: 6000, warmupMs: 3000, measureMs: 8000, loads: [], loadMs: 0 }
      ],
      cluster: [
        { batch: 1000, conns: 8, window: 30_000, warmupMs: 5000, measureMs: 12_000, loads: [0.5], loadMs: 8000 },
        { batch: 1, perRequest, conns: 16, window: 6000, warmupMs: 5000, measureMs: 12_000, loads: [0.5], loadMs: 8000 }
      ],
      sync1000: { records: 100_000, inProcess: 50_000, timeoutMs: 60_000 },
      sync1: { records: 10_000, inProcess: 10_000, timeoutMs: 60_000 },
      hypercore: 20_000
    }
  : {
    single: [
      { batch: 1000, conns: 4, window: 30_000, warmupMs: 5000, measureMs: 20_000, loads: [], loadMs: 0 },
      { batch: 1, conns: 64, window: 6000, warmupMs: 5000, measureMs: 20_000, loads: [], loadMs: 0 }
    ],
    cluster: [
      { batch: 1000, conns: 8, window: 30_000, warmupMs: 10_000, measureMs: 30_000, loads: [0.25, 0.5], loadMs: 25_000 },
      { batch: 1, perRequest, conns: 16, window: 6000, warmupMs: 10_000, measureMs: 30_000, loads: [0.25, 0.5], loadMs: 25_000 }
    ],
    sync1000: { records: 1_000_000, inProcess: 200_000, timeoutMs: 300_000 },
    sync1: { records: 50_000, inProcess: 50_000, timeoutMs: 120_000 },
    hypercore: 200_000
  } satisfies Record<string, unknown> & { single: PhaseSpec[], cluster: PhaseSpec[] }

// Functions whose inclusive CPU share the profile summaries report (hot paths of a node).
const INCLUSIVE = ['recordId', 'batchId', 'batchRecordsRoot', 'signBatch', 'submit', 'add', 'defaultJsonParser', 'safeParse', 'verifyAll', 'isValidBlock',
  'newBlock', 'applyFinal', 'commitMany', 'encodeBlock', 'decodeBlock', 'decodeCbor', 'verifyRun', 'checkBlock', 'readBlocks', 'applySynced', 'publishBatch', 'onBatch', 'onMessage', 'waitFinal', 'verifySignature', 'getRecordLocation', 'checkBatch', 'merkleRoot', 'encodeCbor', 'iterateFinalized', 'finalizedToCbor']

const cores = Number(machine().availableParallelism)
// `--show[=file]`: print the table of an earlier run (and with --docs, put it in docs/benchmarks.md).
const show = args.find(a => a === '--show' || a.startsWith('--show='))
if (show !== undefined) {
  const file = show.includes('=') ? show.slice(7) : out
  const prev = JSON.parse(await readFile(resolve(root, file), 'utf8')) as { header: string, table: Row[], curvesMarkdown?: string }
  process.stdout.write(`\n${prev.header}\n\n${renderText(prev.table)}\n`)
  if (docs) await updateDocs(prev.header, prev.table, prev.curvesMarkdown)
  process.exit(0)
}

/** Replaces the generated section of docs/benchmarks.md (between the bench markers) with this table. */
async function updateDocs (header: string, rows: Row[], curves?: string): Promise<void> {
  const file = join(root, 'docs', 'benchmarks.md')
  // A run of the network-size phases alone leaves the main table (the other phases') as it is.
  if (rows.some(r => !/^(scale|members):/.test(r.section))) {
    const text = await readFile(file, 'utf8').catch(() => '')
    const block = `<!-- bench:start -->\n${header}\n\n${renderMarkdown(rows)}\n<!-- bench:end -->`
    const next = text.includes('<!-- bench:start -->') ? text.replace(/<!-- bench:start -->[\s\S]*<!-- bench:end -->/, () => block) : `${text}\n${block}\n`
    await writeFile(file, next)
    process.stdout.write(`updated ${file}\n`)
  }
  // The network-size curves, one column per N or M, where a file holds their markers (README.md, docs/benchmarks.md).
  if (curves === undefined || curves === '') return
  for (const f of [join(root, 'README.md'), file]) {
    const t = await readFile(f, 'utf8').catch(() => '')
    if (!t.includes('<!-- bench-curves:start -->')) continue
    await writeFile(f, t.replace(/<!-- bench-curves:start -->[\s\S]*<!-- bench-curves:end -->/, () => `<!-- bench-curves:start -->\n${curves}\n<!-- bench-curves:end -->`))
    process.stdout.write(`updated the curves in ${f}\n`)
  }
}

const started = Date.now()
const results: {
  machine: Record<string, unknown>
  mode: string
  loadavgStart: number[]
  loadavgEnd?: number[]
  durationS?: number
  raw?: RawLimits
  single?: ClusterResult
  cluster?: ClusterResult
  sync?: { batch1000?: SyncResult, batch1?: SyncResult }
  hypercore?: HypercoreResult
  scale?: ScalePoint[]
  members?: MembersPoint[]
  /** Each scale cost against N with its fitted power-law exponent. */
  scaleCurves?: ReturnType<typeof scaleCurves>
  /** The same curves as Markdown tables (README.md and docs/benchmarks.md, between bench-curves markers). */
  curvesMarkdown?: string
  latency?: WanLatencyResult
  profiles?: Record<string, ProfileSummary[]>
  table?: Row[]
  header?: string
  errors: string[]
  git?: { commit: string, dirtyFiles: number }
  nodeArgs?: string[]
} = { machine: machine(), nodeArgs, mode: quick ? 'quick' : 'full', loadavgStart: loadavg(), errors: [], git: gitState() }

/** The commit measured, and how many tracked files under src/ differ from it (uncommitted work). */
function gitState (): { commit: string, dirtyFiles: number } | undefined {
  try {
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split('\n').filter(Boolean).length
    return { commit, dirtyFiles: dirty }
  } catch {
    // An exported tree (git archive) is not a repository: the exporter names the commit.
    return process.env.BENCH_COMMIT === undefined ? undefined : { commit: process.env.BENCH_COMMIT, dirtyFiles: 0 }
  }
}

async function step<T> (name: string, fn: () => Promise<T>): Promise<T | undefined> {
  if (!wants(name)) return undefined
  const t = Date.now()
  try {
    const r = await fn()
    log(`${name} done in ${((Date.now() - t) / 1000).toFixed(0)} s`)
    return r
  } catch (err) {
    log(`${name} FAILED: ${(err as Error).stack ?? String(err)}`)
    results.errors.push(`${name}: ${(err as Error).message}`)
    return undefined
  }
}

if (loadavg()[0] > cores / 2) log(`WARNING: the load average is ${loadavg()[0].toFixed(1)} on ${cores} cores: other processes are using the CPU and every figure will come out low (each phase records how many cores others kept busy)`)
log(`medledger bench (${results.mode}) on ${String(results.machine.cpus)} x ${String(results.machine.model)}, node ${process.version}; load average ${loadavg().map(x => x.toFixed(2)).join(' ')}`)
results.raw = await step('raw', async () => await measureRaw(quick))
results.single = await step('single', async () => await measureCluster({ validators: 1, observers: 0, phases: batchFilter(P.single), profileDir, label: 'single' }))
results.cluster = await step('cluster', async () => await measureCluster({ validators: 4, observers: 1, phases: batchFilter(P.cluster), profileDir, label: 'cluster' }))
if (wants('sync')) {
  results.sync = {}
  results.sync.batch1000 = await step('sync', async () => await measureSync({ records: P.sync1000.records, batch: 1000, batchesPerBlock: 10, timeoutMs: P.sync1000.timeoutMs, inProcessRecords: P.sync1000.inProcess, profileDir }))
  results.sync.batch1 = await step('sync', async () => await measureSync({ records: P.sync1.records, batch: 1, batchesPerBlock: 1000, timeoutMs: P.sync1.timeoutMs, inProcessRecords: P.sync1.inProcess, profileDir }))
}
results.hypercore = await step('hypercore', async () => await measureHypercore({ records: P.hypercore, batch: 1000, timeoutMs: quick ? 30_000 : 90_000 }))
results.latency = await step('latency', async () => await measureWanLatency({ delays: [0, 50, 150], samples: quick ? 20 : 50 }))
results.scale = await step('scale', async () => await measureScale(scaleNs))
results.members = await step('members', async () => await measureMembers(membersMs))
if (merge) {
  // Phases not run now come from the previous file; scale and members points are kept per N and M.
  const prev = JSON.parse(await readFile(resolve(root, out), 'utf8').catch(() => '{}')) as Partial<typeof results>
  for (const k of ['raw', 'single', 'cluster', 'sync', 'hypercore', 'latency'] as const) if (results[k] === undefined && prev[k] !== undefined) (results as Record<string, unknown>)[k] = prev[k]
  results.scale = [...(prev.scale ?? []).filter(p => results.scale?.some(q => q.validators === p.validators) !== true), ...(results.scale ?? [])].sort((a, b) => a.validators - b.validators)
  results.members = [...(prev.members ?? []).filter(p => results.members?.some(q => q.members === p.members) !== true), ...(results.members ?? [])].sort((a, b) => a.members - b.members)
  if (results.scale.length === 0) delete results.scale
  if (results.members.length === 0) delete results.members
}
results.loadavgEnd = loadavg()
results.durationS = (Date.now() - started) / 1000

// ---------------------------------------------------------------- the table
const raw = results.raw
const rows: Row[] = []
const MB = 1024 * 1024
if (raw !== undefined) {
  const s = `raw limits (this run; best of timed runs; other processes kept ${raw.foreignCores.toFixed(2)} cores busy meanwhile)`
  rows.push(row({ section: s, name: 'Ed25519 verify, 1 core (node:crypto, cached KeyObject)', value: raw.verify1, unit: '/s' }))
  rows.push(row({ section: s, name: `Ed25519 verify, VerifyPool (${raw.verifyPoolThreads} threads)`, value: raw.verifyPool, unit: '/s', limit: raw.verify1 * raw.verifyPoolThreads, limitName: `= ${raw.verifyPoolThreads} x 1-core verify` }))
  rows.push(row({ section: s, name: 'Ed25519 sign, 1 core', value: raw.sign, unit: '/s' }))
  rows.push(row({ section: s, name: 'sha256 of 200 B', value: raw.sha256of200B, unit: '/s' }))
  rows.push(row({ section: s, name: `cborg encode of a record (${raw.encodedRecordBytes} B)`, value: raw.cborEncodeRecord, unit: '/s' }))
  rows.push(row({ section: s, name: 'strict CBOR decode of a record (decodeRecord)', value: raw.cborDecodeRecord, unit: '/s' }))
  rows.push(row({ section: s, name: 'recordId (canonical encode + sha256)', value: raw.recordId, unit: '/s' }))
  rows.push(row({ section: s, name: 'LevelDB batch write 1,000 x 300 B, sequential keys', value: raw.levelSeq, unit: 'records/s' }))
  rows.push(row({ section: s, name: 'LevelDB batch write 1,000 x 300 B, random 32 B keys', value: raw.levelRandom, unit: 'records/s' }))
  rows.push(row({ section: s, name: 'LevelDB small write flushed to disk (sync: true), median', value: raw.levelSyncWriteMs, unit: 'ms', display: `${raw.levelSyncWriteMs.toFixed(2)} ms` }))
  rows.push(row({ section: s, name: 'LevelDB get (half hits, half misses), each awaited before the next', value: raw.levelGetSerialUs, unit: 'µs', display: `${raw.levelGetSerialUs.toFixed(1)} µs`, note: `${fmtN(1e6 / raw.levelGetSerialUs)}/s in a loop of awaited lookups` }))
  rows.push(row({ section: s, name: 'floor: encode + sha256 + LevelDB write per record, 1 core', value: raw.floor1, unit: 'records/s' }))
}
const ms = (x: number | undefined): number | undefined => x
const single = results.single
if (single !== undefined) {
  const s = 'single validator, HTTP API to final blocks'
  const b1000 = single.phases.find(p => p.batch === 1000)
  const b1 = single.phases.find(p => p.batch === 1)
  if (b1000 !== undefined) rows.push(row({ section: s, name: 'final records/s, batches of 1,000', value: b1000.saturation.finalPerSec, unit: '/s', limit: raw?.floor1, limitName: 'floor, 1 core', target: '>= 100,000/s', met: b1000.saturation.finalPerSec >= 100_000, note: `${fmtBlocks(b1000)}` }))
  if (b1 !== undefined) rows.push(row({ section: s, name: 'final records/s, batches of 1', value: b1.saturation.finalPerSec, unit: '/s', limit: raw?.sign, limitName: 'sign, 1 core', note: `${fmtBlocks(b1)}` }))
  for (const p of single.phases) rows.push(row({ section: s, name: `daemon CPU per final record, batches of ${p.batch.toLocaleString('en-US')}`, value: p.cpuPerRecordUs.total, unit: 'µs', limit: raw === undefined ? undefined : minCpuUs(raw, 1, p.batch), limitName: `µs minimum (${p.batch === 1 ? 'sign + ' : ''}floor)`, target: `<= ${fmtN(cores * 1e6 / (p.batch === 1 ? 3000 : 100_000))} µs for the target`, note: `${p.cpuPerRecordUs.records.toLocaleString('en-US')} records` }))
  rows.push(row({ section: s, name: 'start to ready (/readyz 200)', value: ms(Math.max(...Object.values(single.readyMs))), unit: 'ms' }))
  rows.push(row({ section: s, name: 'resident memory under load (max)', value: Math.max(...Object.values(single.rssMaxBytes)) / MB, unit: 'MB', target: '<= 250 MB', met: Math.max(...Object.values(single.rssMaxBytes)) / MB <= 250, note: `${Math.round(Math.max(...Object.values(single.rssReadyBytes)) / MB)} MB when ready, idle; ${memNote(single)}` }))
  rows.push(row({ section: s, name: 'bytes on disk per record', value: Object.values(single.diskBytesPerRecord)[0], unit: 'B/record', limit: raw?.encodedRecordBytes, limitName: 'B encoded record', target: '<= 1.5x', met: Object.values(single.diskBytesPerRecord)[0] <= 1.5 * (raw?.encodedRecordBytes ?? 215) }))
}
const cluster = results.cluster
if (cluster !== undefined) {
  const s = '4 validators + 1 observer, real daemons on loopback'
  for (const p of cluster.phases) {
    const limit = p.batch === 1 ? (raw === undefined ? undefined : raw.verifyPool / 5) : (raw === undefined ? undefined : raw.floor1 * cores / 5)
    const limitName = p.batch === 1 ? 'pool verify / 5 nodes' : `floor x ${cores} cores / 5 nodes`
    const target = p.batch === 1 ? 3000 : 20_000
    rows.push(row({ section: s, name: `final records/s at saturation, batches of ${p.batch.toLocaleString('en-US')}${p.perRequest > 1 ? ` (${p.perRequest} per request)` : ''}`, value: p.saturation.finalPerSec, unit: '/s', limit, limitName, target: `>= ${target.toLocaleString('en-US')}/s`, met: p.saturation.finalPerSec >= target, note: `${fmtBlocks(p)}; other processes used ${p.saturation.cpu.foreignCores.toFixed(2)} cores` }))
    for (const l of [...p.loads, { fraction: 1, offeredPerSec: p.saturation.submittedPerSec, latency: p.saturation.latency, cpu: p.saturation.cpu, finalPerSec: p.saturation.finalPerSec }]) {
      const lat = l.latency
      const half = l.fraction === 0.5
      rows.push(row({ section: s, name: `submit-to-final p50 / p95 / p99, batches of ${p.batch.toLocaleString('en-US')} at ${l.fraction === 1 ? 'saturation' : `${Math.round(l.fraction * 100)}% (${fmtN(l.offeredPerSec)}/s offered)`}`, value: lat.p50, unit: 'ms', display: `${fmtN(lat.p50)} / ${fmtN(lat.p95)} / ${fmtN(lat.p99)} ms`, target: half ? 'p50 <= 150, p99 <= 500 ms' : undefined, met: half ? lat.p50 <= 150 && lat.p99 <= 500 : undefined, note: `max ${fmtN(lat.max)} ms; ${lat.final} of ${lat.n} submissions final and timed; ${fmtN(l.finalPerSec)} final/s` }))
    }
  }
  for (const p of cluster.phases) {
    const budget = cores * 1e6 / (p.batch === 1 ? 3000 : 20_000)
    rows.push(row({ section: s, name: `daemon CPU per final record, all 5 nodes, batches of ${p.batch.toLocaleString('en-US')}`, value: p.cpuPerRecordUs.total, unit: 'µs', limit: raw === undefined ? undefined : minCpuUs(raw, 5, p.batch), limitName: `µs minimum (${p.batch === 1 ? '4 verify + sign + ' : ''}5 x floor)`, target: `<= ${fmtN(budget)} µs for the target`, met: p.cpuPerRecordUs.total <= budget, note: Object.entries(p.cpuPerRecordUs.byNode).map(([k, v]) => `${k} ${fmtN(v)}`).join(', ') + ` µs; ${p.cpuPerRecordUs.records.toLocaleString('en-US')} records` }))
  }
  const ready = Object.values(cluster.readyMs)
  rows.push(row({ section: s, name: 'start to ready, 5 daemons started together (slowest)', value: Math.max(...ready), unit: 'ms', note: `fastest ${Math.round(Math.min(...ready))} ms` }))
  const rss = Object.entries(cluster.rssMaxBytes)
  const maxRss = Math.max(...rss.map(([, v]) => v)) / MB
  rows.push(row({ section: s, name: 'resident memory per node under load (max over nodes)', value: maxRss, unit: 'MB', target: '<= 250 MB', met: maxRss <= 250, note: rss.map(([k, v]) => `${k} ${Math.round(v / MB)}`).join(', ') + `; ${Math.round(Math.max(...Object.values(cluster.rssReadyBytes)) / MB)} MB when ready, idle; ${memNote(cluster)}` }))
  const obsDisk = cluster.diskBytesPerRecord.obs1
  rows.push(row({ section: s, name: 'bytes on disk per record (observer)', value: obsDisk, unit: 'B/record', limit: raw?.encodedRecordBytes, limitName: 'B encoded record', target: '<= 1.5x', met: obsDisk <= 1.5 * (raw?.encodedRecordBytes ?? 215), note: `${cluster.finalRecords.toLocaleString('en-US')} records in ${cluster.height} blocks` }))
}
const sync = results.sync
if (sync !== undefined) {
  const s = 'observer sync from scratch over the network'
  for (const r of [sync.batch1000, sync.batch1]) {
    if (r === undefined) continue
    const limit = r.batch === 1 ? raw?.verifyPool : raw?.floor1
    const target = r.batch === 1 ? (raw === undefined ? undefined : 0.8 * raw.verifyPool) : 150_000
    rows.push(row({ section: s, name: `records/s, ${r.chain.records.toLocaleString('en-US')} records in batches of ${r.batch.toLocaleString('en-US')}`, value: r.recordsPerSec, unit: '/s', limit, limitName: r.batch === 1 ? 'pool verify' : 'floor, 1 core', target: r.batch === 1 ? `>= 80% of pool verify (${fmtN(target)}/s)` : '>= 150,000/s', met: target === undefined ? undefined : r.recordsPerSec >= target, note: `${r.chain.height} blocks; ${r.completed ? 'complete' : 'INCOMPLETE (timed out)'} in ${(r.syncMs / 1000).toFixed(1)} s; chain built offline in ${(r.chain.ms / 1000).toFixed(1)} s` }))
    rows.push(row({ section: s, name: `observer CPU per synced record, batches of ${r.batch.toLocaleString('en-US')}`, value: r.observerCpuPerRecordUs, unit: 'µs', limit: raw === undefined ? undefined : 1e6 / raw.floor1 + (r.batch === 1 ? 1e6 / raw.verify1 : 0), limitName: `µs minimum (${r.batch === 1 ? 'verify + ' : ''}floor)`, note: `source node ${fmtN(r.sourceCpuPerRecordUs)} µs per record served` }))
    if (r.inProcess !== undefined) rows.push(row({ section: s, name: `in-process verifyRun + commitMany, batches of ${r.batch.toLocaleString('en-US')}`, value: r.inProcess.recordsPerSec, unit: '/s', limit, limitName: r.batch === 1 ? 'pool verify' : 'floor, 1 core', note: `${r.inProcess.records.toLocaleString('en-US')} records: read+decode ${(r.inProcess.readMs / 1000).toFixed(1)} s, verifyRun ${(r.inProcess.verifyMs / 1000).toFixed(1)} s, commitMany ${(r.inProcess.commitMs / 1000).toFixed(1)} s` }))
  }
  const big = sync.batch1000
  if (big !== undefined) {
    rows.push(row({ section: s, name: 'bytes on disk per record after sync (observer)', value: big.diskBytesPerRecord, unit: 'B/record', limit: big.chain.encodedRecordBytes, limitName: 'B encoded record', target: '<= 1.5x', met: big.diskBytesPerRecord <= 1.5 * big.chain.encodedRecordBytes, note: `source written by commitMany: ${Math.round(big.sourceDiskBytesPerRecord)} B/record` }))
    rows.push(row({ section: s, name: `start to ready, node holding ${big.chain.records.toLocaleString('en-US')} records`, value: big.sourceReadyMs, unit: 'ms', note: `API up after ${fmtN(big.sourceApiUpMs)} ms (the first start after an offline build scans every block once); restarted: API up after ${fmtN(big.sourceRestartApiUpMs)} ms` }))
    rows.push(row({ section: s, name: 'resident memory during sync: observer / source', value: big.observerRssMaxBytes / MB, unit: 'MB', target: '<= 250 MB', met: Math.max(big.observerRssMaxBytes, big.sourceRssMaxBytes) / MB <= 250, note: `source ${Math.round(big.sourceRssMaxBytes / MB)} MB` }))
  }
}
const hc = results.hypercore
if (hc !== undefined) {
  const s = `Hypercore ${hc.version ?? ''} side by side (same encoded records, in-process replica)`.replace('  ', ' ')
  if (!hc.available) rows.push(row({ section: s, name: 'skipped', value: undefined, unit: '', note: hc.note }))
  else {
    const ours = single?.phases.find(p => p.batch === 1000)?.saturation.finalPerSec
    rows.push(row({ section: s, name: `append, batches of ${hc.batch.toLocaleString('en-US')} (${hc.records.toLocaleString('en-US')} records)`, value: hc.appendPerSec, unit: 'records/s', limit: raw?.floor1, limitName: 'floor, 1 core', note: ours === undefined ? undefined : `medledger single validator: ${fmtN(ours)}/s (${(ours / hc.appendPerSec).toFixed(2)}x of Hypercore)` }))
    const oursSync = sync?.batch1000?.recordsPerSec
    rows.push(row({ section: s, name: 'replicate to a second core (verified)', value: hc.replicatePerSec, unit: 'records/s', limit: raw?.floor1, limitName: 'floor, 1 core', note: (oursSync === undefined ? '' : `medledger observer sync: ${fmtN(oursSync)}/s (${(oursSync / hc.replicatePerSec).toFixed(2)}x of Hypercore)`) + (hc.note === undefined ? '' : `; ${hc.note}`) }))
    rows.push(row({ section: s, name: 'bytes on disk per record (writer / replica)', value: hc.bytesPerRecord, unit: 'B/record', limit: raw?.encodedRecordBytes, limitName: 'B encoded record', note: `replica ${Math.round(hc.replicaBytesPerRecord)} B/record` }))
  }
}
if (results.latency !== undefined) rows.push(...wanLatencyRows(results.latency))
rows.push(...scaleRows(results.scale ?? []), ...membersRows(results.members ?? []))
if (results.scale !== undefined) results.scaleCurves = scaleCurves(results.scale)
const machineName = `${String(results.machine.cpus)} x ${String(results.machine.model)}, ${String(results.machine.memoryGiB)} GiB, node ${process.version}`
results.curvesMarkdown = curvesMarkdown(results.scale ?? [], results.members ?? [], machineName)
results.table = rows

/** The least CPU per record the protocol needs on `nodes` nodes: each encodes, hashes and writes it once; with batches of 1 the author signs and every other node verifies. */
function minCpuUs (r: RawLimits, nodes: number, batch: number): number {
  return nodes * 1e6 / r.floor1 + (batch === 1 ? 1e6 / r.sign + (nodes - 1) * 1e6 / r.verify1 : 0)
}

/** Heap and off-heap memory of the node that was largest at the end of a saturation phase. */
function memNote (c: ClusterResult): string {
  let best: { name: string, batch: number, m: Record<string, number> } | undefined
  for (const p of c.phases) {
    for (const [name, m] of Object.entries(p.memoryAtSaturation)) if (m !== undefined && (best === undefined || m.rss > best.m.rss)) best = { name, batch: p.batch, m }
  }
  if (best === undefined) return ''
  const M = (x: number): string => `${Math.round(x / 1024 / 1024)} MB`
  return `${best.name} at the end of batch-${best.batch} saturation: RSS ${M(best.m.rss)} = V8 heap ${M(best.m.heapTotal)} (${M(best.m.heapUsed)} used) + external ${M(best.m.external)} + rest; mempool ${fmtN(best.m.mempoolRecords)} records`
}

function fmtN (x: number | undefined): string {
  return x === undefined || Number.isNaN(x) ? 'n/a' : Math.round(x).toLocaleString('en-US')
}
function fmtBlocks (p: { saturation: { blocks: number, recordsPerBlock: number, blockIntervalMs: number, firstBlockMs: number, roundsAboveZero: number, maxRound: number } }): string {
  const s = p.saturation
  return `${s.blocks} blocks in the window, ${fmtN(s.recordsPerBlock)} records each, one per ${fmtN(s.blockIntervalMs)} ms; first block ${fmtN(s.firstBlockMs)} ms after load began; ${s.roundsAboveZero} blocks needed round > 0 (max ${s.maxRound})`
}

// ---------------------------------------------------------------- profiles
if (profileDir !== undefined) {
  results.profiles = {}
  for (const sub of (await readdir(profileDir).catch(() => [] as string[])).sort()) {
    const files = await profilesIn(join(profileDir, sub))
    const sums: ProfileSummary[] = []
    for (const f of files) sums.push(await summarize(f, INCLUSIVE))
    // The main thread is the busiest profile; worker threads (verify pool) follow.
    sums.sort((a, b) => b.busyMs - a.busyMs)
    results.profiles[sub] = sums
  }
}

const argsNote = nodeArgs.length > 0 ? `; daemons run with ${nodeArgs.join(' ')}` : ''
const gitNote = argsNote + (results.git === undefined ? '' : `; commit ${results.git.commit.slice(0, 10)}${results.git.dirtyFiles > 0 ? ` with ${results.git.dirtyFiles} uncommitted src files` : ''}`)
const header = `medledger bench, ${results.mode} run, ${new Date(started).toISOString()}${gitNote}: ${String(results.machine.cpus)} x ${String(results.machine.model)}, ${String(results.machine.memoryGiB)} GiB, node ${process.version}; load average at start ${results.loadavgStart.map(x => x.toFixed(2)).join(' ')}, at end ${results.loadavgEnd.map(x => x.toFixed(2)).join(' ')}; ${Math.round(results.durationS)} s`
results.header = header
process.stdout.write(`\n${header}\n\n${renderText(rows)}\n`)
if (results.errors.length > 0) process.stdout.write(`\nerrors:\n${results.errors.map(e => `  ${e}`).join('\n')}\n`)
for (const n of [...(single?.notes ?? []), ...(cluster?.notes ?? [])]) process.stdout.write(`note: ${n}\n`)
for (const p of results.scale ?? []) for (const e of p.errors) process.stdout.write(`note: scale N=${p.validators}: ${e}\n`)
for (const p of results.members ?? []) for (const e of p.errors) process.stdout.write(`note: members M=${p.members}: ${e}\n`)
if (results.profiles !== undefined) {
  process.stdout.write(`\nCPU profiles (${profileDir}):\n`)
  for (const [sub, sums] of Object.entries(results.profiles)) {
    if (sums.length === 0) continue
    const others = sums.slice(1).map(x => `${(x.busyMs / 1000).toFixed(1)} s`).join(', ')
    process.stdout.write(renderSummary(sums[0], `${sub} main thread`) + `\n  other threads (verify pool, loader): ${others} busy\n`)
  }
}
// --out is relative to the repository, or absolute.
const outFile = resolve(root, out)
await mkdir(dirname(outFile), { recursive: true })
await writeFile(outFile, JSON.stringify(results, null, 2) + '\n')
process.stdout.write(`\nwrote ${outFile}\n`)
if (docs) await updateDocs(header, rows, results.curvesMarkdown)
process.exit(results.errors.length > 0 ? 1 : 0)
