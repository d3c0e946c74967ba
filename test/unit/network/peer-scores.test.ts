import test from 'ava'
import { PeerScores, PENALTY } from '../../../src/network/peer-scores.ts'
import { silentLogger } from '../../../src/logger.ts'

const opts = { invalidThreshold: 10, banBaseMs: 30_000, banMaxMs: 30 * 60_000 }

test('offences are on record per peer (for the metric), then a ban; the cap below quorum still holds', t => {
  let now = 0
  const cut: Array<{ peer: string, banned: boolean }> = []
  const scores = new PeerScores(opts, { logger: silentLogger, maxBanned: () => 1, onPenalty: (peer, banned) => { cut.push({ peer, banned }) }, now: () => now })
  for (let i = 0; i < 9; i++) t.false(scores.penalise('flooder', PENALTY.invalidGossip, 'flood'))
  t.like(scores.records().find(r => r.peer === 'flooder'), { offences: 9, bans: 0, banned: false })
  t.true(scores.penalise('flooder', PENALTY.invalidGossip, 'flood'))
  t.like(scores.records().find(r => r.peer === 'flooder'), { offences: 10, bans: 1, banned: true })
  // A second offender while one is banned already (f = 1): disconnected, never banned.
  for (let i = 0; i < 10; i++) scores.penalise('second', PENALTY.invalidGossip, 'flood')
  t.deepEqual(cut, [{ peer: 'flooder', banned: true }, { peer: 'second', banned: false }])
  t.false(scores.isBanned('second'))
  t.like(scores.records().find(r => r.peer === 'second'), { offences: 10, banned: false })
  // The ban is timed.
  now += opts.banBaseMs + 1
  t.false(scores.isBanned('flooder'))
  t.is(scores.records().length, 2)
})
