import { duration } from '../../../../src/consensus/timeouts.ts'
import { Prng } from './prng.ts'
import { roundsBudget } from './scenario.ts'
import { CALM, GOSSIP_MS, SIM_TIMEOUTS, SimWorld } from './world.ts'

/**
 * N = 4, all honest, a calm network. After a few heights two validators crash at a random moment
 * mid-height and stay down for `outageRounds` rounds' worth of time; then one of them restarts
 * from its disk. Nobody else restarts. The two survivors must neither decide nor churn through
 * rounds while they lack a quorum (2 of 4 cannot make 2f+1), and once the third is back the chain
 * must resume by itself: RESUME_HEIGHTS new heights within n + 3 rounds each.
 */

const RESUME_HEIGHTS = 3

export interface OutageReport {
  seed: number
  violations: string[]
  down: number[]
  returned: number
  heightAtCrash: number
  roundsDuringOutage: { settled: number[], atReturn: number[] }
  outageMs: number
  resumedAfterMs: number
  heights: number[]
}

export function runOutage (seed: number, outageRounds = 60): OutageReport {
  const prng = new Prng(seed ^ 0x0a7a6e)
  const world = new SimWorld({ seed, n: 4, byzantine: -1, observer: false, gst: 0, chaos: CALM })
  const { nodes } = world
  for (const x of nodes) x.boot()

  const warmUp = 2 + prng.int(3)
  world.runUntil(() => nodes.every(x => x.committedHeight >= warmUp), () => 60_000)
  // crash two validators at a random point of the next height
  const crashAt = world.now + prng.int(400)
  world.runUntil(() => false, () => crashAt)
  const order = [0, 1, 2, 3].sort(() => prng.next() - 0.5)
  const down = order.slice(0, 2)
  const survivors = order.slice(2).map(i => nodes[i])
  for (const id of down) world.crash(id, prng.pick(['between-events', 'after-snapshot'] as const))
  const crashedAt = world.now
  const heightAtCrash = Math.max(...survivors.map(x => x.committedHeight))

  // Let in-flight messages land, then watch the survivors for the rest of the outage.
  const roundTime = duration('propose', 0, SIM_TIMEOUTS) + duration('prevote', 0, SIM_TIMEOUTS) + duration('precommit', 0, SIM_TIMEOUTS)
  const outageMs = outageRounds * roundTime
  world.runUntil(() => false, () => crashedAt + 2 * roundTime)
  const settledHeights = survivors.map(x => x.committedHeight)
  const settled = survivors.map(x => x.currentRound)
  world.runUntil(() => false, () => crashedAt + outageMs)
  const atReturn = survivors.map(x => x.currentRound)
  survivors.forEach((x, i) => {
    if (x.committedHeight !== settledHeights[i]) world.violations.push(`SAFETY: node ${x.id} decided height ${x.committedHeight} with 2 of 4 validators up`)
  })
  if (atReturn.some((r, i) => r !== settled[i])) world.violations.push(`ROUNDS: without a quorum the survivors still changed rounds (${settled.join(',')} -> ${atReturn.join(',')})`)

  const returned = down[prng.int(2)]
  nodes[returned].restart()
  const returnedAt = world.now
  const live = [...survivors, nodes[returned]]
  const target = Math.max(...live.map(x => x.committedHeight)) + RESUME_HEIGHTS
  const r0 = Math.max(...live.map(x => x.currentRound))
  const deadline = returnedAt + 4 * GOSSIP_MS + roundsBudget(r0, 4 + 3) + (RESUME_HEIGHTS - 1) * roundsBudget(0, 4 + 3)
  const resumed = world.runUntil(() => live.every(x => x.committedHeight >= target), () => deadline)
  if (!resumed) world.violations.push(`LIVENESS: ${deadline - returnedAt} ms after validator ${returned} returned, not all of ${live.map(x => x.id).join(',')} reached height ${target}: ${world.describe()}`)
  for (const x of survivors) if (x.stats.restarts > 0) world.violations.push(`node ${x.id} was restarted`)
  world.finalChecks(live)

  return {
    seed,
    violations: world.violations,
    down,
    returned,
    heightAtCrash,
    roundsDuringOutage: { settled, atReturn },
    outageMs,
    resumedAfterMs: world.now - returnedAt,
    heights: nodes.map(x => x.committedHeight)
  }
}
