import type { ExecutionContext } from 'ava'
import { say, SimNet, LONG, finalChecks, len, scenario, seededRandom, sleep } from '../../helpers/sim.ts'
import { waitFor } from '../../helpers/devnet.ts'

/**
 * 1. kill -9 of a random validator, again and again, each time restarted: while it is down the
 * other three keep finalizing, after the restart it catches up, and nothing acknowledged is lost.
 */
export async function killRestart (t: ExecutionContext): Promise<void> {
  const kills = Number(process.env.MEDLEDGER_SIM_KILLS ?? len(3, 20))
  t.timeout(len(150_000, 30 * 60_000))
  await scenario(t, '1. kill -9 a random validator and restart', async r => {
    const rnd = seededRandom(t, 'kill-restart')
    const net = await SimNet.start(t, { validators: 4, observers: 1 })
    const load = net.load()
    await waitFor('a first acknowledged record', async () => load.acked.size > 0, 60_000)
    const recoveries: number[] = []
    for (let i = 0; i < kills; i++) {
      await sleep(rnd.int(300, len(1000, 3000)))
      const victim = rnd.pick(net.validators)
      const others = net.daemons.filter(d => d !== victim)
      const before = await net.maxHeight(others)
      await net.kill(victim)
      // Finality continues with 3 of 4: the others pass at least one more height while it is down.
      await net.waitHeight(before + 1, others.filter(d => d.node.role === 'validator'), 20_000)
      await sleep(rnd.int(0, 1500))
      const restartedAt = Date.now()
      await net.restart(victim)
      const target = await net.maxHeight(others)
      await net.waitHeight(target, [victim], 60_000)
      recoveries.push(Date.now() - restartedAt)
      say(t, `kill ${i + 1}/${kills}: ${victim.node.name} at height ${before}, caught up to ${target} ${Date.now() - restartedAt} ms after restart; ${load.acked.size} acked`)
    }
    r.faults = kills
    r.recoveryMs = Math.max(...recoveries)
    r.notes.push(`recovery (restart to caught up) ms: median ${median(recoveries)}, max ${r.recoveryMs}`, `load errors: ${load.errorSummary()}`)
    const res = await finalChecks(t, net, load, { expectNoEvidence: true })
    r.acked = res.acked
    r.lost = res.lost
    t.true(res.acked > 0)
  })
}

/**
 * 2. One of four validators down for a period: finality continues; the throughput with and without
 * it is reported. Down means frozen (SIGSTOP: its sockets stay open and it answers nothing, the
 * nastier case for its peers' send buffers) and, in the long form, also killed (kill -9).
 */
export async function oneDown (t: ExecutionContext): Promise<void> {
  const baselineMs = len(4_000, 30_000)
  const downMs = Number(process.env.MEDLEDGER_SIM_DOWN_MS ?? len(6_000, 180_000))
  const modes: Array<'frozen' | 'killed'> = LONG ? ['frozen', 'killed'] : ['frozen']
  t.timeout(modes.length * (baselineMs + downMs + 60_000) + 120_000)
  await scenario(t, '2. one of four validators down for a period', async r => {
    const rnd = seededRandom(t, 'one-down')
    const net = await SimNet.start(t, { validators: 4 })
    const load = net.load()
    await waitFor('a first acknowledged record', async () => load.acked.size > 0, 60_000)
    const recoveries: number[] = []
    for (const mode of modes) {
      const b0 = Date.now()
      await sleep(baselineMs)
      const b1 = Date.now()
      const victim = rnd.pick(net.validators)
      const others = net.validators.filter(d => d !== victim)
      const h0 = await net.maxHeight(others)
      if (mode === 'frozen') net.freeze(victim)
      else await net.kill(victim)
      const d0 = Date.now()
      // Sample the survivors' progress through the outage: finality must not stop for long.
      let longestStallMs = 0
      let lastHeight = h0
      let lastMove = Date.now()
      while (Date.now() - d0 < downMs) {
        await sleep(250)
        const h = await net.minHeight(others)
        if (h > lastHeight) { lastHeight = h; lastMove = Date.now() }
        longestStallMs = Math.max(longestStallMs, Date.now() - lastMove)
      }
      const d1 = Date.now()
      const h1 = await net.minHeight(others)
      const before = load.rate(b0, b1)
      const during = load.rate(d0, d1)
      const drop = before > 0 ? Math.round((1 - during / before) * 100) : 0
      say(t, `throughput: ${before.toFixed(1)} records/s with 4 validators, ${during.toFixed(1)} records/s with ${victim.node.name} ${mode} (${drop}% drop); heights ${h0} -> ${h1} (${((h1 - h0) / ((d1 - d0) / 1000)).toFixed(1)} blocks/s); longest stall ${longestStallMs} ms`)
      t.true(h1 > h0, `blocks become final while one validator is ${mode}`)
      t.true(during > 0, `records are acknowledged while one validator is ${mode}`)
      t.true(longestStallMs < 15_000, `finality never stalls for long (longest ${longestStallMs} ms)`)
      const backAt = Date.now()
      if (mode === 'frozen') net.thaw(victim)
      else await net.restart(victim)
      await net.waitHeight(await net.maxHeight(others), [victim], 60_000)
      recoveries.push(Date.now() - backAt)
      r.faults++
      r.notes.push(`${mode}: throughput ${before.toFixed(1)} -> ${during.toFixed(1)} records/s (${drop}% drop) over ${Math.round(downMs / 1000)} s with 1 of 4 ${mode}; longest stall ${longestStallMs} ms; caught up ${recoveries.at(-1)} ms after coming back`)
    }
    r.recoveryMs = Math.max(...recoveries)
    r.notes.push(`load errors: ${load.errorSummary()}`)
    const res = await finalChecks(t, net, load, { expectNoEvidence: true })
    r.acked = res.acked
    r.lost = res.lost
  })
}

