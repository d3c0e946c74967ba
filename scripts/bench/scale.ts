import type { Daemon } from '../../src/devnet/daemon.ts'
import { Cluster } from './cluster.ts'
import { saturate } from './load.ts'
import { mean, perHeightAll, sampleNodes, type NodeSample, type PerHeight } from './probe.ts'
import { submitBody } from './records.ts'
import { CpuWatch, log, percentile, request, sleep } from './util.ts'

/** Per-height costs summed up over the nodes of one window: means per node, validators apart from the observer. */
export interface WindowCosts {
  seconds: number
  /** CPU per second per node (ms of CPU per s of wall time: 1000 = one core busy), for windows with few heights. */
  cpuMsPerSecPerNode: number
  /** Heights the observer advanced in the window. */
  heights: number
  cpuMsPerNode: number
  cpuMsValidator: number
  cpuMsObserver: number
  messagesPerNode: number
  gossipBytesPerNode: number
  wireBytesPerNode: number
  /** Copies received per distinct gossip message, all nodes together. */
  duplicateRatio: number
  /** Of the compact proposals nodes made whole, the share that needed batches from a peer. */
  compactFetchShare: number
  byNode: Record<string, PerHeight>
}

export interface ScalePoint {
  validators: number
  date: string
  /**
   * From spawning every daemon to: each connected to every validator, each holding block 1 (one
   * record is submitted as soon as every API is up, so block 1 does not wait for the heartbeat);
   * and both. apiUpMs: the slowest node's API answering.
   */
  converge: { connectedMs: number, firstBlockMs: number, ms: number, apiUpMs: number }
  single: { submitted: number, final: number, p50: number, p99: number, max: number, ms: number[] }
  saturation: { batch: number, conns: number, finalPerSec: number, accepted: number, busy: number, failed: number, foreignCores: number }
  idle: WindowCosts
  load: WindowCosts
  rss: { idleMaxBytes: number, loadMaxBytes: number, byNode: Record<string, number> }
  errors: string[]
}

export interface ScaleSpec {
  /** Single records sent one by one with wait=final. */
  singles: number
  /** Bound on the single-record part (a slow network sends fewer). */
  singlesMaxMs: number
  idleMs: number
  batch: number
  conns: number
  warmupMs: number
  measureMs: number
}

// Idle heights are heartbeat blocks (genesis default: one per 10 s): the idle window holds two.
export const SCALE_SPEC: ScaleSpec = { singles: 30, singlesMaxMs: 120_000, idleMs: 20_500, batch: 100, conns: 8, warmupMs: 4_000, measureMs: 12_000 }

/** The names of the nodes of a scale network: v1..vN and the observer obs1. */
function validatorNames (n: number): string[] { return Array.from({ length: n }, (_, i) => `v${i + 1}`) }

/**
 * Polls every node's /v1/status until each is connected to every validator (but itself) and holds
 * block 1; returns the times (since t0) at which each condition first held for all.
 */
export async function waitConverged (daemons: Daemon[], validatorIds: string[], t0: number, timeoutMs: number): Promise<{ connectedMs: number, firstBlockMs: number, ms: number }> {
  let connectedMs = NaN
  let firstBlockMs = NaN
  let state = ''
  let lastLog = performance.now()
  while (performance.now() - t0 < timeoutMs) {
    const st = await Promise.all(daemons.map(async d => {
      const r = await request(`${d.api}/v1/status`, { timeoutMs: 5000 }).catch(() => undefined)
      return r?.status === 200 ? JSON.parse(r.body) as { height: number, peerId: string, connectedPeers: Array<{ peerId: string }> } : undefined
    }))
    const now = performance.now() - t0
    const connected = st.every(s => s !== undefined && validatorIds.every(v => v === s.peerId || s.connectedPeers.some(p => p.peerId === v)))
    const block = st.every(s => s !== undefined && s.height >= 1)
    if (connected && Number.isNaN(connectedMs)) connectedMs = now
    if (block && Number.isNaN(firstBlockMs)) firstBlockMs = now
    if (connected && block) return { connectedMs, firstBlockMs, ms: Math.max(connectedMs, firstBlockMs) }
    const silent = daemons.filter((_, i) => st[i] === undefined).map(d => d.node.name)
    const missing = st.flatMap((s, i) => s === undefined ? [] : [`${daemons[i].node.name} ${validatorIds.filter(v => v !== s.peerId && !s.connectedPeers.some(p => p.peerId === v)).length}`]).filter(x => !x.endsWith(' 0'))
    const atZero = daemons.filter((_, i) => st[i] !== undefined && st[i].height < 1).map(d => d.node.name)
    state = `no status answer: ${silent.join(' ') || 'none'}; validators not connected (node count): ${missing.join(', ') || 'none'}; height 0: ${atZero.join(' ') || 'none'}`
    if (performance.now() - lastLog > 15_000) { lastLog = performance.now(); log(`converging (${Math.round(now / 1000)} s): ${state}`) }
    await sleep(100)
  }
  throw new Error(`not converged within ${timeoutMs} ms (connected: ${Math.round(connectedMs)} ms, first block: ${Math.round(firstBlockMs)} ms); ${state}`)
}

