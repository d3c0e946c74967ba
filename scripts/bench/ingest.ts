import { join } from 'node:path'
import { Cluster, type BlockFeed } from './cluster.ts'
import { offer, saturate, type LoadResult } from './load.ts'
import { batchHeights, latencies, type Latency } from './latency.ts'
import { CpuWatch, log, maxOf, sleep } from './util.ts'

export interface PhaseSpec {
  batch: number
  /** Batches per request: 1 posts POST /v1/records, more post them together to POST /v1/batches. */
  perRequest?: number
  conns: number
  window: number
  warmupMs: number
  measureMs: number
  /** Offered loads as fractions of the measured saturation. */
  loads: number[]
  loadMs: number
}

export interface LoadPoint {
  fraction: number
  offeredPerSec: number
  submittedPerSec: number
  finalPerSec: number
  busy: number
  failed: number
  latency: Latency
  cpu: { busyCores: number, ownCores: number, foreignCores: number }
}

export interface PhaseResult {
  batch: number
  perRequest: number
  /**
   * CPU of all daemons (main thread and workers) from the start of saturation until its backlog
   * was final, per record made final in that time: µs summed over the nodes, and per node.
   */
  cpuPerRecordUs: { total: number, byNode: Record<string, number>, records: number, seconds: number }
  saturation: { finalPerSec: number, submittedPerSec: number, accepted: number, busy: number, failed: number, blocks: number, recordsPerBlock: number, firstBlockMs: number, roundsAboveZero: number, maxRound: number, blockIntervalMs: number, clientCpuSeconds: number, latency: Latency, cpu: { busyCores: number, ownCores: number, foreignCores: number } }
  loads: LoadPoint[]
  /** Heap, off-heap and mempool of each node at the end of saturation (from /metrics). */
  memoryAtSaturation: Record<string, Record<string, number> | undefined>
  rssMaxBytes: Record<string, number>
  /** Blocks on the counting node from the start of saturation until its backlog was final: [ms since start, height, round, records]. */
  timeline: Array<[number, number, number, number]>
}

export interface ClusterResult {
  validators: number
  observers: number
  readyMs: Record<string, number>
  apiUpMs: Record<string, number>
  phases: PhaseResult[]
  finalRecords: number
  height: number
  diskBytes: Record<string, number>
  diskBytesPerRecord: Record<string, number>
  rssMaxBytes: Record<string, number>
  rssReadyBytes: Record<string, number>
  notes: string[]
}

/**
 * A devnet of real daemons on loopback: start to ready, then for each phase the saturation rate
 * (closed loop, bounded backlog) and latency at offered loads, resident memory, and bytes on disk.
 * Final records are counted on the observer (or the only validator).
 */
