import { fitPowerLaw, type PowerFit } from './fit.ts'
import { row, type Row } from './report.ts'
import type { ScalePoint } from './scale.ts'
import type { MembersPoint } from './members.ts'

const MB = 1024 * 1024
const n0 = (x: number | undefined): string => x === undefined || !Number.isFinite(x) ? 'n/a' : Math.round(x).toLocaleString('en-US')
const n1 = (x: number | undefined): string => x === undefined || !Number.isFinite(x) ? 'n/a' : x < 10 ? x.toFixed(2) : x < 100 ? x.toFixed(1) : n0(x)
const fitNote = (f: PowerFit | undefined): string => f === undefined ? 'no fit (fewer than 2 points)' : `fitted exponent in N: ${f.exponent.toFixed(2)} (r² ${f.r2.toFixed(2)})`

/** One cost of the scale phase across N, with its fitted exponent. */
export interface ScaleCurve { key: string, name: string, unit: string, values: Array<{ n: number, y: number }>, fit: PowerFit | undefined }

/** The curves of the scale phase (each cost against N) and their fitted power-law exponents. */
export function scaleCurves (points: ScalePoint[]): ScaleCurve[] {
  const ps = [...points].sort((a, b) => a.validators - b.validators)
  const curve = (key: string, name: string, unit: string, f: (p: ScalePoint) => number): ScaleCurve => {
    const values = ps.map(p => ({ n: p.validators, y: f(p) }))
    return { key, name, unit, values, fit: fitPowerLaw(values) }
  }
  return [
    curve('converge', 'time to converge at start (all connected to all validators, block 1 everywhere)', 'ms', p => p.converge.ms),
    curve('singleP50', 'single-record finality p50, wait=final, one at a time', 'ms', p => p.single.p50),
    curve('singleP99', 'single-record finality p99', 'ms', p => p.single.p99),
    curve('finalRate', 'final records/s at saturation, batches of 100', '/s', p => p.saturation.finalPerSec),
    curve('cpuIdle', 'CPU per height per node, idle (heartbeat blocks)', 'ms', p => p.idle.cpuMsPerNode),
    curve('cpuIdleSec', 'CPU per second per node, idle', 'ms', p => p.idle.cpuMsPerSecPerNode),
    curve('cpuLoad', 'CPU per height per node, under load', 'ms', p => p.load.cpuMsPerNode),
    // Heights under load hold more records as N grows (fewer, larger blocks): per final record is the comparable cost.
    curve('cpuRecord', 'CPU per final record per node, under load', 'µs', p => p.load.cpuMsPerSecPerNode * 1000 / p.saturation.finalPerSec),
    curve('msgIdle', 'gossip messages received per height per node, idle', '', p => p.idle.messagesPerNode),
    curve('msgLoad', 'gossip messages received per height per node, under load', '', p => p.load.messagesPerNode),
    curve('wireIdle', 'bytes received (TCP, libp2p) per height per node, idle', 'B', p => p.idle.wireBytesPerNode),
    curve('wireLoad', 'bytes received (TCP, libp2p) per height per node, under load', 'B', p => p.load.wireBytesPerNode),
    curve('dupIdle', 'duplicate ratio (copies received per distinct message), idle', 'x', p => p.idle.duplicateRatio),
    curve('dupLoad', 'duplicate ratio, under load', 'x', p => p.load.duplicateRatio),
    curve('rssLoad', 'resident memory per node under load (max over nodes)', 'MB', p => p.rss.loadMaxBytes / MB)
  ]
}

