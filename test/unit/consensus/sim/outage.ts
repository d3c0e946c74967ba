import { duration } from '../../../../src/consensus/timeouts.ts'
import { Prng } from './prng.ts'
import { roundsBudget } from './scenario.ts'
import { HEARTBEAT_MS, REBROADCAST_MS, SIM_TIMEOUTS, STATUS_MS, SYNC_MS, SimWorld, type NetworkChaos } from './world.ts'

const CALM: NetworkChaos = { drop: 0, dropPrecommit: 0, dropCatchUp: 0, isolateDecider: 0, dup: 0, maxDelay: 30 }

/**
 * N = 4 real drivers, all honest, a calm network. After a few heights two validators crash at a
 * random moment mid-height (between events or at one of their next store calls) and stay down
 * for `outageRounds` rounds' worth of time; then one of them restarts from its disk. The two
 * survivors must neither decide nor churn through rounds while they lack a quorum (2 of 4 cannot
 * make 2f+1), and once the third is back the chain must resume by itself: RESUME_HEIGHTS new
 * heights within n + 3 rounds each (design.md: "with 2 down it halts safely and resumes by itself
 * when one returns").
 */

const RESUME_HEIGHTS = 3

export interface OutageReport {
  seed: number
  violations: string[]
  roundsDuringOutage: { settled: number[], atReturn: number[] }
  outageMs: number
  resumedAfterMs: number
}

export async function runOutage (seed: number, outageRounds = 60): Promise<OutageReport> {
  const prng = new Prng(seed ^ 0x0a7a6e)
  const world = new SimWorld({ seed, n: 4, byzantine: -1, observer: false, gst: 0, chaos: CALM })
  const { nodes } = world
  for (const x of nodes) world.boot(x.id)

  const warmUp = 2 + prng.int(3)
  await world.runUntil(() => nodes.every(x => x.height >= warmUp), () => 60_000)
  const crashAt = world.now + prng.int(400)
  await world.runUntil(() => false, () => crashAt)
  const order = [0, 1, 2, 3].sort(() => prng.next() - 0.5)
  const down = order.slice(0, 2)
  const survivors = order.slice(2).map(i => nodes[i])
  for (const id of down) {
    if (prng.chance(0.5)) world.crash(id)
    else world.armCrash(id, { countdown: 1 + prng.int(6), applied: prng.chance(0.5) })
  }
  const crashedAt = world.now

  // Let in-flight messages (and armed crashes) land, then watch the survivors for the rest of the outage.
  const roundTime = duration('propose', 0, SIM_TIMEOUTS) + duration('prevote', 0, SIM_TIMEOUTS) + duration('precommit', 0, SIM_TIMEOUTS)
  const outageMs = outageRounds * roundTime
  await world.runUntil(() => false, () => crashedAt + 2 * roundTime + HEARTBEAT_MS)
  for (const id of down) world.crash(id)
  await world.runUntil(() => false, () => crashedAt + 4 * roundTime + HEARTBEAT_MS)
  const settledHeights = survivors.map(x => x.height)
  const settled = survivors.map(x => x.round)
  await world.runUntil(() => false, () => crashedAt + outageMs)
  const atReturn = survivors.map(x => x.round)
  survivors.forEach((x, i) => {
    if (x.height !== settledHeights[i]) world.violations.push(`SAFETY: node ${x.id} decided height ${x.height} with 2 of 4 validators up`)
  })
  if (atReturn.some((r, i) => r !== settled[i])) world.violations.push(`ROUNDS: without a quorum the survivors still changed rounds (${settled.join(',')} -> ${atReturn.join(',')})`)

  const returned = down[prng.int(2)]
  world.boot(returned)
  const returnedAt = world.now
  const live = [...survivors, nodes[returned]]
  const target = Math.max(...live.map(x => x.height)) + RESUME_HEIGHTS
  const r0 = Math.max(...live.map(x => x.round))
  const deadline = returnedAt + 2 * (STATUS_MS + SYNC_MS) + REBROADCAST_MS + roundsBudget(r0, 4 + 3) + (RESUME_HEIGHTS - 1) * (HEARTBEAT_MS + roundsBudget(0, 4 + 3))
  const resumed = await world.runUntil(() => live.every(x => x.height >= target), () => deadline)
  if (!resumed) world.violations.push(`LIVENESS: ${deadline - returnedAt} ms after validator ${returned} returned, not all of ${live.map(x => x.id).join(',')} reached height ${target}: ${world.describe()}`)

  return { seed, violations: world.violations, roundsDuringOutage: { settled, atReturn }, outageMs, resumedAfterMs: world.now - returnedAt }
}
