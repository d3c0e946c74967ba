// `npm run bench -- --only=latency`: single-record finality with latency between the hosts. Five
// hosts (4 validators, 1 observer) in network namespaces, each behind a delaying relay
// (test/helpers/multi-host.ts); where namespaces cannot be made (not root, no iproute2), the same
// relays on loopback in this process, and the result says so and why. One record at a time,
// submitted with ?wait=final to the validators in turn, timed from the request to the answer.
// BENCH_LATENCY_LOOPBACK=1 takes the loopback path even where namespaces work (to compare).
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createDevnet } from '../../src/devnet/setup.ts'
import { Daemon } from '../../src/devnet/daemon.ts'
import { DelayRelay } from '../../src/testkit/delay-relay.ts'
import { setConfigKey } from '../../src/testkit/config-file.ts'
import { sampleRecord } from '../../src/testkit/records.ts'
import { waitFor } from '../../src/testkit/wait.ts'
import { MultiHostNetwork, RELAY_PORT } from '../../test/helpers/multi-host.ts'
import { netnsAvailable } from '../../test/helpers/netns.ts'
import { row, type Row } from './report.ts'
import { log, percentile } from './util.ts'

export interface LatencyLevel { delayMs: number, n: number, failed: number, p50: number, p99: number, mean: number, max: number }

export interface WanLatencyResult {
  where: 'namespaces' | 'loopback'
  /** Why namespaces were not used. */
  reason?: string
  levels: LatencyLevel[]
  /** Connections at the end of the run, and how many of them bypassed the relays (should be 0). */
  connections: number
  direct: number
}

/** What the measurement needs from either setup. */
interface WanNet {
  validators: Daemon[]
  setDelay: (ms: number) => Promise<void>
  /** Every node's connections, and those not through a relay. */
  paths: () => Promise<{ connections: number, direct: number }>
  close: () => Promise<void>
}

type PeerViews = Array<{ address: string, direction: string }>

async function peerViews (d: Daemon): Promise<PeerViews> {
  const res = await fetch(`${d.api}/v1/status`, { signal: AbortSignal.timeout(5000) }).catch(() => undefined)
  return res?.ok === true ? ((await res.json()) as { connectedPeers?: PeerViews }).connectedPeers ?? [] : []
}

async function namespaces (): Promise<WanNet> {
  const net = await MultiHostNetwork.create({ delayMs: 0, heartbeatMs: 10_000, announceRelay: true, chainId: 'bench-latency' })
  try {
    await net.start()
    await waitFor('every node connected to the other four', async () => (await Promise.all(net.names.map(async n => (await net.status(n))?.peers))).every(p => p === 4), { timeoutMs: 90_000 })
  } catch (err) {
    await net.close()
    throw err
  }
  const daemons = net.names.map(n => net.host(n).daemon)
  return {
    validators: net.validators.map(n => net.host(n).daemon),
    setDelay: async ms => { await net.setDelay(ms) },
    // Through a relay: dialled at a relay port, or arriving from the relay (127.<b>.<c>.<d>).
    paths: async () => {
      const all = (await Promise.all(daemons.map(peerViews))).flat()
      return { connections: all.length, direct: all.filter(p => !(p.direction === 'outbound' ? p.address.includes(`/tcp/${RELAY_PORT}/`) : p.address.startsWith('/ip4/127.'))).length }
    },
    close: async () => { await net.close() }
  }
}

