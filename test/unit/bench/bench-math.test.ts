import test from 'ava'
import { fitPowerLaw, project } from '../../../scripts/bench/fit.ts'
import { percentile } from '../../../scripts/bench/util.ts'
import { parseSs, p2pBytesReceived } from '../../../scripts/bench/wire.ts'
import { parseGossipMetrics, perHeight, type NodeSample } from '../../../scripts/bench/probe.ts'
import { curvesMarkdown, scaleCurves, scaleRows } from '../../../scripts/bench/scale-report.ts'
import type { ScalePoint } from '../../../scripts/bench/scale.ts'

test('fitPowerLaw recovers the exponent and coefficient of an exact power law', t => {
  for (const k of [0.5, 1, 2.5]) {
    const fit = fitPowerLaw([4, 7, 10, 16].map(n => ({ n, y: 3 * n ** k })))
    t.truthy(fit)
    t.true(Math.abs(fit!.exponent - k) < 1e-9)
    t.true(Math.abs(fit!.coefficient - 3) < 1e-9)
    t.true(Math.abs(fit!.r2 - 1) < 1e-9)
    t.true(Math.abs(project(fit!, 1000) - 3 * 1000 ** k) / (3 * 1000 ** k) < 1e-9)
  }
})

test('fitPowerLaw is a least-squares fit on log-log: noisy points give the slope between them', t => {
  // log2 n = 2, 3, 4; log2 y = 1, 3, 3: slope by least squares = 1, r² = 0.75.
  const fit = fitPowerLaw([{ n: 4, y: 2 }, { n: 8, y: 8 }, { n: 16, y: 8 }])
  t.true(Math.abs(fit!.exponent - 1) < 1e-9)
  t.true(Math.abs(fit!.r2 - 0.75) < 1e-9)
})

test('fitPowerLaw skips unusable points and needs two distinct N', t => {
  t.is(fitPowerLaw([{ n: 4, y: 10 }]), undefined)
  t.is(fitPowerLaw([{ n: 4, y: 10 }, { n: 4, y: 20 }]), undefined)
  const fit = fitPowerLaw([{ n: 4, y: 4 }, { n: 7, y: NaN }, { n: 10, y: 0 }, { n: 16, y: undefined }, { n: 8, y: 8 }])
  t.is(fit?.points, 2)
  t.true(Math.abs(fit!.exponent - 1) < 1e-9)
})

test('percentile is nearest-rank over an unsorted list', t => {
  const xs = [5, 1, 4, 2, 3, 10, 9, 8, 7, 6]
  t.is(percentile(xs, 50), 5)
  t.is(percentile(xs, 99), 10)
  t.is(percentile(xs, 0), 1)
  t.is(percentile([42], 99), 42)
  t.true(Number.isNaN(percentile([], 50)))
  t.deepEqual(xs, [5, 1, 4, 2, 3, 10, 9, 8, 7, 6], 'the input is not sorted in place')
})

test('parseSs reads ports, owner and bytes received; p2pBytesReceived keeps a node\'s libp2p sockets only', t => {
  const text = [
    '0      0      127.0.0.1:22941 127.0.0.1:54446 users:(("MainThread",pid=4964,fd=59))',
    '\t bbr wscale:10,10 rto:216 bytes_sent:204911 bytes_acked:204911 bytes_received:269245 segs_out:938',
    '0      0      127.0.0.1:54446 127.0.0.1:22941 users:(("MainThread",pid=4970,fd=20))',
    '\t bbr bytes_sent:269245 bytes_received:204911',
    '0      0      127.0.0.1:41000 127.0.0.1:30001 users:(("MainThread",pid=4964,fd=60))',
    '\t bbr bytes_received:1000',
    '0      0      127.0.0.1:41001 127.0.0.1:8080 users:(("MainThread",pid=4964,fd=61))',
    '\t bbr bytes_received:5',
    '0      0      127.0.0.1:41002 127.0.0.1:30001',
    '\t cubic segs_out:1',
    ''
  ].join('\n')
  const s = parseSs(text)
  t.is(s.length, 5)
  t.deepEqual(s[0], { localPort: 22941, peerPort: 54446, pid: 4964, bytesReceived: 269245 })
  t.deepEqual(s[4], { localPort: 41002, peerPort: 30001, pid: undefined, bytesReceived: 0 })
  // Node 4964 listens on 22941; 30001 is another node's p2p port; 8080 is an API (not counted).
  t.deepEqual(p2pBytesReceived(s, 4964, 22941, new Set([22941, 30001])), { bytes: 270245, connections: 2 })
  t.deepEqual(p2pBytesReceived(s, undefined, 22941, new Set([22941])), { bytes: 0, connections: 0 })
})

