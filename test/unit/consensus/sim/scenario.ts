import { quorum } from '../../../../src/chain/quorum.ts'
import { checkEvidence } from '../../../../src/chain/validate.ts'
import type { Evidence } from '../../../../src/chain/types.ts'
import { duration } from '../../../../src/consensus/timeouts.ts'
import { verifySignature } from '../../../../src/crypto/ed25519.ts'
import type { SignatureCheck } from '../../../../src/crypto/verify-pool.ts'
import { bytesEqual, toHex } from '../../../../src/encoding/bytes.ts'
import { Prng } from './prng.ts'
import { DELTA_AFTER_GST, HEARTBEAT_MS, REBROADCAST_MS, SIM_TIMEOUTS, STATUS_MS, SYNC_MS, SimWorld, type NetworkChaos, type SimNode } from './world.ts'

/**
 * One seeded run of real ConsensusDrivers (sim/world.ts): N validators (1, 4 or 7, from the seed)
 * and maybe an observer, a network hostile until GST, partitions that heal, crashes at any await
 * point of the store port (a write applied or not) and between events, restarts from the disk the
 * crash left, and, when N >= 4, often one Byzantine validator (a real driver that signs two
 * proposals and two votes at every step). At GST the network heals and every crashed node
 * restarts, except at most one honest validator that may stay down if the rest still make a
 * quorum. LIVENESS: every live honest node then reaches LIVE_HEIGHTS more heights (at least
 * MIN_TARGET_HEIGHT) by a deadline allowing n + 3 rounds per height with every timeout. SAFETY and
 * DOUBLE-SIGN are checked by the world as the run goes, agreement of the stored chains and the
 * evidence at the end.
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
  deadline: number
  events: number
  target: number
  heights: number[]
  maxRound: number
  violations: string[]
  stats: { synced: number, restarts: number, crashes: number, evidenceHeld: number, evidenceCommitted: number, partitions: number }
}

/** N per seed: mostly 4, the smallest set with a fault to tolerate, then 7, then the trivial 1. */
export function validatorsForSeed (seed: number): number {
  const d = seed % 10
  return d === 0 ? 1 : d <= 6 ? 4 : 7
}

export async function runSimulation (seed: number): Promise<SimReport> {
  const prng = new Prng(seed ^ 0x5eed)
  const n = validatorsForSeed(seed)
  // One seed in five goes after the locks: a Byzantine validator always, a long bad period in
  // which deciders are cut off at once, messages are often lost, precommits and catch-up mostly.
  const lockAttack = n >= 4 && prng.chance(0.2)
  const byz = n >= 4 && (lockAttack || prng.chance(0.6)) ? prng.int(n) : -1
  const observer = prng.chance(0.3)
  const gst = lockAttack ? prng.pick([3000, 5000]) : prng.pick([0, 500, 1500, 3000])
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
  const validatorIds = ids.filter(id => id < n)

  const downForGood = new Set<number>()
  const spareDown = n - quorum(n) - (byz >= 0 ? 1 : 0)
  if (spareDown > 0 && prng.chance(0.2)) {
    const id = prng.pick(validatorIds.filter(i => i !== byz))
    downForGood.add(id)
    world.at(gst > 0 ? prng.int(gst) : 0, () => world.crash(id))
  }
  const restart = (id: number): void => { if (!downForGood.has(id) && !nodes[id].up) world.boot(id) }

  // ---- faults before GST: partitions, crashes (between events or at the k-th store call from
  // now, the write applied or not) with restarts
  if (gst > 0) {
    for (let i = prng.int(3); i > 0; i--) {
      const start = prng.int(gst)
      world.partition(start, Math.min(gst, start + 200 + prng.int(3000)), new Set(ids.filter(() => prng.chance(0.5))))
    }
    const crashes = lockAttack ? 2 + prng.int(4) : prng.int(5)
    for (let i = crashes; i > 0; i--) {
      const id = lockAttack ? prng.pick(validatorIds.filter(x => x !== byz)) : prng.int(ids.length)
      const at = prng.int(gst)
      const back = Math.min(gst, at + 100 + prng.int(lockAttack ? 1500 : 3000))
      const now = prng.chance(0.25)
      const countdown = 1 + prng.int(12)
      const applied = prng.chance(0.5)
      world.at(at, () => { if (now) world.crash(id); else world.armCrash(id, { countdown, applied }) })
      world.at(back, () => { world.disarm(); restart(id) })
    }
  }

  // ---- GST: everyone not down for good restarts; fix the liveness target and deadline
  const live = world.honest.filter(x => !downForGood.has(x.id))
  let target = Number.POSITIVE_INFINITY
  let deadline = Number.POSITIVE_INFINITY
  world.at(gst, () => {
    world.disarm()
    for (const x of nodes) restart(x.id)
    const base = Math.max(...live.map(x => x.height))
    target = Math.max(MIN_TARGET_HEIGHT, base + LIVE_HEIGHTS)
    const r0 = Math.max(...live.map(x => x.round))
    const heightsLeft = target - Math.min(...live.map(x => x.height))
    deadline = gst + 2 * (STATUS_MS + SYNC_MS) + REBROADCAST_MS + roundsBudget(r0, n + 3) + (heightsLeft - 1) * (HEARTBEAT_MS + roundsBudget(0, n + 3))
  })

  for (const x of nodes) if (!(downForGood.has(x.id) && gst === 0)) world.boot(x.id)

  let maxRound = 0
  const reached = await world.runUntil(() => {
    if ((world.events & 31) === 0) for (const x of live) maxRound = Math.max(maxRound, x.round)
    return world.now >= gst && live.every(x => x.height >= target)
  }, () => deadline)
  if (!reached && world.now >= deadline) {
    world.violations.push(`LIVENESS: by t=${world.now} (GST ${gst}, deadline ${deadline}) not every live honest node reached height ${target}: ${world.describe()}`)
  }
  checkChainsAgree(live, world.violations)
  const evidence = checkHeldEvidence(world)

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
    heights: nodes.map(x => x.height),
    maxRound,
    violations: world.violations,
    stats: {
      synced: nodes.reduce((a, x) => a + x.stats.synced, 0),
      restarts: nodes.reduce((a, x) => a + x.stats.restarts, 0),
      crashes: world.crashes,
      evidenceHeld: evidence,
      evidenceCommitted: world.evidenceSeen,
      partitions: world.partitionCount
    }
  }
}

