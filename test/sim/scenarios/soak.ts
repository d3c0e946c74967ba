import type { ExecutionContext } from 'ava'
import { say, SimNet, finalChecks, scenario, sleep } from '../../helpers/sim.ts'
import { waitFor } from '../../helpers/devnet.ts'

/** Soak length in minutes: `npm run test:sim -- --soak N` sets MEDLEDGER_SIM_SOAK_MINUTES; 0 skips it. */
export const SOAK_MINUTES = Number(process.env.MEDLEDGER_SIM_SOAK_MINUTES ?? 0)

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length)

/**
 * 8. Soak: steady load on 4 validators and an observer for SOAK_MINUTES, sampling each daemon's
 * resident memory (/proc/<pid>/status VmRSS) over time. After a warm-up, memory must stay flat:
 * the mean of the last quarter of the samples below 1.5 times the mean of the first quarter.
 */
export async function soak (t: ExecutionContext): Promise<void> {
  const totalMs = SOAK_MINUTES * 60_000
  const warmupMs = Math.min(60_000, totalMs / 10)
  const everyMs = Math.max(5_000, Math.round(totalMs / 60))
  t.timeout(totalMs + 300_000)
  await scenario(t, `8. soak ${SOAK_MINUTES} min`, async r => {
    const net = await SimNet.start(t, { validators: 4, observers: 1 })
    const load = net.load({ workers: 3, batch: 4, pauseMs: 50 })
    await waitFor('a first acknowledged record', async () => load.acked.size > 0, 60_000)
    const started = Date.now()
    await sleep(warmupMs)
    const names = net.daemons.map(d => d.node.name)
    const samples: Array<{ s: number, rss: Array<number | undefined>, height: number, acked: number, mempool: number }> = []
    say(t, `soak: ${SOAK_MINUTES} min, warm-up ${Math.round(warmupMs / 1000)} s, a sample every ${Math.round(everyMs / 1000)} s`)
    say(t, `   t(s)  ${names.map(n => n.padStart(12)).join('')}   height   acked  mempool   (RSS in MiB)`)
    while (Date.now() - started < totalMs) {
      const st = await net.statuses()
      const row = {
        s: Math.round((Date.now() - started) / 1000),
        rss: net.daemons.map(d => net.rssKiB(d)),
        height: Math.max(...st.map(x => x?.height ?? 0)),
        acked: load.acked.size,
        mempool: Math.max(...st.map(x => x?.mempool?.records ?? 0))
      }
      samples.push(row)
      say(t, `${String(row.s).padStart(7)}  ${row.rss.map(k => (k === undefined ? '-' : (k / 1024).toFixed(1)).padStart(12)).join('')} ${String(row.height).padStart(8)} ${String(row.acked).padStart(7)} ${String(row.mempool).padStart(8)}`)
      await sleep(everyMs)
    }
    t.true(samples.length >= 8, 'enough samples to judge')
    const q = Math.max(1, Math.floor(samples.length / 4))
    const verdicts: string[] = []
    for (const [i, name] of names.entries()) {
      const first = mean(samples.slice(0, q).map(x => x.rss[i] ?? 0))
      const last = mean(samples.slice(-q).map(x => x.rss[i] ?? 0))
      const ratio = last / first
      verdicts.push(`${name} ${(first / 1024).toFixed(1)} -> ${(last / 1024).toFixed(1)} MiB (x${ratio.toFixed(2)})`)
      t.true(ratio < 1.5, `${name}: memory stays flat (first-quarter mean ${(first / 1024).toFixed(1)} MiB, last-quarter mean ${(last / 1024).toFixed(1)} MiB)`)
    }
    const rate = load.acked.size / ((Date.now() - started) / 1000)
    say(t, `soak memory: ${verdicts.join('; ')}; ${load.acked.size} records acknowledged (${rate.toFixed(1)}/s)`)
    r.notes.push(`RSS first quarter -> last quarter: ${verdicts.join('; ')}`, `${rate.toFixed(1)} records/s acknowledged`, `load errors: ${load.errorSummary()}`)
    const res = await finalChecks(t, net, load, { expectNoEvidence: true })
    r.acked = res.acked
    r.lost = res.lost
  })
}
