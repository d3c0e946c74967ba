import { setConfigKey } from '../../src/testkit/config-file.ts'
import type { Daemon } from '../../src/devnet/daemon.ts'
import { Cluster, type BlockFeed } from './cluster.ts'
import { offer } from './load.ts'
import { mean, perHeightAll, sampleNodes } from './probe.ts'
import { waitConverged, singleRecords } from './scale.ts'
import { submitBody } from './records.ts'
import { log, percentile, request, sleep } from './util.ts'

type Role = 'validator' | 'member' | 'observer'
interface ByRole<T> { validator: T, member: T, observer: T }

export interface MembersPoint {
  members: number
  daemons: number
  /** p2p.max_peers of members and observers (validators keep 0: they serve everyone). */
  maxPeers: number
  date: string
  converge: { connectedMs: number, firstBlockMs: number, ms: number, apiUpMs: number }
  overall: { submitted: number, final: number, p50: number, p99: number, max: number }
  perMember: { worstP50: number, worstP99: number, bestP50: number, byMember: Record<string, { n: number, p50: number, p99: number }> }
  /** For each height every node announced in the window: last arrival minus first (ms). */
  spread: { heights: number, p50: number, p99: number, max: number }
  connections: ByRole<{ min: number, max: number, mean: number }>
  bytesPerBlock: ByRole<number>
  messagesPerBlock: ByRole<number>
  cpuMsPerBlock: ByRole<number>
  duplicateRatio: number
  blocksPerSec: number
  steady: { recordsPerSec: number, accepted: number, busy: number, failed: number }
  rss: ByRole<number> & { total: number }
  errors: string[]
}

export interface MembersSpec {
  /** Records each member submits one by one with wait=final (all members at once). */
  recordsPerMember: number
  /** The steady background load: single records spread over the members, no waiting. */
  steadyPerSec: number
  maxPeers: number
  startTimeoutMs: number
  /** Members started together (each wave once its APIs answer). */
  wave: number
}

export const MEMBERS_SPEC: MembersSpec = { recordsPerMember: 5, steadyPerSec: 20, maxPeers: 8, startTimeoutMs: 180_000, wave: 8 }

const roleOf = (d: Daemon): Role => d.node.role === 'validator' ? 'validator' : d.node.role === 'member' ? 'member' : 'observer'

/** The spread of each height's arrival over the feeds: last node minus first, for heights every feed saw after `from`. */
export function arrivalSpread (feeds: BlockFeed[], from: number, to: number): { heights: number, p50: number, p99: number, max: number } {
  const spreads: number[] = []
  const first = feeds[0]
  for (const [h, at] of first.heightAt) {
    if (at < from || at > to) continue
    const ats = feeds.map(f => f.heightAt.get(h))
    if (ats.some(a => a === undefined)) continue
    const xs = ats as number[]
    spreads.push(Math.max(...xs) - Math.min(...xs))
  }
  return { heights: spreads.length, p50: percentile(spreads, 50), p99: percentile(spreads, 99), max: spreads.length === 0 ? NaN : Math.max(...spreads) }
}

/**
 * 4 validators, `m` members and 2 observers as real daemons (members and observers with
 * p2p.max_peers bounded, as an operator of a large network sets it): time to converge, then every
 * member submits records with wait=final while a steady low load runs; submit-to-final per member
 * and overall, the time a final block takes to reach the last node, connections, bytes, CPU and
 * memory per node by role.
 */
