import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'

interface CpuNode { id: number, callFrame: { functionName: string, url: string, lineNumber: number }, children?: number[] }
interface CpuProfile { nodes: CpuNode[], samples: number[], timeDeltas: number[], startTime: number, endTime: number }

export interface ProfileSummary {
  file: string
  totalMs: number
  /** Share of the busy (non-idle) time. */
  busyMs: number
  topFunctions: Array<{ name: string, where: string, selfMs: number, share: number }>
  byFile: Array<{ where: string, selfMs: number, share: number }>
  /** Inclusive time (share of busy) of functions whose name matches the given list. */
  inclusive: Array<{ name: string, ms: number, share: number }>
}

function where (url: string): string {
  if (url === '') return '(native/vm)'
  const u = url.replace(/^file:\/\//, '')
  const nm = u.lastIndexOf('node_modules/')
  if (nm >= 0) {
    const rest = u.slice(nm + 13).split('/')
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]
  }
  const src = u.indexOf('/src/')
  if (src >= 0) return u.slice(src + 1)
  if (u.startsWith('node:')) return u.split('/')[0]
  return u.split('/').slice(-2).join('/')
}

/** Self time per function and per file of a V8 .cpuprofile, with inclusive time of named functions. */
export async function summarize (file: string, inclusiveNames: string[] = [], top = 15): Promise<ProfileSummary> {
  const p = JSON.parse(await readFile(file, 'utf8')) as CpuProfile
  const self = new Map<number, number>()
  for (let i = 0; i < p.samples.length; i++) self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0) / 1000)
  const byId = new Map(p.nodes.map(n => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  let total = 0
  let idle = 0
  const fn = new Map<string, { name: string, where: string, selfMs: number }>()
  const files = new Map<string, number>()
  for (const [id, ms] of self) {
    const n = byId.get(id) as CpuNode
    total += ms
    const name = n.callFrame.functionName || '(anonymous)'
    if (name === '(idle)') { idle += ms; continue }
    const w = name.startsWith('(') ? name : where(n.callFrame.url)
    const key = `${name}@${n.callFrame.url}:${n.callFrame.lineNumber}`
    const e = fn.get(key) ?? { name, where: `${w}:${n.callFrame.lineNumber + 1}`, selfMs: 0 }
    e.selfMs += ms
    fn.set(key, e)
    files.set(w, (files.get(w) ?? 0) + ms)
  }
  const busy = total - idle
  // Inclusive: a sample counts once for a name if that name is anywhere on its stack.
  const inclusive = inclusiveNames.map(name => {
    let ms = 0
    for (const [id, t] of self) {
      let cur: number | undefined = id
      while (cur !== undefined) {
        if (byId.get(cur)?.callFrame.functionName === name) { ms += t; break }
        cur = parent.get(cur)
      }
    }
    return { name, ms, share: ms / busy }
  })
  return {
    file,
    totalMs: total,
    busyMs: busy,
    topFunctions: [...fn.values()].sort((a, b) => b.selfMs - a.selfMs).slice(0, top).map(e => ({ ...e, share: e.selfMs / busy })),
    byFile: [...files.entries()].map(([w, ms]) => ({ where: w, selfMs: ms, share: ms / busy })).sort((a, b) => b.selfMs - a.selfMs).slice(0, top),
    inclusive
  }
}

export async function profilesIn (dir: string): Promise<string[]> {
  return (await readdir(dir).catch(() => [] as string[])).filter(f => f.endsWith('.cpuprofile')).map(f => join(dir, f))
}

export function renderSummary (s: ProfileSummary, label: string): string {
  const pct = (x: number): string => `${(x * 100).toFixed(1)}%`
  const lines = [`${label}: ${(s.busyMs / 1000).toFixed(1)} s busy of ${(s.totalMs / 1000).toFixed(1)} s sampled`]
  lines.push('  self time by file/package: ' + s.byFile.slice(0, 8).map(f => `${f.where} ${pct(f.share)}`).join(', '))
  lines.push('  top functions (self): ' + s.topFunctions.slice(0, 8).map(f => `${f.name} (${f.where}) ${pct(f.share)}`).join(', '))
  const inc = s.inclusive.filter(i => i.share >= 0.01).sort((a, b) => b.share - a.share)
  if (inc.length > 0) lines.push('  inclusive (synchronous stacks only): ' + inc.map(i => `${i.name} ${pct(i.share)}`).join(', '))
  return lines.join('\n')
}
