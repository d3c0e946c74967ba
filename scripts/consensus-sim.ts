import { parseArgs } from 'node:util'
import { runSimulation } from '../test/unit/consensus/sim/scenario.ts'
import { addReport, newTotals } from '../test/unit/consensus/sim/totals.ts'

/**
 * The deterministic simulation of the real ConsensusDriver without ava, for long runs:
 *   npm run test:consensus-sim -- --seeds 100000 [--from 0]
 *   npm run test:consensus-sim -- --seed 1234          one seed, its report in full
 * Exits 1 when any seed breaks an invariant, printing its replay line.
 */
const { values } = parseArgs({ options: { seeds: { type: 'string', default: '10000' }, from: { type: 'string', default: '0' }, seed: { type: 'string' } } })

if (values.seed !== undefined) {
  const r = await runSimulation(Number(values.seed))
  console.log(JSON.stringify(r, null, 2))
  process.exit(r.violations.length > 0 ? 1 : 0)
}
const from = Number(values.from)
const count = Number(values.seeds)
const totals = newTotals()
const started = performance.now()
for (let seed = from; seed < from + count; seed++) {
  const r = await runSimulation(seed)
  addReport(totals, r)
  if (r.violations.length > 0) console.error(totals.failures.at(-1))
  if ((seed - from + 1) % 1000 === 0) console.log(`${seed - from + 1} seeds, ${totals.failures.length} failing, ${Math.round((performance.now() - started) / 1000)} s`)
}
console.log(JSON.stringify({ ...totals, failures: totals.failures.length, seconds: Math.round((performance.now() - started) / 1000) }))
process.exit(totals.failures.length > 0 ? 1 : 0)
