import { quorum } from '../../../../src/chain/quorum.ts'
import type { Evidence } from '../../../../src/chain/types.ts'
import { duration } from '../../../../src/consensus/timeouts.ts'
import { Prng } from './prng.ts'
import type { CrashPoint } from './node.ts'
import type { ByzantineNode } from './byzantine.ts'
import { DELTA_AFTER_GST, GOSSIP_MS, SIM_TIMEOUTS, SimWorld, type NetworkChaos } from './world.ts'

/**
 * One seeded run: N validators (N from the seed: 1, 4 or 7) and maybe an observer, a network that
 * is hostile until GST, partitions that heal, crashes and restarts (some at the worst moment: after
 * the snapshot or the guard reached disk but before the message left), and, when N >= 4, often one
 * Byzantine validator. At GST the network heals and every crashed node restarts, except at most
 * one honest validator that may stay down if the live honest ones still make a quorum.
 * LIVENESS: every live honest node then reaches LIVE_HEIGHTS more heights (at least height
 * MIN_TARGET_HEIGHT) by a deadline allowing n + 3 rounds per height, with every timeout of each
 * round, gossip periods and delivery delays (the first height starting from the highest round
 * reached before GST). SAFETY, DOUBLE-SIGN and EVIDENCE are checked by the world (world.ts).
 */

const LIVE_HEIGHTS = 2
const MIN_TARGET_HEIGHT = 3

export interface SimReport {
  seed: number
  n: number
  byzantine: number
  observer: boolean
  gst: number
  endTime: number
  /** The liveness deadline (virtual ms); endTime <= deadline when the run succeeded. */
  deadline: number
  events: number
  target: number
  heights: number[]
  maxRound: number
  violations: string[]
  /** One piece of evidence an honest node holds, if any: the test re-verifies it from scratch. */
  sampleEvidence: Evidence | undefined
  stats: { decided: number, synced: number, restarts: number, guardRefusals: number, evidenceHeld: number, equivocations: number, partitions: number, crashes: number }
}

/** N per seed: mostly 4, the smallest set with a fault to tolerate, then 7, then the trivial 1. */
export function validatorsForSeed (seed: number): number {
  const d = seed % 10
  return d === 0 ? 1 : d <= 6 ? 4 : 7
}