/** Table rows of the scale phase: one row per cost, the values for each N in one cell, the exponent in the note. */
export function scaleRows (points: ScalePoint[]): Row[] {
  if (points.length === 0) return []
  const ps = [...points].sort((a, b) => a.validators - b.validators)
  const ns = ps.map(p => p.validators)
  const dates = [...new Set(ps.map(p => p.date.slice(0, 16).replace('T', ' ')))].join(', ')
  const s = `scale: N validators + 1 observer (CLI layout, config defaults), N = ${ns.join(' / ')}; measured ${dates} UTC`
  const at = (n: number): ScalePoint | undefined => ps.find(p => p.validators === n)
  const rows: Row[] = []
  for (const c of scaleCurves(ps)) {
    const last = c.values[c.values.length - 1]
    const display = c.values.map(v => c.unit === 'x' ? n1(v.y) : c.unit === 'ms' && v.y < 100 ? n1(v.y) : c.unit === 'MB' ? n0(v.y) : v.y >= 10_000 ? `${(v.y / 1000).toFixed(1)}k` : n1(v.y)).join(' / ') + (c.unit === '' || c.unit === 'x' ? '' : ` ${c.unit}`)
    let target: string | undefined
    let met: boolean | undefined
    const p16 = at(16)
    if (c.key === 'singleP50' && p16 !== undefined) { target = 'N = 16: <= 400 ms'; met = p16.single.p50 <= 400 }
    if (c.key === 'singleP99' && p16 !== undefined) { target = 'N = 16: <= 1,500 ms'; met = p16.single.p99 <= 1500 }
    if (c.key === 'converge' && p16 !== undefined) { target = 'N = 16: <= 10 s'; met = p16.converge.ms <= 10_000 }
    if (c.key === 'finalRate' && at(10) !== undefined && at(4) !== undefined) { target = 'N = 10: >= 50% of N = 4'; met = at(10)!.saturation.finalPerSec >= 0.5 * at(4)!.saturation.finalPerSec }
    if (c.key === 'cpuLoad' && c.fit !== undefined) { target = 'exponent <= 1.2'; met = c.fit.exponent <= 1.2 }
    let note = fitNote(c.fit)
    if (c.key === 'converge') note += '; API up (slowest) / all connected / block 1 everywhere: ' + ps.map(p => `${n0(p.converge.apiUpMs)} / ${n0(p.converge.connectedMs)} / ${n0(p.converge.firstBlockMs)}`).join(', ') + ' ms'
    if (c.key === 'singleP50') note += '; ' + ps.map(p => `${p.single.final} of ${p.single.submitted} final`).join(', ')
    if (c.key === 'finalRate') note += '; N = 10 / N = 4: ' + (at(10) !== undefined && at(4) !== undefined ? `${Math.round(100 * at(10)!.saturation.finalPerSec / at(4)!.saturation.finalPerSec)}%` : 'n/a') + '; other processes used ' + ps.map(p => p.saturation.foreignCores.toFixed(2)).join(' / ') + ' cores'
    if (c.key === 'cpuLoad') note += '; validator / observer: ' + ps.map(p => `${n1(p.load.cpuMsValidator)} / ${n1(p.load.cpuMsObserver)}`).join(', ') + ' ms; heights in the window: ' + ps.map(p => p.load.heights).join(' / ')
    if (c.key === 'cpuIdle') note += '; heights in the window: ' + ps.map(p => `${p.idle.heights} in ${n0(p.idle.seconds)} s`).join(' / ')
    if (c.key === 'cpuLoad') note += '; CPU per second per node: ' + ps.map(p => n0(p.load.cpuMsPerSecPerNode)).join(' / ') + ' ms'
    if (c.key === 'wireLoad') note += '; gossip data bytes: ' + ps.map(p => n0(p.load.gossipBytesPerNode)).join(' / ')
    if (c.key === 'rssLoad') note += '; idle: ' + ps.map(p => n0(p.rss.idleMaxBytes / MB)).join(' / ') + ' MB'
    rows.push(row({ section: s, name: c.name, value: last?.y, unit: c.unit, display, target, met, note }))
  }
  return rows
}

