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
  /** Self time rolled up into groups of packages (libp2p stack, CBOR, LevelDB, HTTP, ...). */
  groups: Array<{ group: string, share: number }>
  /** Where recordId's time comes from: the nearest caller among the hot paths, share of busy. */
  recordIdCallers: Array<{ caller: string, share: number }>
}

const GROUPS: Array<[string, RegExp]> = [
  ['libp2p (gossipsub, noise, yamux, streams)', /libp2p|chainsafe|yamux|noise|gossipsub|uint8arraylist|^it-|multiformats|protons|race-|p-queue|abort|progress-events|@noble|weald|main-event|any-signal|denque/],
  ['CBOR (cborg + src/encoding)', /^cborg|src\/encoding\/cbor/],
  ['LevelDB (classic-level, abstract-level)', /level/],
  ['HTTP API (fastify, zod, JSON)', /fastify|find-my-way|avvio|light-my-request|zod|secure-json-parse|fast-json|src\/api/],
  ['node internals (crypto, streams, buffers)', /^node:|\(native\/vm\)/],
  ['garbage collector', /garbage collector/],
  ['medledger src', /^src\//]
]

const RECORD_ID_CALLERS = ['signBatch', 'submit', 'add', 'checkBatch', 'checkBlock', 'isValidBlock', 'newBlock', 'onMessage', 'putBlock', 'removeBatches', 'applyFinal', 'verifyRun', 'waitFinal', 'onBlock', 'readBlocks', 'buildBlock']

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
  const groups = new Map<string, number>()
  for (const [w, ms] of files) {
    const g = GROUPS.find(([, re]) => re.test(w))?.[0] ?? 'other'
    groups.set(g, (groups.get(g) ?? 0) + ms)
  }
  // recordId's samples, attributed to the innermost of the listed callers above it (batchId is
  // attributed further up: it is itself only a wrapper over the records root).
  const callers = new Map<string, number>()
  for (const [id, t] of self) {
    let cur: number | undefined = id
    let inside = false
    let who = '(other)'
    while (cur !== undefined) {
      const name = byId.get(cur)?.callFrame.functionName ?? ''
      if (!inside) { if (name === 'recordId') inside = true } else if (name !== 'batchId' && name !== 'batchRecordsRoot' && RECORD_ID_CALLERS.includes(name)) { who = name; break }
      cur = parent.get(cur)
    }
    if (inside) callers.set(who, (callers.get(who) ?? 0) + t)
  }
  return {
    file,
    groups: [...groups.entries()].map(([group, ms]) => ({ group, share: ms / busy })).sort((a, b) => b.share - a.share),
    recordIdCallers: [...callers.entries()].map(([caller, ms]) => ({ caller, share: ms / busy })).sort((a, b) => b.share - a.share),
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
  lines.push('  self time by group: ' + s.groups.map(g => `${g.group} ${pct(g.share)}`).join(', '))
  lines.push('  self time by file/package: ' + s.byFile.slice(0, 8).map(f => `${f.where} ${pct(f.share)}`).join(', '))
  if (s.recordIdCallers.length > 0) lines.push('  recordId (canonical encode + sha256) by caller: ' + s.recordIdCallers.map(c => `${c.caller} ${pct(c.share)}`).join(', '))
  lines.push('  top functions (self): ' + s.topFunctions.slice(0, 8).map(f => `${f.name} (${f.where}) ${pct(f.share)}`).join(', '))
  const inc = s.inclusive.filter(i => i.share >= 0.01).sort((a, b) => b.share - a.share)
  if (inc.length > 0) lines.push('  inclusive (synchronous stacks only): ' + inc.map(i => `${i.name} ${pct(i.share)}`).join(', '))
  return lines.join('\n')
}