/** The per-height costs between two rounds of samples. */
export function windowCosts (a: Map<string, NodeSample>, b: Map<string, NodeSample>, observer: string): WindowCosts {
  const byNode = perHeightAll(a, b)
  const vals = Object.entries(byNode).filter(([k]) => k !== observer).map(([, v]) => v)
  const all = Object.values(byNode)
  let copies = 0
  let distinct = 0
  let assembled = 0
  let fetched = 0
  for (const [k, s1] of b) {
    const s0 = a.get(k)
    if (s0 === undefined) continue
    copies += s1.gossip.copies - s0.gossip.copies
    distinct += s1.gossip.distinct - s0.gossip.distinct
    assembled += s1.gossip.compactAssembled - s0.gossip.compactAssembled
    fetched += s1.gossip.compactFetched - s0.gossip.compactFetched
  }
  const o0 = a.get(observer)
  const o1 = b.get(observer)
  const seconds = o0 === undefined || o1 === undefined ? NaN : (o1.at - o0.at) / 1000
  const cpuS: number[] = []
  for (const [k, s1] of b) { const s0 = a.get(k); if (s0 !== undefined) cpuS.push(s1.cpuS - s0.cpuS) }
  return {
    seconds,
    cpuMsPerSecPerNode: mean(cpuS) * 1000 / seconds,
    heights: byNode[observer]?.heights ?? NaN,
    cpuMsPerNode: mean(all.map(x => x.cpuMs)),
    cpuMsValidator: mean(vals.map(x => x.cpuMs)),
    cpuMsObserver: byNode[observer]?.cpuMs ?? NaN,
    messagesPerNode: mean(all.map(x => x.messages)),
    gossipBytesPerNode: mean(all.map(x => x.gossipBytes)),
    wireBytesPerNode: mean(all.map(x => x.wireBytes)),
    duplicateRatio: distinct > 0 ? copies / distinct : NaN,
    compactFetchShare: assembled > 0 ? fetched / assembled : NaN,
    byNode
  }
}

/** Single records one at a time with wait=final, round robin over `targets`: the answer time of each. */
export async function singleRecords (targets: Daemon[], count: number, maxMs: number): Promise<{ submitted: number, ms: number[] }> {
  const ms: number[] = []
  const t0 = performance.now()
  let submitted = 0
  for (let i = 0; i < count && performance.now() - t0 < maxMs; i++) {
    const d = targets[i % targets.length]
    submitted++
    const at = performance.now()
    const r = await request(`${d.api}/v1/records?wait=final`, { method: 'POST', headers: { authorization: `Bearer ${d.node.token}`, 'content-type': 'application/json' }, body: submitBody(1), timeoutMs: 60_000 }).catch(() => undefined)
    if (r?.status === 200) ms.push(performance.now() - at)
  }
  return { submitted, ms }
}

/**
 * One network of `n` validators and one observer built as an operator would (keys, genesis, init
 * through src/devnet; config defaults), started together: time to converge, per-height costs
 * idle, single-record finality at low load, then the final rate at saturation and the costs under it.
 */
