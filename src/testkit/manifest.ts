import { readFile } from 'node:fs/promises'
import { parse as parseToml } from 'smol-toml'
import { z } from 'zod'
import type { Devnet } from './devnet.ts'

/**
 * A devnet manifest (like CometBFT's e2e manifests): the nodes and a fault schedule.
 *
 *   validators = 4            # a number or names
 *   observers = 1
 *   standby = ["hospital-d"]  # genesis observers that vote once added
 *   heartbeat_ms = 1000
 *
 *   [[fault]]                 # run in order; each waits for its trigger
 *   at_height = 5             # when any node up reaches this height ...
 *   kill = "hospital-b"
 *   [[fault]]
 *   after_ms = 3000           # ... or this long after the previous fault
 *   start = "hospital-b"
 *   [[fault]]
 *   at_height = 10
 *   partition = [["hospital-a", "hospital-b"], ["hospital-c", "ministry"]]
 *   [[fault]]
 *   after_ms = 5000
 *   heal = true
 *
 * Actions (one per fault): kill, stop, start, pause, resume (a node name), partition (two
 * groups), heal, add_validator, remove_validator (a node name).
 */
const Names = z.union([z.number().int().min(0).max(64), z.array(z.string().min(1)).max(64)])
const Fault = z.object({
  at_height: z.number().int().min(0).optional(),
  after_ms: z.number().int().min(0).max(24 * 3600_000).optional(),
  kill: z.string().optional(),
  stop: z.string().optional(),
  start: z.string().optional(),
  pause: z.string().optional(),
  resume: z.string().optional(),
  partition: z.tuple([z.array(z.string()).min(1), z.array(z.string()).min(1)]).optional(),
  heal: z.literal(true).optional(),
  add_validator: z.string().optional(),
  remove_validator: z.string().optional()
}).strict()
const ACTIONS = ['kill', 'stop', 'start', 'pause', 'resume', 'partition', 'heal', 'add_validator', 'remove_validator'] as const

export const ManifestSchema = z.object({
  validators: Names.optional(),
  observers: Names.optional(),
  standby: Names.optional(),
  heartbeat_ms: z.number().int().min(50).max(3600_000).optional(),
  fault: z.array(Fault).max(1000).default([])
}).strict()

export type Manifest = z.infer<typeof ManifestSchema>
export type FaultStep = z.infer<typeof Fault>

/** Parses and checks a manifest; errors name the file and the offending field or fault. */
export function parseManifest (text: string, file = 'manifest'): Manifest {
  let raw: unknown
  try {
    raw = parseToml(text)
  } catch (err) {
    throw new Error(`${file}: not valid TOML: ${(err as Error).message}`)
  }
  const r = ManifestSchema.safeParse(raw)
  if (!r.success) throw new Error(`${file}: ${r.error.issues.map(i => `${i.path.join('.') || '(top)'}: ${i.message}`).join('; ')}`)
  for (const [i, f] of r.data.fault.entries()) {
    const actions = ACTIONS.filter(a => f[a] !== undefined)
    if (actions.length !== 1) throw new Error(`${file}: fault ${i + 1} needs exactly one action (${ACTIONS.join(', ')}), got ${actions.length === 0 ? 'none' : actions.join(', ')}`)
    if ((f.at_height === undefined) === (f.after_ms === undefined)) throw new Error(`${file}: fault ${i + 1} needs exactly one trigger: at_height or after_ms`)
  }
  return r.data
}

export async function loadManifest (file: string): Promise<Manifest> {
  return parseManifest(await readFile(file, 'utf8'), file)
}

/** "kill hospital-b", "partition hospital-a+hospital-b | hospital-c+ministry", ... */
export function describeFault (f: FaultStep): string {
  const when = f.at_height !== undefined ? `at height ${f.at_height}` : `${f.after_ms} ms after the previous step`
  if (f.partition !== undefined) return `partition ${f.partition[0].join('+')} | ${f.partition[1].join('+')} (${when})`
  if (f.heal === true) return `heal (${when})`
  const a = ACTIONS.find(x => f[x] !== undefined)!
  return `${a.replace('_', ' ')} ${String(f[a])} (${when})`
}

/**
 * Runs the fault schedule in order on `net`: each step waits for its trigger (any node up at
 * `at_height`, or `after_ms` after the previous step), then acts. `log` hears each step.
 */
export async function runSchedule (net: Devnet, faults: FaultStep[], log: (line: string) => void, opts: { heightTimeoutMs?: number, signal?: AbortSignal } = {}): Promise<void> {
  const aborted = (): boolean => opts.signal?.aborted ?? false
  for (const f of faults) {
    if (aborted()) return
    if (f.at_height !== undefined) await net.waitForHeight(f.at_height, { all: false, timeoutMs: opts.heightTimeoutMs ?? 10 * 60_000 })
    else await new Promise(resolve => setTimeout(resolve, f.after_ms))
    if (aborted()) return
    log(describeFault(f))
    if (f.kill !== undefined) await net.node(f.kill).kill()
    else if (f.stop !== undefined) await net.node(f.stop).stop()
    else if (f.start !== undefined) await net.node(f.start).start()
    else if (f.pause !== undefined) net.node(f.pause).pause()
    else if (f.resume !== undefined) net.node(f.resume).resume()
    else if (f.partition !== undefined) await net.partition(f.partition[0], f.partition[1])
    else if (f.heal === true) await net.heal()
    else if (f.add_validator !== undefined) log(`  in effect at height ${(await net.addValidator(f.add_validator)).effective}`)
    else if (f.remove_validator !== undefined) log(`  in effect at height ${(await net.removeValidator(f.remove_validator)).effective}`)
  }
}