test('parseGossipMetrics sums copies and distinct messages over topics; perHeight divides by the heights advanced', t => {
  const text = [
    '# HELP medledger_gossip_received_messages_total x',
    'medledger_gossip_received_messages_total{topic="batches",kind="copies"} 30',
    'medledger_gossip_received_messages_total{topic="batches",kind="distinct"} 10',
    'medledger_gossip_received_messages_total{topic="consensus",kind="copies"} 90',
    'medledger_gossip_received_messages_total{topic="consensus",kind="distinct"} 30',
    'medledger_gossip_received_bytes_total{topic="batches",kind="copies"} 3000',
    'medledger_gossip_received_bytes_total{topic="batches",kind="distinct"} 1000',
    'medledger_gossip_received_bytes_total{topic="consensus",kind="copies"} 900',
    'medledger_gossip_received_bytes_total{topic="consensus",kind="distinct"} 300',
    'medledger_compact_proposals_total{outcome="assembled"} 12',
    'medledger_compact_proposals_total{outcome="fetched"} 3',
    'medledger_compact_proposals_total{outcome="failed"} 1',
    'medledger_proposal_batches_fetched_total 7'
  ].join('\n')
  const g = parseGossipMetrics(text)
  t.deepEqual(g, { copies: 120, distinct: 40, copyBytes: 3900, distinctBytes: 1300, consensusCopies: 90, batchCopies: 30, compactAssembled: 12, compactFetched: 3, batchesFetched: 7 })
  const zero = { copies: 0, distinct: 0, copyBytes: 0, distinctBytes: 0, consensusCopies: 0, batchCopies: 0, compactAssembled: 0, compactFetched: 0, batchesFetched: 0 }
  const a: NodeSample = { at: 0, height: 10, cpuS: 1, wireBytesIn: 0, connections: 4, gossip: zero }
  const b: NodeSample = { at: 5000, height: 14, cpuS: 1.2, wireBytesIn: 8000, connections: 4, gossip: g }
  const p = perHeight(a, b)
  t.is(p.heights, 4)
  t.true(Math.abs(p.cpuMs - 50) < 1e-9)
  t.is(p.messages, 30)
  t.is(p.wireBytes, 2000)
  t.is(p.duplicateRatio, 3)
  t.true(Number.isNaN(perHeight(a, a).cpuMs), 'no height advanced: no per-height figure')
})

test('the scale report fits each cost in N and judges issue 16\'s targets', t => {
  const point = (n: number, p50: number, rate: number): ScalePoint => {
    const w = { seconds: 12, cpuMsPerSecPerNode: 100, heights: 10, cpuMsPerNode: 10 * n, cpuMsValidator: 10 * n, cpuMsObserver: 10 * n, messagesPerNode: n * n, gossipBytesPerNode: 1000 * n, wireBytesPerNode: 1100 * n, duplicateRatio: 2, compactFetchShare: 0, byNode: {} }
    return { validators: n, date: '2026-12-03T13:50:00.000Z', converge: { connectedMs: 1000 * n, firstBlockMs: 1000 * n, ms: 1000 * n, apiUpMs: 500 }, single: { submitted: 30, final: 30, p50, p99: 2 * p50, max: 2 * p50, ms: [] }, saturation: { batch: 100, conns: 8, finalPerSec: rate, accepted: 0, busy: 0, failed: 0, foreignCores: 0 }, idle: w, load: w, rss: { idleMaxBytes: 1, loadMaxBytes: 2 ** 20 * 200, byNode: {} }, errors: [] }
  }
  const ps = [point(16, 500, 700), point(4, 100, 3000), point(10, 300, 1400)]
  const curves = scaleCurves(ps)
  const cpu = curves.find(c => c.key === 'cpuLoad')!
  t.deepEqual(cpu.values.map(v => v.n), [4, 10, 16], 'sorted by N')
  t.true(Math.abs(cpu.fit!.exponent - 1) < 1e-9)
  t.true(Math.abs(curves.find(c => c.key === 'msgLoad')!.fit!.exponent - 2) < 1e-9)
  const rows = scaleRows(ps)
  const byName = (s: string): { met?: boolean, target?: string } => rows.find(r => r.name.startsWith(s))!
  t.is(byName('CPU per height per node, under load').met, true, 'exponent 1 <= 1.2')
  t.is(byName('single-record finality p50').met, false, '500 ms at N = 16 misses 400 ms')
  t.is(byName('single-record finality p99').met, true, '1,000 ms at N = 16 meets 1.5 s')
  t.is(byName('final records/s').met, false, '1,400 is 47% of 3,000')
  t.is(byName('time to converge').met, false, '16 s misses 10 s')
  const md = curvesMarkdown(ps, [], 'test machine')
  t.true(md.includes('| cost | N = 4 | N = 10 | N = 16 | exponent in N | target |'))
  t.true(md.includes('test machine'))
})
