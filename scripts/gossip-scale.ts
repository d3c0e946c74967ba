/**
 * A quick measurement of gossip and finality at N validators (issue 16), until the `scale` phase of
 * `npm run bench` covers it: N validators + 1 observer as real daemons on loopback (testkit), then
 * - converge: seconds from the first daemon's launch until every node is connected to every other,
 * - single-record finality: `--records` records submitted one at a time with wait=final, p50/p99,
 * - the duplicate ratio: gossip copies received (duplicates included) per distinct message, summed
 *   over the validators (/metrics medledger_gossip_messages_received), and copies per height.
 *
 * Heavy: run it under the shared lock, e.g.
 *   flock /tmp/medledger-heavy.lock nice -n 5 node --import tsx scripts/gossip-scale.ts --n 10
 */
import { parseArgs } from 'node:util'
import { Devnet } from '../src/testkit/devnet.ts'
import { sampleRecord } from '../src/testkit/records.ts'
import type { TestNode } from '../src/testkit/node.ts'

const { values } = parseArgs({ options: { n: { type: 'string', default: '4' }, records: { type: 'string', default: '15' } } })
const n = Number(values.n)
const count = Number(values.records)

function quantile (xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]
}

async function gossipCounts (node: TestNode): Promise<{ copies: number, distinct: number }> {
  const { body } = await node.request('GET', '/metrics', { role: 'read' })
  const text = String(body)
  const read = (kind: string): number => Number(new RegExp(`medledger_gossip_messages_received\\{kind="${kind}"\\} (\\d+)`).exec(text)?.[1] ?? NaN)
  return { copies: read('copies'), distinct: read('distinct') }
}

const started = Date.now()
const net = await Devnet.start({ validators: n, observers: 1, relays: false, startTimeoutMs: 120_000 })
try {
  const all = net.nodes
  const launched = Date.now()
  while (true) {
    const st = await Promise.all(all.map(async d => await d.tryStatus()))
    if (st.every(s => s !== undefined && s.peers >= all.length - 1)) break
    if (Date.now() - started > 180_000) throw new Error(`not converged: peers ${st.map(s => s?.peers).join('/')}`)
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  const converge = (Date.now() - started) / 1000
  const apisUp = (launched - started) / 1000
  const validators = net.validators
  // One record first, so every node is past start-up work.
  await validators[0].submit([sampleRecord(0)])
  const before = await Promise.all(validators.map(gossipCounts))
  const h0 = (await validators[0].status()).height
  const lat: number[] = []
  for (let i = 1; i <= count; i++) {
    const t0 = performance.now()
    try {
      await validators[i % validators.length].submit([sampleRecord(i)], { timeoutMs: 120_000 })
    } catch (err) {
      // What every node was doing: heads, rounds, peers, bans and the gossip counters.
      for (const d of all) {
        const st = await d.tryStatus()
        const { body } = await d.request('GET', '/metrics', { role: 'read' }).catch(() => ({ body: '' }))
        const pick = (re: RegExp): string => String(body).split('\n').filter(l => re.test(l) && !l.startsWith('#')).join(' ')
        console.error(d.name, JSON.stringify({ height: st?.height, round: st?.round, peers: st?.peers, mempool: st?.mempool }), pick(/^medledger_(peer_banned|gossip_messages_received)/))
      }
      throw err
    }
    lat.push(performance.now() - t0)
  }
  const after = await Promise.all(validators.map(gossipCounts))
  const heights = (await validators[0].status()).height - h0
  const copies = after.reduce((s, a, i) => s + a.copies - before[i].copies, 0)
  const distinct = after.reduce((s, a, i) => s + a.distinct - before[i].distinct, 0)
  console.log(JSON.stringify({
    n,
    convergeS: converge,
    apisUpS: apisUp,
    finalityMs: { p50: Math.round(quantile(lat, 0.5)), p99: Math.round(quantile(lat, 0.99)), max: Math.round(Math.max(...lat)) },
    latenciesMs: lat.map(Math.round),
    heights,
    duplicateRatio: Number((copies / distinct).toFixed(2)),
    copiesPerHeightPerNode: Math.round(copies / heights / validators.length),
    distinctPerHeightPerNode: Math.round(distinct / heights / validators.length)
  }))
} finally {
  await net.stop()
}