/**
 * 3. Two of four validators down (no quorum): no new finality, the two left keep running and
 * answering, with no errors that need a human; one comes back: the chain resumes within seconds
 * without restarting the others.
 */
export async function noQuorum (t: ExecutionContext): Promise<void> {
  const outageMs = Number(process.env.MEDLEDGER_SIM_OUTAGE_MS ?? len(5_000, 120_000))
  t.timeout(outageMs + 150_000)
  await scenario(t, '3. two of four down (no quorum), then one back', async r => {
    const rnd = seededRandom(t, 'no-quorum')
    const net = await SimNet.start(t, { validators: 4, observers: 1 })
    const load = net.load({ requestTimeoutMs: outageMs + 60_000 })
    await waitFor('a first acknowledged record', async () => load.acked.size > 0, 60_000)
    await sleep(1000)
    const order = [...net.validators].sort(() => rnd.next() - 0.5)
    const [downA, downB] = order
    const survivors = order.slice(2)
    const errorsBefore = new Map(await Promise.all(survivors.map(async d => [d, (await net.logLines(d)).length] as const)))
    await Promise.all([net.kill(downA), net.kill(downB)])
    // A block whose precommits were already out may still land: settle, then take the height.
    await sleep(2000)
    const h0 = await net.maxHeight(survivors)
    const ackedAtStop = load.acked.size
    await sleep(outageMs)
    const statuses = await net.statuses(survivors)
    for (const [i, s] of statuses.entries()) {
      t.truthy(s, `${survivors[i].node.name} still answers /v1/status`)
      t.true(survivors[i].running, `${survivors[i].node.name} still runs`)
      t.is(s?.height, h0, `${survivors[i].node.name}: no new finality without a quorum`)
    }
    for (const d of survivors) t.is((await fetch(`${d.api}/livez`)).status, 200)
    t.is(load.acked.size, ackedAtStop, 'nothing is acknowledged without a quorum')
    say(t, `no quorum for ${outageMs} ms: height stays ${h0}, rounds now ${statuses.map(s => s?.round).join('/')}`)
    const newErrors = (await Promise.all(survivors.map(async d => (await net.logLines(d)).slice(errorsBefore.get(d)!)))).flat()
    t.deepEqual(newErrors.slice(0, 5), [], 'the survivors log no errors while they wait for a quorum')

    // One comes back: the chain resumes by itself, the survivors untouched.
    const pids = survivors.map(d => d.proc?.pid)
    const back = Date.now()
    await net.restart(downA)
    await net.waitHeight(h0 + 1, survivors, 60_000)
    const resumeMs = Date.now() - back
    t.deepEqual(survivors.map(d => d.proc?.pid), pids, 'the survivors were not restarted')
    say(t, `chain resumed ${resumeMs} ms after ${downA.node.name} was restarted (rounds ${(await net.statuses(survivors)).map(s => s?.round).join('/')})`)
    t.true(resumeMs < len(20_000, 45_000), `the chain resumes within seconds (${resumeMs} ms)`)
    await waitFor('records acknowledged again', async () => load.acked.size > ackedAtStop, 30_000)
    await net.restart(downB)
    r.faults = 2
    r.recoveryMs = resumeMs
    r.notes.push(`no quorum for ${Math.round(outageMs / 1000)} s; resumed ${resumeMs} ms after one validator came back`, `load errors: ${load.errorSummary()}`)
    const res = await finalChecks(t, net, load, { expectNoEvidence: true })
    r.acked = res.acked
    r.lost = res.lost
  })
}

function median (xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)] ?? 0
}
