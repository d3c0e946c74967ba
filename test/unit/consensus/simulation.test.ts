import test from 'ava'
import { proposalSignBytes, voteSignBytes } from '../../../src/chain/hashing.ts'
import type { Evidence } from '../../../src/chain/types.ts'
import { verifySignature } from '../../../src/crypto/ed25519.ts'
import { SIM_CHAIN_ID } from './sim/messages.ts'
import { runOutage } from './sim/outage.ts'
import { runSimulation, type SimReport } from './sim/scenario.ts'

/**
 * The deterministic simulation (sim/): thousands of seeded runs of N in {1, 4, 7} validators over
 * a hostile-then-healed network, with crashes, restarts and a Byzantine validator, checking
 * SAFETY, DOUBLE-SIGN, EVIDENCE and LIVENESS (sim/world.ts and sim/scenario.ts say exactly how).
 *
 *   MEDLEDGER_SIM_SEEDS=20000 npx ava test/unit/consensus/simulation.test.ts   more seeds
 *   MEDLEDGER_SIM_SEED=1234 MEDLEDGER_SIM_TRACE=1 npx ava ...                  replay one, traced
 */

const DEFAULT_SEEDS = 5000
/** Seeds per ava test: each reports within ava's inactivity timeout even with MEDLEDGER_SIM_SEEDS raised. */
const CHUNK = 1000
const OUTAGE_SEEDS = 25

function seedsToRun (): number[] {
  const one = process.env.MEDLEDGER_SIM_SEED
  if (one !== undefined && one !== '') return [Number(one)]
  const count = Number(process.env.MEDLEDGER_SIM_SEEDS ?? DEFAULT_SEEDS)
  return Array.from({ length: count }, (_, i) => i)
}

function replayLine (r: SimReport): string {
  return `MEDLEDGER_SIM_SEED=${r.seed} (n=${r.n}, byzantine=${r.byzantine}, gst=${r.gst}): ${r.violations.slice(0, 3).map(v => v.slice(0, 800)).join(' | ')}`
}

/** Evidence must convince someone holding only the public keys: verified here from scratch. */
function verifiesFromScratch (e: Evidence): boolean {
  return e.kind === 'vote'
    ? verifySignature(e.a.validator, voteSignBytes(SIM_CHAIN_ID, e.a), e.a.signature) && verifySignature(e.b.validator, voteSignBytes(SIM_CHAIN_ID, e.b), e.b.signature)
    : verifySignature(e.a.proposer, proposalSignBytes(SIM_CHAIN_ID, e.a), e.a.signature) && verifySignature(e.b.proposer, proposalSignBytes(SIM_CHAIN_ID, e.b), e.b.signature)
}

const allSeeds = seedsToRun()
for (let from = 0; from < allSeeds.length; from += CHUNK) {
  const seeds = allSeeds.slice(from, from + CHUNK)
  const title = seeds.length === 1 ? `seed ${seeds[0]}` : `seeds ${seeds[0]}..${seeds[seeds.length - 1]}`
  test(`simulation, ${title}: safety, double-sign guard, evidence and liveness hold`, t => {
    const failures: string[] = []
    const totals = { byN: { 1: 0, 4: 0, 7: 0 } as Record<number, number>, withByzantine: 0, evidenceSeeds: 0, equivocations: 0, restarts: 0, guardRefusals: 0, synced: 0, partitions: 0, multiRoundSeeds: 0, maxRound: 0, heights: 0 }
    const started = performance.now()
    for (const seed of seeds) {
      const r = runSimulation(seed)
      totals.byN[r.n]++
      if (r.byzantine >= 0) totals.withByzantine++
      if (r.stats.evidenceHeld > 0) totals.evidenceSeeds++
      totals.equivocations += r.stats.equivocations
      totals.restarts += r.stats.restarts
      totals.guardRefusals += r.stats.guardRefusals
      totals.synced += r.stats.synced
      totals.partitions += r.stats.partitions
      if (r.maxRound >= 2) totals.multiRoundSeeds++
      totals.maxRound = Math.max(totals.maxRound, r.maxRound)
      totals.heights += Math.max(...r.heights)
      if (r.sampleEvidence !== undefined && !verifiesFromScratch(r.sampleEvidence)) r.violations.push('EVIDENCE: a sampled piece of evidence does not verify from scratch')
      if (r.violations.length > 0) {
        failures.push(replayLine(r))
        console.error(`simulation failure, replay with ${replayLine(r)}`)
      }
    }
    t.log(`${seeds.length} seeds in ${Math.round(performance.now() - started)} ms: ${JSON.stringify(totals)}`)
    t.deepEqual(failures, [])

    // Over a full chunk, the faults the checks are about did happen.
    if (seeds.length >= CHUNK) {
      t.true(totals.byN[1] > 0 && totals.byN[4] > 0 && totals.byN[7] > 0)
      t.true(totals.evidenceSeeds > seeds.length / 10, 'equivocations seen and evidenced')
      t.true(totals.restarts > seeds.length / 10, 'restarts from disk')
      t.true(totals.guardRefusals > 0, 'the double-sign guard had to refuse')
      t.true(totals.synced > 0, 'nodes caught up by sync')
      t.true(totals.multiRoundSeeds > seeds.length / 50, 'heights that needed several rounds')
    }
  })
}

test('simulation: a seed replays exactly', t => {
  for (const seed of [7, 12, 23, 1001]) {
    const a = runSimulation(seed)
    const b = runSimulation(seed)
    t.deepEqual({ ...a, sampleEvidence: undefined }, { ...b, sampleEvidence: undefined })
  }
})

test('N = 4: two validators down for 60 rounds\' worth of time, then one returns: the chain resumes by itself', t => {
  const one = process.env.MEDLEDGER_SIM_SEED
  const seeds = one !== undefined && one !== '' ? [Number(one)] : Array.from({ length: OUTAGE_SEEDS }, (_, i) => i)
  const failures: string[] = []
  let slowest = 0
  for (const seed of seeds) {
    const r = runOutage(seed, 60)
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
