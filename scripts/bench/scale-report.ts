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

/** One value of a curve as shown: thousands as "12.3k", small values with decimals. */
function fmtValue (c: ScaleCurve, y: number): string {
  if (c.unit === 'x') return n1(y)
  if (c.unit === 'MB') return n0(y)
  if (c.unit === 'ms' && y < 100) return n1(y)
  return y >= 1e6 ? `${(y / 1e6).toFixed(2)}M` : y >= 10_000 ? `${(y / 1000).toFixed(1)}k` : n1(y)
}

/** What the issue asks of a curve (issue 16's targets), and whether these points meet it. */
function curveTarget (c: ScaleCurve, ps: ScalePoint[]): { target?: string, met?: boolean } {
  const at = (n: number): ScalePoint | undefined => ps.find(p => p.validators === n)
  const p16 = at(16)
  const p10 = at(10)
  const p4 = at(4)
  if (c.key === 'singleP50' && p16 !== undefined) return { target: 'N = 16: <= 400 ms', met: p16.single.p50 <= 400 }
  if (c.key === 'singleP99' && p16 !== undefined) return { target: 'N = 16: <= 1,500 ms', met: p16.single.p99 <= 1500 }
  if (c.key === 'converge' && p16 !== undefined) return { target: 'N = 16: <= 10 s', met: p16.converge.ms <= 10_000 }
  if (c.key === 'finalRate' && p10 !== undefined && p4 !== undefined) return { target: 'N = 10: >= 50% of N = 4', met: p10.saturation.finalPerSec >= 0.5 * p4.saturation.finalPerSec }
  if (c.key === 'cpuLoad' && c.fit !== undefined) return { target: 'exponent <= 1.2', met: c.fit.exponent <= 1.2 }
  return {}
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
    const display = c.values.map(v => fmtValue(c, v.y)).join(' / ') + (c.unit === '' || c.unit === 'x' ? '' : ` ${c.unit}`)
    const { target, met } = curveTarget(c, ps)
    let note = fitNote(c.fit)
    if (c.key === 'converge') note += '; API up (slowest) / all connected / block 1 everywhere: ' + ps.map(p => `${n0(p.converge.apiUpMs)} / ${n0(p.converge.connectedMs)} / ${n0(p.converge.firstBlockMs)}`).join(', ') + ' ms'
    if (c.key === 'singleP50') note += '; ' + ps.map(p => `${p.single.final} of ${p.single.submitted} final`).join(', ')
    if (c.key === 'finalRate') note += '; N = 10 / N = 4: ' + (at(10) !== undefined && at(4) !== undefined ? `${Math.round(100 * at(10)!.saturation.finalPerSec / at(4)!.saturation.finalPerSec)}%` : 'n/a') + '; other processes used ' + ps.map(p => p.saturation.foreignCores.toFixed(2)).join(' / ') + ' cores'
    if (c.key === 'cpuLoad') note += '; validator / observer: ' + ps.map(p => `${n1(p.load.cpuMsValidator)} / ${n1(p.load.cpuMsObserver)}`).join(', ') + ' ms; heights in the window: ' + ps.map(p => p.load.heights).join(' / ') + '; CPU per second per node: ' + ps.map(p => n0(p.load.cpuMsPerSecPerNode)).join(' / ') + ' ms'
    if (c.key === 'cpuIdle') note += '; heights in the window: ' + ps.map(p => `${p.idle.heights} in ${n0(p.idle.seconds)} s`).join(' / ')
    if (c.key === 'wireLoad') note += '; gossip data bytes: ' + ps.map(p => n0(p.load.gossipBytesPerNode)).join(' / ')
    if (c.key === 'rssLoad') note += '; idle: ' + ps.map(p => n0(p.rss.idleMaxBytes / MB)).join(' / ') + ' MB'
    rows.push(row({ section: s, name: c.name, value: last?.y, unit: c.unit, display, target, met, note }))
  }
  return rows
}

/** One figure of the members phase: its value at each M as shown, and a number for the JSON row. */
interface MembersFigure { name: string, unit: string, value: (p: MembersPoint) => number, show: (p: MembersPoint) => string, note?: (ps: MembersPoint[]) => string }