export async function measureCluster (o: { validators: number, observers: number, phases: PhaseSpec[], profileDir?: string, label: string }): Promise<ClusterResult> {
  const names = Array.from({ length: o.validators }, (_, i) => `v${i + 1}`)
  const cluster = await Cluster.create({ validators: names, observers: Array.from({ length: o.observers }, (_, i) => `obs${i + 1}`) })
  const notes: string[] = []
  try {
    if (o.profileDir !== undefined) for (const d of cluster.daemons) d.nodeArgs = ['--cpu-prof', `--cpu-prof-dir=${join(o.profileDir, `${o.label}-${d.node.name}`)}`]
    await cluster.start()
    log(`${o.label}: ${cluster.daemons.length} daemons ready in ${Math.round(Math.max(...cluster.readyMs.values()))} ms`)
    const feeds = new Map<string, BlockFeed>()
    for (const d of cluster.daemons) feeds.set(d.node.name, await cluster.feed(d))
    const counter = feeds.get((cluster.observers[0] ?? cluster.validators[0]).node.name) as BlockFeed
    const watch = new CpuWatch(() => cluster.daemons.map(d => d.proc?.pid))
    const raw: Array<{ spec: PhaseSpec, memory: Record<string, Record<string, number> | undefined>, drainedAt: number, cpuPerRecordUs: PhaseResult['cpuPerRecordUs'], sat: LoadResult, satCpu: Awaited<ReturnType<CpuWatch['stop']>>, satFrom: number, satTo: number, loads: Array<{ fraction: number, offered: number, r: LoadResult, cpu: Awaited<ReturnType<CpuWatch['stop']>>, finalPerSec: number }>, rss: Record<string, number> }> = []
    for (const spec of o.phases) {
      if (!(await cluster.drain(60_000))) notes.push(`${o.label}: backlog not drained before the batch-${spec.batch} phase`)
      cluster.resetRss()
      const perRequest = spec.perRequest ?? 1
      log(`${o.label}: saturating with batches of ${spec.batch}${perRequest > 1 ? `, ${perRequest} per request (POST /v1/batches)` : ''} (${spec.conns} clients, backlog ${spec.window} records, ${(spec.warmupMs + spec.measureMs) / 1000} s)`)
      const cpu0 = await cluster.cpuByNode()
      const final0 = counter.total
      const phaseT0 = performance.now()
      await watch.start()
      const satFrom = performance.now() + spec.warmupMs
      const sat = await saturate({ targets: cluster.validators, feed: counter, batch: spec.batch, perRequest, conns: spec.conns, window: spec.window, warmupMs: spec.warmupMs, measureMs: spec.measureMs })
      const satTo = performance.now()
      const satCpu = await watch.stop()
      const memory: Record<string, Record<string, number> | undefined> = {}
      for (const d of cluster.daemons) memory[d.node.name] = await cluster.memory(d)
      log(`${o.label}: batch ${spec.batch}: ${Math.round(sat.finalPerSec)} final records/s (${Math.round(sat.submittedPerSec)}/s accepted, ${sat.busy} busy, ${sat.failed} failed); waiting for the backlog`)
      if (!(await cluster.drain(90_000))) notes.push(`${o.label}: the batch-${spec.batch} backlog was not final within 90 s`)
      const drainedAt = performance.now()
      const cpu1 = await cluster.cpuByNode()
      const records = counter.total - final0
      const byNode = Object.fromEntries(Object.entries(cpu1).map(([k, v]) => [k, (v - (cpu0[k] ?? 0)) * 1e6 / Math.max(1, records)]))
      const cpuPerRecordUs = { total: Object.values(byNode).reduce((a, b) => a + b, 0), byNode, records, seconds: (performance.now() - phaseT0) / 1000 }
      log(`${o.label}: batch ${spec.batch}: ${records} records final; ${Math.round(cpuPerRecordUs.total)} µs of daemon CPU per record (all nodes)`)
      const loads = []
      for (const fraction of spec.loads) {
        if (!(await cluster.drain(60_000))) notes.push(`${o.label}: backlog not drained before the ${fraction * 100}% load`)
        const offered = Math.max(spec.batch * perRequest / (spec.loadMs / 1000) * 2, sat.finalPerSec * fraction)
        if (sat.finalPerSec <= 0) { notes.push(`${o.label}: no saturation rate for batch ${spec.batch}; offered loads skipped`); break }
        log(`${o.label}: offering ${Math.round(offered)} records/s (${fraction * 100}% of saturation) in batches of ${spec.batch} for ${spec.loadMs / 1000} s`)
        await watch.start()
        const from = performance.now()
        const r = await offer({ targets: cluster.validators, feed: counter, batch: spec.batch, perRequest, recordsPerSec: offered, durationMs: spec.loadMs })
        const cpu = await watch.stop()
        const to = performance.now()
        loads.push({ fraction, offered, r, cpu, finalPerSec: counter.recordsBetween(from, to) * 1000 / (to - from) })
      }
      await cluster.sample()
      raw.push({ spec, memory, drainedAt, cpuPerRecordUs, sat, satCpu, satFrom, satTo, loads, rss: Object.fromEntries(cluster.rssMax) })
    }
    if (!(await cluster.drain(60_000))) notes.push(`${o.label}: backlog not drained at the end`)
    await sleep(500)
    const rssAll = Object.fromEntries(cluster.daemons.map(d => [d.node.name, Math.max(...raw.map(p => p.rss[d.node.name] ?? 0))]))
    await cluster.stop()
    const countNode = cluster.observers[0] ?? cluster.validators[0]
    const heights = await batchHeights(join(countNode.node.home, 'data'))
    const height = maxOf(heights.values(), 0)
    const finalRecords = counter.total
    const diskBytes: Record<string, number> = {}
    const diskBytesPerRecord: Record<string, number> = {}
    for (const d of cluster.daemons) {
      diskBytes[d.node.name] = (await cluster.dataBytes(d)).apparent
      diskBytesPerRecord[d.node.name] = diskBytes[d.node.name] / Math.max(1, finalRecords)
    }
    const phases: PhaseResult[] = raw.map(p => {
      const blocks = counter.events.filter(e => e.at >= p.satFrom && e.at <= p.satTo)
      const span = blocks.length > 1 ? (blocks[blocks.length - 1].at - blocks[0].at) / (blocks.length - 1) : NaN
      return {
        batch: p.spec.batch,
        perRequest: p.spec.perRequest ?? 1,
        cpuPerRecordUs: p.cpuPerRecordUs,
        saturation: {
          finalPerSec: p.sat.finalPerSec,
          submittedPerSec: p.sat.submittedPerSec,
          accepted: p.sat.accepted,
          busy: p.sat.busy,
          failed: p.sat.failed,
          blocks: blocks.length,
          firstBlockMs: (counter.events.find(e => e.at >= p.satFrom - p.spec.warmupMs)?.at ?? NaN) - (p.satFrom - p.spec.warmupMs),
          roundsAboveZero: counter.events.filter(e => e.at >= p.satFrom - p.spec.warmupMs && e.at <= p.drainedAt && e.round > 0).length,
          maxRound: maxOf(counter.events.filter(e => e.at >= p.satFrom - p.spec.warmupMs && e.at <= p.drainedAt).map(e => e.round), 0),
          recordsPerBlock: blocks.length === 0 ? NaN : blocks.reduce((n, e) => n + e.records, 0) / blocks.length,
          blockIntervalMs: span,
          clientCpuSeconds: p.sat.clientCpuSeconds,
          latency: latencies(p.sat.sent, heights, feeds),
          cpu: p.satCpu
        },
        loads: p.loads.map(l => ({ fraction: l.fraction, offeredPerSec: l.offered, submittedPerSec: l.r.submittedPerSec, finalPerSec: l.finalPerSec, busy: l.r.busy, failed: l.r.failed, latency: latencies(l.r.sent, heights, feeds), cpu: l.cpu })),
        rssMaxBytes: p.rss,
        memoryAtSaturation: p.memory,
        timeline: counter.events.filter(e => e.at >= p.satFrom - p.spec.warmupMs && e.at <= p.drainedAt).map(e => [Math.round(e.at - (p.satFrom - p.spec.warmupMs)), e.height, e.round, e.records])
      }
    })
    return {
      validators: o.validators,
      observers: o.observers,
      readyMs: Object.fromEntries(cluster.readyMs),
      apiUpMs: Object.fromEntries(cluster.apiUpMs),
      phases,
      finalRecords,
      height,
      diskBytes,
      diskBytesPerRecord,
      rssMaxBytes: rssAll,
      rssReadyBytes: Object.fromEntries(cluster.rssReady),
      notes
    }
  } finally {
    await cluster.remove()
  }
}