/** Table rows of the members phase: 4 validators, M members, 2 observers; values for each M in one cell. */
export function membersRows (points: MembersPoint[]): Row[] {
  if (points.length === 0) return []
  const ps = [...points].sort((a, b) => a.members - b.members)
  const dates = [...new Set(ps.map(p => p.date.slice(0, 16).replace('T', ' ')))].join(', ')
  const s = `members: 4 validators + M members + 2 observers as real daemons (members max_peers = ${ps[0].maxPeers}), M = ${ps.map(p => p.members).join(' / ')}; measured ${dates} UTC`
  const cell = (f: (p: MembersPoint) => string, unit = ''): string => ps.map(f).join(' / ') + (unit === '' ? '' : ` ${unit}`)
  const big = ps[ps.length - 1]
  const rows: Row[] = []
  const r = (name: string, value: number | undefined, display: string, note?: string, unit = ''): void => { rows.push(row({ section: s, name, value, unit, display, note })) }
  r('start to converged (every node holds block 1, members connected to every validator)', big.converge.ms, cell(p => n0(p.converge.ms), 'ms'), `${cell(p => `${p.daemons} daemons`)}; members started in waves of 8 after the validators: every API ready after ${cell(p => n0(p.converge.apiUpMs), 'ms')}`, 'ms')
  r('submit-to-final p50 / p99, all members (wait=final)', big.overall.p50, cell(p => `${n0(p.overall.p50)} / ${n0(p.overall.p99)}`, 'ms'), cell(p => `${p.overall.final} of ${p.overall.submitted} final`), 'ms')
  r('per member: worst p50 / worst p99', big.perMember.worstP50, cell(p => `${n0(p.perMember.worstP50)} / ${n0(p.perMember.worstP99)}`, 'ms'), `best member's p50: ${cell(p => n0(p.perMember.bestP50), 'ms')}`, 'ms')
  r('final block to the last node (after the first), p50 / p99', big.spread.p50, cell(p => `${n0(p.spread.p50)} / ${n0(p.spread.p99)}`, 'ms'), `heights seen by every node: ${cell(p => String(p.spread.heights))}`, 'ms')
  // How each cost grows with M (log-log least squares), for docs/scaling.md's projection.
  const grow = (f: (p: MembersPoint) => number): string => { const fit = fitPowerLaw(ps.map(p => ({ n: p.members, y: f(p) }))); return fit === undefined ? 'n/a' : fit.exponent.toFixed(2) }
  r('connections per node: validator / member / observer (max)', big.connections.validator.max, cell(p => `${p.connections.validator.max} / ${p.connections.member.max} / ${p.connections.observer.max}`), `member min-mean: ${cell(p => `${p.connections.member.min}-${n1(p.connections.member.mean)}`)}; exponent in M of a validator's: ${grow(p => p.connections.validator.max)}`)
  r('bytes received per node per block: validator / member / observer (mean)', big.bytesPerBlock.validator, cell(p => `${n0(p.bytesPerBlock.validator / 1024)} / ${n0(p.bytesPerBlock.member / 1024)} / ${n0(p.bytesPerBlock.observer / 1024)}`, 'KiB'), `gossip messages per node per block (v / m / o): ${cell(p => `${n0(p.messagesPerBlock.validator)} / ${n0(p.messagesPerBlock.member)} / ${n0(p.messagesPerBlock.observer)}`)}; duplicates x${cell(p => n1(p.duplicateRatio))}; exponent in M, bytes v / m: ${grow(p => p.bytesPerBlock.validator)} / ${grow(p => p.bytesPerBlock.member)}, messages v / m: ${grow(p => p.messagesPerBlock.validator)} / ${grow(p => p.messagesPerBlock.member)}`, 'B')
  r('CPU per block per node: validator / member / observer (mean)', big.cpuMsPerBlock.validator, cell(p => `${n1(p.cpuMsPerBlock.validator)} / ${n1(p.cpuMsPerBlock.member)} / ${n1(p.cpuMsPerBlock.observer)}`, 'ms'), `${cell(p => `${n1(p.blocksPerSec)} blocks/s`)} in the window; exponent in M, v / m: ${grow(p => p.cpuMsPerBlock.validator)} / ${grow(p => p.cpuMsPerBlock.member)}`, 'ms')
  r('resident memory per node (max): validator / member / observer', big.rss.validator / MB, cell(p => `${n0(p.rss.validator / MB)} / ${n0(p.rss.member / MB)} / ${n0(p.rss.observer / MB)}`, 'MB'), `sum over all daemons: ${cell(p => n0(p.rss.total / MB), 'MB')}`, 'MB')
  return rows
}