export function runSimulation (seed: number): SimReport {
  const prng = new Prng(seed ^ 0x5eed)
  const n = validatorsForSeed(seed)
  // One seed in five goes after the locks: a Byzantine validator always, a long bad period in
  // which deciders are cut off at once, messages are often lost, and precommits and catch-up
  // traffic mostly so. (Ignoring the lock of L23 then breaks safety in about 1 seed in 200.)
  const lockAttack = n >= 4 && prng.chance(0.2)
  const byz = n >= 4 && (lockAttack || prng.chance(0.75)) ? prng.int(n) : -1
  const observer = prng.chance(0.5)
  const gst = lockAttack ? prng.pick([5000, 8000]) : prng.pick([0, 500, 1500, 3000, 5000])
  const chaos: NetworkChaos = lockAttack
    ? { drop: prng.pick([0.2, 0.4]), dropPrecommit: prng.pick([0.3, 0.5]), dropCatchUp: 0.95, isolateDecider: 0.95, dup: 0, maxDelay: prng.pick([20, 100]) }
    : {
        drop: prng.pick([0, 0.05, 0.2, 0.5]),
        dropPrecommit: prng.pick([0, 0, 0.3, 0.7]),
        dropCatchUp: prng.pick([0, 0, 0.5, 0.9]),
        isolateDecider: prng.pick([0, 0, 0.3, 0.8]),
        dup: prng.pick([0, 0.05, 0.2]),
        maxDelay: prng.pick([20, 100, 400])
      }
  const world = new SimWorld({ seed, n, byzantine: byz, observer, gst, chaos })
  const { nodes } = world
  const ids = nodes.map(x => x.id)

  // ---- faults before GST: partitions, crashes with restarts, maybe one validator down for good
  if (gst > 0) {
    for (let i = prng.int(3); i > 0; i--) {
      const start = prng.int(gst)
      world.partition(start, Math.min(gst, start + 200 + prng.int(3000)), new Set(ids.filter(() => prng.chance(0.5))))
    }
    for (let i = prng.int(4); i > 0; i--) {
      const id = prng.int(ids.length)
      const at = prng.int(gst)
      const back = Math.min(gst, at + 100 + prng.int(3000))
      const point: CrashPoint = prng.pick(['between-events', 'after-snapshot', 'after-guard'] as const)
      world.at(at, () => world.crash(id, point))
      world.at(back, () => {
        if (downForGood.has(id)) return
        if (!nodes[id].up) nodes[id].restart()
        else nodes[id].pendingCrash = undefined
      })
    }
  }
  if (lockAttack) {
    // locked validators crash just after precommitting and come back soon: they must remember their lock
    for (let i = 1 + prng.int(4); i > 0; i--) {
      const id = prng.pick(world.honest.filter(x => x.id < n).map(x => x.id))
      const at = prng.int(gst)
      world.at(at, () => world.crash(id, 'after-precommit'))
      world.at(Math.min(gst, at + 300 + prng.int(1500)), () => {
        if (!nodes[id].up) nodes[id].restart()
        else nodes[id].pendingCrash = undefined
      })
    }
  }
  const downForGood = new Set<number>()
  const spareDown = n - quorum(n) - (byz >= 0 ? 1 : 0)
  if (spareDown > 0 && prng.chance(0.2)) {
    const id = prng.pick(world.honest.filter(x => x.id < n).map(x => x.id))
    downForGood.add(id)
    world.at(gst > 0 ? prng.int(gst) : 0, () => world.crash(id))
  }

  // ---- GST: everyone not down for good restarts; fix the liveness target and deadline
  const live = world.honest.filter(x => !downForGood.has(x.id))
  let target = Number.POSITIVE_INFINITY
  let deadline = Number.POSITIVE_INFINITY
  world.at(gst, () => {
    for (const x of nodes) {
      x.pendingCrash = undefined
      if (!x.up && !downForGood.has(x.id)) x.restart()
    }
    const base = Math.max(...live.map(x => x.committedHeight))
    target = Math.max(MIN_TARGET_HEIGHT, base + LIVE_HEIGHTS)
    const r0 = Math.max(...live.map(x => x.currentRound))
    const heightsLeft = target - Math.min(...live.map(x => x.committedHeight))
    deadline = gst + 4 * GOSSIP_MS + roundsBudget(r0, n + 3) + (heightsLeft - 1) * roundsBudget(0, n + 3)
  })

  for (const x of nodes) if (!(downForGood.has(x.id) && gst === 0)) x.boot()

  let maxRound = 0
  const reached = world.runUntil(() => {
    if ((world.events & 63) === 0) for (const x of live) if (x.up) maxRound = Math.max(maxRound, x.currentRound)
    return world.now >= gst && live.every(x => x.committedHeight >= target)
  }, () => deadline)
  if (!reached && world.now >= deadline) {
    world.violations.push(`LIVENESS: by t=${world.now} (GST ${gst}, deadline ${deadline}) not every live honest node reached height ${target}: ${world.describe()}`)
  }
  world.finalChecks(live)

  const sum = (f: (x: typeof nodes[number]) => number): number => nodes.reduce((a, x) => a + f(x), 0)
  return {
    seed,
    n,
    byzantine: byz,
    observer,
    gst,
    endTime: world.now,
    deadline,
    events: world.events,
    target,
    heights: nodes.map(x => x.committedHeight),
    maxRound,
    violations: world.violations,
    sampleEvidence: world.honest.find(x => x.disk.evidence.length > 0)?.disk.evidence[0],
    stats: {
      decided: sum(x => x.stats.decided),
      synced: sum(x => x.stats.synced),
      restarts: sum(x => x.stats.restarts),
      guardRefusals: sum(x => x.stats.guardRefusals),
      evidenceHeld: sum(x => x.id === byz ? 0 : x.disk.evidence.length),
      equivocations: byz >= 0 ? (nodes[byz] as ByzantineNode).equivocations : 0,
      partitions: world.partitionCount,
      crashes: world.crashes
    }
  }
}

/** Time for `rounds` rounds from round r0: every timeout of each round plus gossip and delivery slack. */
export function roundsBudget (r0: number, rounds: number): number {
  let t = 0
  for (let r = r0; r < r0 + rounds; r++) {
    t += duration('propose', r, SIM_TIMEOUTS) + duration('prevote', r, SIM_TIMEOUTS) + duration('precommit', r, SIM_TIMEOUTS)
    t += 2 * GOSSIP_MS + 6 * DELTA_AFTER_GST
  }
  return t
}
