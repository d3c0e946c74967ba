import test from 'ava'
import { runOutage } from './outage.ts'
import { runSimulation } from './scenario.ts'
import { addReport, newTotals, replayLine } from './totals.ts'

/**
 * The deterministic simulation of the real ConsensusDriver as ava tests (sim/scenario.ts says what
 * one seed does and checks). The default seeds are split into SHARDS test files so that ava runs
 * them in parallel processes; each file registers its shard's chunks.
 *
 *   MEDLEDGER_SIM_SEEDS=100000 npx ava test/unit/consensus/simulation*.test.ts   more seeds
 *   npm run test:consensus-sim -- --seeds 100000                                   the same, without ava
 *   MEDLEDGER_SIM_SEED=1234 npx ava test/unit/consensus/simulation.test.ts        replay one
 */

export const DEFAULT_SEEDS = 10_000
export const SHARDS = 2
/** Seeds per ava test: each reports within ava's timeout even on a busy machine. */
const CHUNK = 250
const OUTAGE_SEEDS = 10

function seedsToRun (shard: number): number[] {
  const one = process.env.MEDLEDGER_SIM_SEED
  if (one !== undefined && one !== '') return shard === 0 ? [Number(one)] : []
  const count = Number(process.env.MEDLEDGER_SIM_SEEDS ?? DEFAULT_SEEDS)
  // In interleaved runs of ten, so that both halves get every kind of seed (N follows seed % 10).
  return Array.from({ length: count }, (_, i) => i).filter(i => Math.floor(i / 10) % SHARDS === shard)
}

export function registerSimulationTests (shard: number): void {
  const seeds = seedsToRun(shard)
  // ava refuses a test file without tests: say where a single replayed seed runs instead.
  if (seeds.length === 0) test('this shard has no seeds to run (a single seed runs in simulation.test.ts)', t => { t.pass() })
  for (let from = 0; from < seeds.length; from += CHUNK) {
    const chunk = seeds.slice(from, from + CHUNK)
    const title = chunk.length === 1 ? `seed ${chunk[0]}` : `seeds ${chunk[0]}..${chunk[chunk.length - 1]} (every other ten)`
    test.serial(`real drivers, ${title}: safety, double-sign guard, evidence and liveness hold`, async t => {
      const totals = newTotals()
      const started = performance.now()
      const cpu = process.cpuUsage()
      for (const seed of chunk) {
        const r = await runSimulation(seed)
        addReport(totals, r)
        if (r.violations.length > 0) console.error(`simulation failure, replay with ${replayLine(r)}`)
      }
      const used = process.cpuUsage(cpu)
      t.log(`${chunk.length} seeds in ${Math.round(performance.now() - started)} ms (${((used.user + used.system) / 1000 / chunk.length).toFixed(1)} ms CPU a seed): ${JSON.stringify({ ...totals, failures: totals.failures.length })}`)
      t.deepEqual(totals.failures, [])
      // Over a full chunk, the faults the checks are about did happen.
      if (chunk.length >= CHUNK) {
        t.true(totals.byN[1] > 0 && totals.byN[4] > 0 && totals.byN[7] > 0)
        t.true(totals.evidenceSeeds > chunk.length / 10, 'equivocations seen and evidenced')
        t.true(totals.crashes > chunk.length / 2, 'crashes')
        t.true(totals.restarts > chunk.length / 2, 'restarts from disk')
        t.true(totals.synced > 0, 'nodes caught up by sync')
        t.true(totals.multiRoundSeeds > chunk.length / 50, 'heights that needed several rounds')
      }
    })
  }
  if (shard !== 0) return

  test.serial('a seed replays exactly', async t => {
    for (const seed of [7, 12, 23, 1001]) {
      const a = await runSimulation(seed)
      const b = await runSimulation(seed)
      t.deepEqual(a, b)
    }
  })

  test.serial('N = 4: two validators down for 60 rounds\' worth of time, then one returns: the chain resumes by itself', async t => {
    const one = process.env.MEDLEDGER_SIM_SEED
    const seeds = one !== undefined && one !== '' ? [Number(one)] : Array.from({ length: OUTAGE_SEEDS }, (_, i) => i)
    const failures: string[] = []
    let slowest = 0
    for (const seed of seeds) {
      const r = await runOutage(seed, 60)
      slowest = Math.max(slowest, r.resumedAfterMs)
      // the survivors held still: no decision and no round churn without a quorum
      t.deepEqual(r.roundsDuringOutage.settled, r.roundsDuringOutage.atReturn)
      t.true(r.outageMs >= 60 * 400)
      if (r.violations.length > 0) {
        const line = `MEDLEDGER_SIM_SEED=${seed} (outage): ${r.violations.slice(0, 3).map(v => v.slice(0, 800)).join(' | ')}`
        failures.push(line)
        console.error(`outage failure, replay with ${line}`)
      }
    }
    t.log(`${seeds.length} outages; slowest resumption ${Math.round(slowest)} ms of virtual time after the return`)
    t.deepEqual(failures, [])
  })
}