async function loopback (): Promise<WanNet> {
  const dir = await mkdtemp(join(tmpdir(), 'medledger-bench-latency-'))
  const layout = await createDevnet({ dir, validators: ['hospital-a', 'hospital-b', 'hospital-c', 'ministry'], observers: ['regulator'], heartbeatMs: 10_000, chainId: 'bench-latency' })
  const relays = new Map<string, DelayRelay>()
  for (const n of layout.nodes) relays.set(n.name, await new DelayRelay({ listen: { host: '127.0.0.1', port: 0 }, target: { host: '127.0.0.1', port: n.p2pPort }, delayMs: 0 }).listen())
  const relayPorts = new Set([...relays.values()].map(r => r.port))
  for (const n of layout.nodes) {
    const others = layout.nodes.filter(o => o !== n).map(o => `"/ip4/127.0.0.1/tcp/${relays.get(o.name)!.port}/p2p/${o.peerId}"`)
    await setConfigKey(n.home, 'bootstrap', `[${others.join(', ')}]`)
    await setConfigKey(n.home, 'announce', `["/ip4/127.0.0.1/tcp/${relays.get(n.name)!.port}"]`)
  }
  const daemons = layout.nodes.map(n => new Daemon(n, ['--log-level', 'warn'], { lifeline: true }))
  const close = async (): Promise<void> => {
    await Promise.all(daemons.map(async d => await d.stop()))
    await Promise.all([...relays.values()].map(async r => { await r.close() }))
    await rm(dir, { recursive: true, force: true })
  }
  try {
    for (const d of daemons) d.start()
    await waitFor('every node connected to the other four', async () => (await Promise.all(daemons.map(async d => (await d.status())?.peers))).every(p => p === 4), { timeoutMs: 90_000 })
  } catch (err) {
    await close()
    throw err
  }
  return {
    validators: daemons.filter(d => d.node.role === 'validator'),
    setDelay: async ms => { for (const r of relays.values()) r.delayMs = ms },
    // On loopback an inbound connection cannot tell the relay from a direct dial: outbound ones only.
    paths: async () => {
      const out = (await Promise.all(daemons.map(peerViews))).flat().filter(p => p.direction === 'outbound')
      return { connections: out.length, direct: out.filter(p => !relayPorts.has(Number(/\/tcp\/(\d+)/.exec(p.address)?.[1]))).length }
    },
    close
  }
}

export async function measureWanLatency (o: { delays: number[], samples: number }): Promise<WanLatencyResult> {
  const can = process.env.BENCH_LATENCY_LOOPBACK === '1' ? { ok: false as const, reason: 'BENCH_LATENCY_LOOPBACK=1' } : await netnsAvailable()
  if (!can.ok) log(`latency: no network namespaces (${can.reason}): relays on loopback instead`)
  const net = can.ok ? await namespaces() : await loopback()
  const levels: LatencyLevel[] = []
  let k = 0
  try {
    for (const delayMs of o.delays) {
      await net.setDelay(delayMs)
      const xs: number[] = []
      let failed = 0
      // Three unmeasured records first: the new delay is on every connection and consensus settled.
      for (let i = -3; i < o.samples; i++) {
        const d = net.validators[k++ % net.validators.length]
        const t0 = performance.now()
        const r = await d.submit([sampleRecord(0x1a7e_0000 + k)]).catch(() => undefined)
        if (i < 0) continue
        if (r?.status === 200) xs.push(performance.now() - t0)
        else failed++
      }
      const level = { delayMs, n: xs.length, failed, p50: percentile(xs, 50), p99: percentile(xs, 99), mean: xs.reduce((a, b) => a + b, 0) / xs.length, max: Math.max(...xs) }
      log(`latency: ${delayMs} ms one-way: finality p50 ${level.p50.toFixed(0)} ms, p99 ${level.p99.toFixed(0)} ms (${xs.length} records, ${failed} failed)`)
      levels.push(level)
    }
    const p = await net.paths()
    return { where: can.ok ? 'namespaces' : 'loopback', ...(can.ok ? {} : { reason: can.reason }), levels, ...p }
  } finally {
    await net.close()
  }
}

/** The bench table's rows for this phase. */
export function wanLatencyRows (r: WanLatencyResult): Row[] {
  const where = r.where === 'namespaces' ? '5 hosts in network namespaces' : `LOOPBACK, not namespaces (${r.reason ?? ''})`
  const section = `single-record finality with latency between hosts (${where}; delaying relays; one record at a time, ?wait=final, validators in turn)`
  const f = (x: number): string => Number.isNaN(x) ? 'n/a' : Math.round(x).toLocaleString('en-US')
  return r.levels.map(l => row({
    section,
    name: `submit-to-final p50 / p99 at ${l.delayMs} ms one-way`,
    value: l.p50,
    unit: 'ms',
    display: `${f(l.p50)} / ${f(l.p99)} ms`,
    ...(l.delayMs > 0 ? { limit: 3 * l.delayMs, limitName: 'ms = 3 one-way delays (proposal, prevotes, precommits)' } : {}),
    note: `${l.n} records, mean ${f(l.mean)} ms, max ${f(l.max)} ms${l.failed > 0 ? `, ${l.failed} FAILED` : ''}; ${r.direct} of ${r.connections} connections bypassed the relays`
  }))
}