export async function measureScalePoint (n: number, spec: ScaleSpec = SCALE_SPEC): Promise<ScalePoint> {
  const cluster = await Cluster.create({ validators: validatorNames(n), observers: ['obs1'] })
  const errors: string[] = []
  try {
    const observer = cluster.observers[0]
    const validatorIds = cluster.validators.map(d => d.node.peerId)
    const t0 = performance.now()
    await cluster.start(cluster.daemons, 180_000)
    const apiUpMs = Math.max(...cluster.apiUpMs.values())
    const v1 = cluster.validators[0]
    void request(`${v1.api}/v1/records`, { method: 'POST', headers: { authorization: `Bearer ${v1.node.token}`, 'content-type': 'application/json' }, body: submitBody(1), timeoutMs: 60_000 }).catch(() => {})
    const converge = { ...await waitConverged(cluster.daemons, validatorIds, t0, 180_000), apiUpMs }
    log(`scale N=${n}: converged in ${Math.round(converge.ms)} ms (connected ${Math.round(converge.connectedMs)}, first block ${Math.round(converge.firstBlockMs)})`)
    await sleep(1000)
    const idle0 = await sampleNodes(cluster.daemons)
    await sleep(spec.idleMs)
    const idle1 = await sampleNodes(cluster.daemons)
    const idle = windowCosts(idle0, idle1, observer.node.name)
    const idleRss = Math.max(...cluster.daemons.map(d => cluster.rssLast.get(d.node.name) ?? 0))
    log(`scale N=${n}: idle ${idle.heights} heights in ${idle.seconds.toFixed(1)} s, ${idle.cpuMsPerNode.toFixed(1)} ms CPU per height per node (${idle.cpuMsPerSecPerNode.toFixed(0)} ms/s), ${idle.messagesPerNode.toFixed(0)} messages per height per node`)

    const s = await singleRecords(cluster.validators, spec.singles, spec.singlesMaxMs)
    if (s.ms.length < s.submitted) errors.push(`${s.submitted - s.ms.length} of ${s.submitted} single records not final`)
    const single = { submitted: s.submitted, final: s.ms.length, p50: percentile(s.ms, 50), p99: percentile(s.ms, 99), max: Math.max(...s.ms), ms: s.ms.map(Math.round) }
    log(`scale N=${n}: single records p50 ${Math.round(single.p50)} ms, p99 ${Math.round(single.p99)} ms (${single.final} of ${single.submitted})`)

    const feed = await cluster.feed(observer)
    cluster.resetRss()
    const watch = new CpuWatch(() => cluster.daemons.map(d => d.proc?.pid))
    let load0: Map<string, NodeSample> | undefined
    const sampler = sleep(spec.warmupMs).then(async () => { load0 = await sampleNodes(cluster.daemons); await watch.start() })
    const sat = await saturate({ targets: cluster.validators, feed, batch: spec.batch, perRequest: 1, conns: spec.conns, window: 40 * spec.batch, warmupMs: spec.warmupMs, measureMs: spec.measureMs })
    await sampler
    const load1 = await sampleNodes(cluster.daemons)
    const cpu = await watch.stop()
    await cluster.sample()
    const load = windowCosts(load0 as Map<string, NodeSample>, load1, observer.node.name)
    const rssByNode = Object.fromEntries(cluster.rssMax)
    log(`scale N=${n}: saturation ${Math.round(sat.finalPerSec)} final records/s; ${load.cpuMsPerNode.toFixed(1)} ms CPU per height per node, ${load.messagesPerNode.toFixed(0)} messages per height per node, duplicates x${load.duplicateRatio.toFixed(2)}, compact proposals needing a fetch ${(load.compactFetchShare * 100).toFixed(0)}%`)
    return {
      validators: n,
      date: new Date().toISOString(),
      converge,
      single,
      saturation: { batch: spec.batch, conns: spec.conns, finalPerSec: sat.finalPerSec, accepted: sat.accepted, busy: sat.busy, failed: sat.failed, foreignCores: cpu.foreignCores },
      idle,
      load,
      rss: { idleMaxBytes: idleRss, loadMaxBytes: Math.max(...Object.values(rssByNode)), byNode: rssByNode },
      errors
    }
  } finally {
    await cluster.remove()
  }
}

/** The scale phase: one network per N, one after the other (each removed before the next starts). */
export async function measureScale (ns: number[], spec: ScaleSpec = SCALE_SPEC): Promise<ScalePoint[]> {
  const out: ScalePoint[] = []
  for (const n of ns) out.push(await measureScalePoint(n, spec))
  return out
}