function membersFigures (): MembersFigure[] {
  // How a cost grows with M (log-log least squares), for docs/scaling.md's projection.
  const grow = (ps: MembersPoint[], f: (p: MembersPoint) => number): string => { const fit = fitPowerLaw(ps.map(p => ({ n: p.members, y: f(p) }))); return fit === undefined ? 'n/a' : fit.exponent.toFixed(2) }
  const each = (ps: MembersPoint[], f: (p: MembersPoint) => string): string => ps.map(f).join(' / ')
  return [
    { name: 'start to converged (ms): every node holds block 1, every node connected to every validator', unit: 'ms', value: p => p.converge.ms, show: p => n0(p.converge.ms), note: ps => `members started in waves of 8 after the validators; every API ready after ${each(ps, p => n0(p.converge.apiUpMs))} ms` },
    { name: 'submit-to-final p50 / p99, all members, wait=final (ms)', unit: 'ms', value: p => p.overall.p50, show: p => `${n0(p.overall.p50)} / ${n0(p.overall.p99)}`, note: ps => each(ps, p => `${p.overall.final} of ${p.overall.submitted} final`) },
    { name: 'per member: worst p50 / worst p99 (ms)', unit: 'ms', value: p => p.perMember.worstP50, show: p => `${n0(p.perMember.worstP50)} / ${n0(p.perMember.worstP99)}`, note: ps => `best member's p50: ${each(ps, p => n0(p.perMember.bestP50))} ms` },
    { name: 'a final block from the first node to the last, p50 / p99 (ms)', unit: 'ms', value: p => p.spread.p50, show: p => `${n0(p.spread.p50)} / ${n0(p.spread.p99)}`, note: ps => `heights seen by every node: ${each(ps, p => String(p.spread.heights))}` },
    { name: 'connections per node, max: validator / member / observer', unit: '', value: p => p.connections.validator.max, show: p => `${p.connections.validator.max} / ${p.connections.member.max} / ${p.connections.observer.max}`, note: ps => `member min-mean: ${each(ps, p => `${p.connections.member.min}-${n1(p.connections.member.mean)}`)}; exponent in M of a validator's: ${grow(ps, p => p.connections.validator.max)}` },
    { name: 'KiB received per node per block (TCP), mean: validator / member / observer', unit: 'B', value: p => p.bytesPerBlock.validator, show: p => `${n0(p.bytesPerBlock.validator / 1024)} / ${n0(p.bytesPerBlock.member / 1024)} / ${n0(p.bytesPerBlock.observer / 1024)}`, note: ps => `exponent in M, validator / member: ${grow(ps, p => p.bytesPerBlock.validator)} / ${grow(ps, p => p.bytesPerBlock.member)}` },
    { name: 'gossip messages received per node per block, mean: validator / member / observer', unit: '', value: p => p.messagesPerBlock.validator, show: p => `${n0(p.messagesPerBlock.validator)} / ${n0(p.messagesPerBlock.member)} / ${n0(p.messagesPerBlock.observer)}`, note: ps => `duplicate ratio ${each(ps, p => n1(p.duplicateRatio))}; exponent in M, validator / member: ${grow(ps, p => p.messagesPerBlock.validator)} / ${grow(ps, p => p.messagesPerBlock.member)}` },
    { name: 'CPU per node per block, mean: validator / member / observer (ms)', unit: 'ms', value: p => p.cpuMsPerBlock.validator, show: p => `${n1(p.cpuMsPerBlock.validator)} / ${n1(p.cpuMsPerBlock.member)} / ${n1(p.cpuMsPerBlock.observer)}`, note: ps => `${each(ps, p => n1(p.blocksPerSec))} blocks/s in the window; exponent in M, validator / member: ${grow(ps, p => p.cpuMsPerBlock.validator)} / ${grow(ps, p => p.cpuMsPerBlock.member)}` },
    { name: 'resident memory per node, max: validator / member / observer (MB)', unit: 'MB', value: p => p.rss.validator / MB, show: p => `${n0(p.rss.validator / MB)} / ${n0(p.rss.member / MB)} / ${n0(p.rss.observer / MB)}`, note: ps => `all daemons together: ${each(ps, p => n0(p.rss.total / MB))} MB` }
  ]
}

/** Table rows of the members phase: 4 validators, M members, 2 observers; "M = 10: ...; M = 20: ..." in one cell. */
export function membersRows (points: MembersPoint[]): Row[] {
  if (points.length === 0) return []
  const ps = [...points].sort((a, b) => a.members - b.members)
  const dates = [...new Set(ps.map(p => p.date.slice(0, 16).replace('T', ' ')))].join(', ')
  const s = `members: 4 validators + M members + 2 observers as real daemons (members and observers p2p.max_peers = ${ps[0].maxPeers}), M = ${ps.map(p => p.members).join(' / ')}; measured ${dates} UTC`
  const big = ps[ps.length - 1]
  return membersFigures().map(f => row({ section: s, name: f.name, value: f.value(big), unit: f.unit, display: ps.map(p => `M = ${p.members}: ${f.show(p)}`).join('; '), note: f.note?.(ps) }))
}

/**
 * The curves as Markdown tables with one column per N (and per M), for the README: each cost,
 * its fitted exponent and the issue's target. `machine` names the machine.
 */
export function curvesMarkdown (scale: ScalePoint[], members: MembersPoint[], machine: string): string {
  const out: string[] = []
  const when = (ds: string[]): string => [...new Set(ds.map(d => d.slice(0, 16).replace('T', ' ')))].join(', ')
  if (scale.length > 0) {
    const ps = [...scale].sort((a, b) => a.validators - b.validators)
    out.push(`Scale (issue 16): N validators + 1 observer, config defaults, every daemon on this one machine; ${machine}; measured ${when(ps.map(p => p.date))} UTC.`, '')
    out.push(`| cost | ${ps.map(p => `N = ${p.validators}`).join(' | ')} | exponent in N | target |`, `|---|${ps.map(() => '---').join('|')}|---|---|`)
    for (const c of scaleCurves(ps)) {
      const { target, met } = curveTarget(c, ps)
      out.push(`| ${c.name}${c.unit === '' || c.unit === 'x' ? '' : ` (${c.unit})`} | ${c.values.map(v => fmtValue(c, v.y)).join(' | ')} | ${c.fit === undefined ? '' : c.fit.exponent.toFixed(2)} | ${target === undefined ? '' : `${target}: ${met === true ? 'met' : 'missed'}`} |`)
    }
  }
  if (members.length > 0) {
    const ps = [...members].sort((a, b) => a.members - b.members)
    if (out.length > 0) out.push('')
    out.push(`Members (issue 21): 4 validators + M members + 2 observers, members and observers with p2p.max_peers = ${ps[0].maxPeers}; ${machine}; measured ${when(ps.map(p => p.date))} UTC.`, '')
    out.push(`| figure | ${ps.map(p => `M = ${p.members} (${p.daemons} daemons)`).join(' | ')} |`, `|---|${ps.map(() => '---').join('|')}|`)
    for (const f of membersFigures()) out.push(`| ${f.name} | ${ps.map(f.show).join(' | ')} |`)
  }
  return out.join('\n')
}