/** Every live honest node's stored chain is a prefix of the longest one. */
function checkChainsAgree (live: SimNode[], violations: string[]): void {
  const longest = live.reduce((a, x) => x.disk.blocks.length > a.disk.blocks.length ? x : a, live[0])
  for (const x of live) {
    x.disk.blocks.forEach((fb, i) => {
      if (fb.block.header.height !== i + 1) violations.push(`STORE: node ${x.id} holds height ${fb.block.header.height} at position ${i + 1}`)
      else if (!bytesEqual(fb.certificate.blockHash, longest.disk.blocks[i].certificate.blockHash)) violations.push(`SAFETY: nodes ${x.id} and ${longest.id} hold different blocks at height ${i + 1}`)
    })
  }
}

/**
 * Evidence an honest node holds (pending, or in a block) names the Byzantine validator only and
 * convinces anyone holding the public keys (checkEvidence, signatures verified). Returns how much.
 */
function checkHeldEvidence (world: SimWorld): number {
  const byzKey = world.byz >= 0 ? world.genesis.validators.keys[world.byz] : null
  let held = 0
  const seen = new Set<string>()
  for (const x of world.honest) {
    const all: Evidence[] = [...x.disk.pendingEvidence.values(), ...x.disk.blocks.flatMap(fb => fb.block.body.evidence)]
    for (const e of all) {
      held++
      const accused = e.kind === 'vote' ? e.a.validator : e.a.proposer
      if (byzKey === null || !bytesEqual(accused, byzKey)) { world.violations.push(`EVIDENCE: node ${x.id} holds evidence against honest validator ${toHex(accused).slice(0, 8)}`); continue }
      const key = toHex(e.a.signature)
      if (seen.has(key)) continue
      seen.add(key)
      try {
        const checks = checkEvidence(world.genesis.chainId, e, world.genesis.validators)
        // The first piece with real Ed25519 (it must convince someone holding only the public keys), the rest ideally.
        const verify = seen.size === 1 ? (c: SignatureCheck) => verifySignature(c.publicKey, c.message, c.signature) : (c: SignatureCheck) => world.signatures.check(c)
        if (!checks.every(verify)) world.violations.push(`EVIDENCE: node ${x.id} holds evidence whose signatures do not verify`)
      } catch (err) {
        world.violations.push(`EVIDENCE: node ${x.id} holds evidence checkEvidence refuses: ${(err as Error).message}`)
      }
    }
  }
  return held
}

/** Time for `rounds` rounds from round r0: every timeout of each round plus delivery and rebroadcast slack. */
export function roundsBudget (r0: number, rounds: number): number {
  let t = 0
  for (let r = r0; r < r0 + rounds; r++) {
    t += duration('propose', r, SIM_TIMEOUTS) + duration('prevote', r, SIM_TIMEOUTS) + duration('precommit', r, SIM_TIMEOUTS)
    t += 6 * DELTA_AFTER_GST
  }
  return t
}
