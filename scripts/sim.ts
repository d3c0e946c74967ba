/**
 * The fault-injection simulation at full length (docs/simulation.md):
 *
 *   npm run test:sim                       every scenario at full length, then a 10-minute soak
 *   npm run test:sim -- --soak 30          a 30-minute soak (--soak 0 leaves it out)
 *   npm run test:sim -- --short            the short form `npm test` runs, with the summary table
 *   npm run test:sim -- --match 'sim 4*'   one scenario (ava's --match)
 *
 * Other options: --fuzz-runs N, --kills N, --seed N (replay a fault schedule), --keep (keep every
 * devnet directory), --log-level debug (daemon logs), --quiet (no live progress), --report FILE.
 * Runs ava on test/sim with MEDLEDGER_SIM_* set, then prints the summary table (scenario, faults
 * injected, records acknowledged, records lost, time to recover, honest memory before and under an
 * attack, duration) and writes it as JSON (`attacks` lists the insider tier's scenarios alone).
 */
import { spawn } from 'node:child_process'
import { readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { ScenarioReport } from '../test/helpers/sim.ts'

const root = fileURLToPath(new URL('..', import.meta.url))
const args = process.argv.slice(2)

function take (name: string): string | undefined {
  const i = args.indexOf(name)
  if (i < 0) return undefined
  const v = args[i + 1]
  if (v === undefined || v.startsWith('--')) usage(`${name} needs a value`)
  args.splice(i, 2)
  return v
}

function flag (name: string): boolean {
  const i = args.indexOf(name)
  if (i < 0) return false
  args.splice(i, 1)
  return true
}

function usage (msg?: string): never {
  if (msg !== undefined) process.stderr.write(`sim: ${msg}\n`)
  process.stderr.write('usage: npm run test:sim -- [--short] [--soak MINUTES] [--match PATTERN] [--fuzz-runs N] [--kills N] [--seed N] [--keep] [--log-level LEVEL] [--quiet] [--report FILE]\n')
  process.exit(2)
}

if (flag('--help') || flag('-h')) usage()
const short = flag('--short')
const soak = take('--soak') ?? (short ? '0' : '10')
const match = take('--match')
const fuzzRuns = take('--fuzz-runs')
const kills = take('--kills')
const seed = take('--seed')
const logLevel = take('--log-level')
const keep = flag('--keep')
const quiet = flag('--quiet')
const reportFile = take('--report') ?? join(tmpdir(), 'medledger-sim-report.json')
if (args.length > 0) usage(`unknown arguments: ${args.join(' ')}`)
for (const [name, v] of [['--soak', soak], ['--fuzz-runs', fuzzRuns], ['--kills', kills], ['--seed', seed]] as const) {
  if (v !== undefined && !/^\d+(\.\d+)?$/.test(v)) usage(`${name} takes a number, got "${v}"`)
}

const lines = join(tmpdir(), `medledger-sim-${process.pid}.jsonl`)
await rm(lines, { force: true })
const env: NodeJS.ProcessEnv = {
  ...process.env,
  MEDLEDGER_SIM_LONG: short ? '0' : '1',
  MEDLEDGER_SIM_SOAK_MINUTES: soak,
  MEDLEDGER_SIM_REPORT: lines,
  MEDLEDGER_SIM_VERBOSE: quiet ? '0' : '1',
  ...(fuzzRuns !== undefined ? { MEDLEDGER_SIM_FUZZ_RUNS: fuzzRuns } : {}),
  ...(kills !== undefined ? { MEDLEDGER_SIM_KILLS: kills } : {}),
  ...(seed !== undefined ? { MEDLEDGER_SIM_SEED: seed } : {}),
  ...(keep ? { MEDLEDGER_SIM_KEEP: '1' } : {}),
  ...(logLevel !== undefined ? { MEDLEDGER_SIM_LOG_LEVEL: logLevel } : {})
}

const started = Date.now()
process.stderr.write(`sim: ${short ? 'short' : 'full-length'} run${Number(soak) > 0 ? `, soak ${soak} min` : ''}${match !== undefined ? `, only ${match}` : ''}\n`)
const ava = join(root, 'node_modules', 'ava', 'entrypoints', 'cli.mjs')
const avaArgs = [ava, 'test/sim/sim.test.ts', '--serial', '--verbose', '--timeout=30m', ...(match !== undefined ? ['--match', match] : [])]
const code = await new Promise<number>(resolve => {
  const child = spawn(process.execPath, avaArgs, { cwd: root, env, stdio: 'inherit' })
  const forward = (signal: NodeJS.Signals): void => { child.kill(signal) }
  process.on('SIGINT', forward)
  process.on('SIGTERM', forward)
  child.on('exit', (c, signal) => { resolve(c ?? (signal !== null ? 1 : 0)) })
})

const rows = (await readFile(lines, 'utf8').catch(() => '')).split('\n').filter(l => l !== '').map(l => JSON.parse(l) as ScenarioReport)
await rm(lines, { force: true })
const secs = (ms: number | undefined): string => ms === undefined ? '-' : (ms / 1000).toFixed(1)
// The insider tier's scenarios report honest daemons' memory: the highest baseline and peak (MiB) and the worst ratio.
const rss = (r: ScenarioReport): string[] => r.rss === undefined || r.rss.length === 0
  ? ['-', '-', '-']
  : [Math.max(...r.rss.map(v => v.baselineMiB)).toFixed(0), Math.max(...r.rss.map(v => v.peakMiB)).toFixed(0), `x${Math.max(...r.rss.map(v => v.ratio)).toFixed(2)}`]
const table = [
  ['scenario', 'faults', 'acked', 'lost', 'recover s', 'rss base', 'rss peak', 'rss x', 'took s', 'result'],
  ...rows.map(r => [r.scenario, String(r.faults), String(r.acked), String(r.lost), secs(r.recoveryMs), ...rss(r), secs(r.durationMs), r.passed === true ? 'pass' : r.knownBug !== undefined ? 'known bug' : 'FAIL'])
]
const widths = table[0].map((_, c) => Math.max(...table.map(row => row[c].length)))
const out = table.map(row => row.map((cell, c) => c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c])).join('  '))
out.splice(1, 0, widths.map(w => '-'.repeat(w)).join('  '))
process.stdout.write(`\n${out.join('\n')}\n\n`)
for (const r of rows) for (const n of r.notes) process.stdout.write(`  ${r.scenario}: ${n}\n`)
const lost = rows.reduce((n, r) => n + r.lost, 0)
// The attack scenarios (insider tier) on their own: lost records and honest memory under attack against the baseline.
const attacks = rows.filter(r => r.rss !== undefined).map(r => ({ scenario: r.scenario, passed: r.passed === true, lost: r.lost, acked: r.acked, rss: r.rss }))
const summary = { mode: short ? 'short' : 'long', soakMinutes: Number(soak), startedAt: new Date(started).toISOString(), durationMs: Date.now() - started, avaExitCode: code, recordsLost: lost, attacks, scenarios: rows }
await writeFile(reportFile, JSON.stringify(summary, null, 2) + '\n')
process.stdout.write(`\nsim: ${rows.length} scenarios reported, ${rows.filter(r => r.passed !== true && r.knownBug === undefined).length} failed, ${rows.filter(r => r.passed !== true && r.knownBug !== undefined).length} known bugs reproduced, ${lost} acknowledged records lost, ${secs(Date.now() - started)} s; report in ${reportFile}\n`)
process.exit(code !== 0 ? code : (lost > 0 ? 1 : 0))
