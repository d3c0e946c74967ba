import type { Daemon } from '../../src/devnet/daemon.ts'
import { cpuSecondsOf, request } from './util.ts'
import { p2pBytesReceived, tcpSockets } from './wire.ts'

/** Gossip received by a node, summed over topics, from its /metrics (medledger_gossip_received_*). */
export interface GossipCounts {
  copies: number
  distinct: number
  copyBytes: number
  distinctBytes: number
  consensusCopies: number
  batchCopies: number
  /** Compact proposals made whole (medledger_compact_proposals_total). */
  compactAssembled: number
  /** Of them, those that needed batches from a peer. */
  compactFetched: number
  /** Batches fetched for them (medledger_proposal_batches_fetched_total). */
  batchesFetched: number
}

/** What one node had used and received up to one moment. */
export interface NodeSample { at: number, height: number, cpuS: number, wireBytesIn: number, connections: number, gossip: GossipCounts }

/** The same figures between two samples, per height the node advanced. */
export interface PerHeight { heights: number, cpuMs: number, messages: number, distinct: number, gossipBytes: number, wireBytes: number, duplicateRatio: number }

/** Sums medledger_gossip_received_{messages,bytes}_total by kind over topics (and copies by topic). */
export function parseGossipMetrics (text: string): GossipCounts {
  const c: GossipCounts = { copies: 0, distinct: 0, copyBytes: 0, distinctBytes: 0, consensusCopies: 0, batchCopies: 0, compactAssembled: 0, compactFetched: 0, batchesFetched: 0 }
  const counter = (re: RegExp): number => Number(re.exec(text)?.[1] ?? 0)
  c.compactAssembled = counter(/^medledger_compact_proposals_total\{outcome="assembled"\} ([0-9.e+]+)$/m)
  c.compactFetched = counter(/^medledger_compact_proposals_total\{outcome="fetched"\} ([0-9.e+]+)$/m)
  c.batchesFetched = counter(/^medledger_proposal_batches_fetched_total ([0-9.e+]+)$/m)
  const re = /^medledger_gossip_received_(messages|bytes)_total\{([^}]*)\} ([0-9.e+]+)$/gm
  for (const m of text.matchAll(re)) {
    const labels = Object.fromEntries([...m[2].matchAll(/(\w+)="([^"]*)"/g)].map(l => [l[1], l[2]]))
    const v = Number(m[3])
    const copies = labels.kind === 'copies'
    if (m[1] === 'messages') {
      if (copies) { c.copies += v; if (labels.topic === 'consensus') c.consensusCopies += v; if (labels.topic === 'batches') c.batchCopies += v } else c.distinct += v
    } else if (copies) c.copyBytes += v
    else c.distinctBytes += v
  }
  return c
}

/** A sample of every given daemon at about the same moment (one `ss` for all; /metrics and /v1/status of each). */
export async function sampleNodes (daemons: Daemon[]): Promise<Map<string, NodeSample>> {
  const ports = new Set(daemons.map(d => d.node.p2pPort))
  const sockets = await tcpSockets().catch(() => [])
  const out = new Map<string, NodeSample>()
  await Promise.all(daemons.map(async d => {
    const pid = d.proc?.pid
    const [cpuS, metrics, status] = await Promise.all([
      cpuSecondsOf(pid),
      request(`${d.api}/metrics`, { timeoutMs: 15_000 }).catch(() => undefined),
      request(`${d.api}/v1/status`, { timeoutMs: 15_000 }).catch(() => undefined)
    ])
    const wire = p2pBytesReceived(sockets, pid, d.node.p2pPort, ports)
    const st = status?.status === 200 ? JSON.parse(status.body) as { height: number, connectedPeers?: unknown[] } : undefined
    out.set(d.node.name, {
      at: performance.now(),
      height: st?.height ?? NaN,
      cpuS: cpuS ?? NaN,
      wireBytesIn: wire.bytes,
      connections: st?.connectedPeers?.length ?? wire.connections,
      gossip: metrics?.status === 200 ? parseGossipMetrics(metrics.body) : { copies: NaN, distinct: NaN, copyBytes: NaN, distinctBytes: NaN, consensusCopies: NaN, batchCopies: NaN, compactAssembled: NaN, compactFetched: NaN, batchesFetched: NaN }
    })
  }))
  return out
}

/** The costs between two samples of one node, per height it advanced (NaN when it advanced none). */
export function perHeight (a: NodeSample, b: NodeSample): PerHeight {
  const heights = b.height - a.height
  const per = (x: number): number => heights > 0 ? x / heights : NaN
  const copies = b.gossip.copies - a.gossip.copies
  const distinct = b.gossip.distinct - a.gossip.distinct
  return {
    heights,
    cpuMs: per((b.cpuS - a.cpuS) * 1000),
    messages: per(copies),
    distinct: per(distinct),
    gossipBytes: per(b.gossip.copyBytes - a.gossip.copyBytes),
    wireBytes: per(b.wireBytesIn - a.wireBytesIn),
    duplicateRatio: distinct > 0 ? copies / distinct : NaN
  }
}

/** Mean of the finite values (NaN when none). */
export function mean (xs: number[]): number {
  const f = xs.filter(Number.isFinite)
  return f.length === 0 ? NaN : f.reduce((s, x) => s + x, 0) / f.length
}

/** Per-height costs of every node between two rounds of samples, keyed by node name. */
export function perHeightAll (a: Map<string, NodeSample>, b: Map<string, NodeSample>): Record<string, PerHeight> {
  const out: Record<string, PerHeight> = {}
  for (const [name, s1] of b) { const s0 = a.get(name); if (s0 !== undefined) out[name] = perHeight(s0, s1) }
  return out
}
