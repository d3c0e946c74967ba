import type { SimReport } from './scenario.ts'

/** Sums of many seeds' reports (sim/suite.ts, scripts/consensus-sim.ts), and the line that replays a failing seed. */

export function replayLine (r: SimReport): string {
  return `MEDLEDGER_SIM_SEED=${r.seed} (n=${r.n}, byzantine=${r.byzantine}, gst=${r.gst}): ${r.violations.slice(0, 3).map(v => v.slice(0, 800)).join(' | ')}`
}

export interface Totals {
  seeds: number
  byN: Record<number, number>
  withByzantine: number
  evidenceSeeds: number
  restarts: number
  crashes: number
  synced: number
  multiRoundSeeds: number
  maxRound: number
  heights: number
  failures: string[]
}

export function newTotals (): Totals {
  return { seeds: 0, byN: { 1: 0, 4: 0, 7: 0 }, withByzantine: 0, evidenceSeeds: 0, restarts: 0, crashes: 0, synced: 0, multiRoundSeeds: 0, maxRound: 0, heights: 0, failures: [] }
}

export function addReport (t: Totals, r: SimReport): void {
  t.seeds++
  t.byN[r.n]++
  if (r.byzantine >= 0) t.withByzantine++
  if (r.stats.evidenceHeld > 0) t.evidenceSeeds++
  t.restarts += r.stats.restarts
  t.crashes += r.stats.crashes
  t.synced += r.stats.synced
  if (r.maxRound >= 2) t.multiRoundSeeds++
  t.maxRound = Math.max(t.maxRound, r.maxRound)
  t.heights += Math.max(...r.heights)
  if (r.violations.length > 0) t.failures.push(replayLine(r))
}