export async function measureMembersPoint (m: number, spec: MembersSpec = MEMBERS_SPEC): Promise<MembersPoint> {
  const members = Array.from({ length: m }, (_, i) => `m${i + 1}`)
  const cluster = await Cluster.create({ validators: ['v1', 'v2', 'v3', 'v4'], observers: ['obs1', 'obs2'], members })
  const errors: string[] = []
  try {
    for (const d of cluster.daemons) {
      if (d.node.role !== 'validator') await setConfigKey(d.node.home, 'max_peers', String(spec.maxPeers))
      // Every daemon here shares 127.0.0.1, which the per-IP handshake limits (4 at once, 5 a
      // second) are meant to bound for one remote host: 40 members standing for 40 hosts would be
      // refused as one. Per IP, as much as the node-wide bounds allow.
      await setConfigKey(d.node.home, 'max_pending_inbound_per_ip', '8')
      await setConfigKey(d.node.home, 'inbound_connections_per_ip_per_s', '200')
    }
    const validatorIds = cluster.validators.map(d => d.node.peerId)
    const memberDaemons = cluster.daemons.filter(d => d.node.role === 'member')
    const t0 = performance.now()
    // Validators and observers first, then the members in waves: tens of daemons loading at once
    // on a few cores starve each other past their handshake deadlines.
    await cluster.start(cluster.daemons.filter(d => d.node.role !== 'member'), spec.startTimeoutMs)
    for (let i = 0; i < memberDaemons.length; i += spec.wave) {
      await cluster.start(memberDaemons.slice(i, i + spec.wave), spec.startTimeoutMs)
      log(`members M=${m}: ${Math.min(i + spec.wave, m)} members ready after ${Math.round((performance.now() - t0) / 1000)} s`)
    }
    // The last wave's readiness, from the first spawn (cluster.apiUpMs counts from each wave's own start).
    const apiUpMs = performance.now() - t0
    const m1 = memberDaemons[0]
    void request(`${m1.api}/v1/records`, { method: 'POST', headers: { authorization: `Bearer ${m1.node.token}`, 'content-type': 'application/json' }, body: submitBody(1), timeoutMs: 60_000 }).catch(() => {})
    const converge = { ...await waitConverged(cluster.daemons, validatorIds, t0, apiUpMs + 120_000), apiUpMs }
    log(`members M=${m}: ${cluster.daemons.length} daemons converged in ${Math.round(converge.ms)} ms`)
    const feeds: BlockFeed[] = []
    for (const d of cluster.daemons) feeds.push(await cluster.feed(d))
    cluster.resetRss()
    await sleep(1000)
    const s0 = await sampleNodes(cluster.daemons)
    const from = performance.now()
    const observerFeed = feeds[cluster.daemons.indexOf(cluster.observers[0])]
    const steadyMs = Math.max(15_000, spec.recordsPerMember * 3_000)
    const steadyRun = offer({ targets: memberDaemons, feed: observerFeed, batch: 1, perRequest: 1, recordsPerSec: spec.steadyPerSec, durationMs: steadyMs })
    const byMember: MembersPoint['perMember']['byMember'] = {}
    let submitted = 0
    const all: number[] = []
    await Promise.all(memberDaemons.map(async (d, i) => {
      await sleep((i * 997) % 2000)
      const r = await singleRecords([d], spec.recordsPerMember, 120_000)
      submitted += r.submitted
      all.push(...r.ms)
      byMember[d.node.name] = { n: r.ms.length, p50: percentile(r.ms, 50), p99: percentile(r.ms, 99) }
    }))
    const steady = await steadyRun
    const s1 = await sampleNodes(cluster.daemons)
    const to = performance.now()
    await cluster.sample()
    if (all.length < submitted) errors.push(`${submitted - all.length} of ${submitted} member records not final`)
    const costs = perHeightAll(s0, s1)
    const byRole = <T>(f: (d: Daemon) => T): ByRole<T[]> => {
      const out: ByRole<T[]> = { validator: [], member: [], observer: [] }
      for (const d of cluster.daemons) out[roleOf(d)].push(f(d))
      return out
    }
    const conns = byRole(d => s1.get(d.node.name)?.connections ?? NaN)
    const stat = (xs: number[]): { min: number, max: number, mean: number } => ({ min: Math.min(...xs), max: Math.max(...xs), mean: mean(xs) })
    const roleMean = (f: (name: string) => number): ByRole<number> => {
      const r = byRole(d => f(d.node.name))
      return { validator: mean(r.validator), member: mean(r.member), observer: mean(r.observer) }
    }
    const rssRole = byRole(d => cluster.rssMax.get(d.node.name) ?? NaN)
    let copies = 0
    let distinct = 0
    for (const [k, b] of s1) { const a = s0.get(k); if (a !== undefined) { copies += b.gossip.copies - a.gossip.copies; distinct += b.gossip.distinct - a.gossip.distinct } }
    const obsHeights = costs[cluster.observers[0].node.name]?.heights ?? NaN
    const perMemberP50 = Object.values(byMember).map(x => x.p50).filter(Number.isFinite)
    const point: MembersPoint = {
      members: m,
      daemons: cluster.daemons.length,
      maxPeers: spec.maxPeers,
      date: new Date().toISOString(),
      converge,
      overall: { submitted, final: all.length, p50: percentile(all, 50), p99: percentile(all, 99), max: all.length === 0 ? NaN : Math.max(...all) },
      perMember: { worstP50: Math.max(...perMemberP50), worstP99: Math.max(...Object.values(byMember).map(x => x.p99).filter(Number.isFinite)), bestP50: Math.min(...perMemberP50), byMember },
      spread: arrivalSpread(feeds, from, to),
      connections: { validator: stat(conns.validator), member: stat(conns.member), observer: stat(conns.observer) },
      bytesPerBlock: roleMean(n => costs[n]?.wireBytes ?? NaN),
      messagesPerBlock: roleMean(n => costs[n]?.messages ?? NaN),
      cpuMsPerBlock: roleMean(n => costs[n]?.cpuMs ?? NaN),
      duplicateRatio: distinct > 0 ? copies / distinct : NaN,
      blocksPerSec: obsHeights * 1000 / (to - from),
      steady: { recordsPerSec: spec.steadyPerSec, accepted: steady.accepted, busy: steady.busy, failed: steady.failed },
      rss: { validator: Math.max(...rssRole.validator), member: Math.max(...rssRole.member), observer: Math.max(...rssRole.observer), total: [...cluster.rssMax.values()].reduce((a, b) => a + b, 0) },
      errors
    }
    log(`members M=${m}: submit-to-final p50 ${Math.round(point.overall.p50)} ms, p99 ${Math.round(point.overall.p99)} ms (${point.overall.final} of ${submitted}); block to last node p50 ${Math.round(point.spread.p50)} ms; connections v ${point.connections.validator.max}, m ${point.connections.member.max}, o ${point.connections.observer.max}`)
    return point
  } finally {
    await cluster.remove()
  }
}

export async function measureMembers (ms: number[], spec: MembersSpec = MEMBERS_SPEC): Promise<MembersPoint[]> {
  const out: MembersPoint[] = []
  for (const m of ms) out.push(await measureMembersPoint(m, spec))
  return out
}
