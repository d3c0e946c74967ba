import test from 'ava'
import { PeerScores, PENALTY } from '../../src/network/peer-scores.ts'
import { silentLogger } from '../../src/logger.ts'

// Peer accounting without libp2p: a fake clock drives bans, their growth and decay.
function setup (maxBanned = 1): { scores: PeerScores, clock: { now: number }, penalties: Array<[string, boolean]> } {
  const clock = { now: 1_000_000 }
  const penalties: Array<[string, boolean]> = []
  const scores = new PeerScores({ invalidThreshold: 10, banBaseMs: 30_000, banMaxMs: 120_000, decayHalfLifeMs: 60_000 }, {
    logger: silentLogger, maxBanned: () => maxBanned, onPenalty: (p, banned) => penalties.push([p, banned]), now: () => clock.now
  })
  return { scores, clock, penalties }
}

test('a peer is banned once its invalid messages reach the threshold, for a cooldown that doubles', t => {
  const { scores, clock, penalties } = setup()
  for (let i = 0; i < 9; i++) t.false(scores.penalise('a', PENALTY.invalidGossip, 'garbage'))
  t.false(scores.isBanned('a'))
  t.true(scores.penalise('a', PENALTY.invalidGossip, 'garbage'))
  t.true(scores.isBanned('a'))
  t.deepEqual(penalties, [['a', true]])
  clock.now += 30_001
  t.false(scores.isBanned('a'), 'the first ban lasts banBaseMs')
  scores.penalise('a', PENALTY.fatal, 'bad blocks')
  clock.now += 59_000
  t.true(scores.isBanned('a'), 'the second ban lasts twice as long')
  clock.now += 2_000
  t.false(scores.isBanned('a'))
  for (let i = 0; i < 5; i++) { scores.penalise('a', PENALTY.fatal, 'x'); clock.now += 200_000 }
  scores.penalise('a', PENALTY.fatal, 'x')
  clock.now += 119_000
  t.true(scores.isBanned('a'))
  clock.now += 2_000
  t.false(scores.isBanned('a'), 'bans never exceed banMaxMs')
})

test('invalid counts decay, so rare mistakes never add up to a ban', t => {
  const { scores, clock } = setup()
  for (let i = 0; i < 100; i++) {
    scores.penalise('a', PENALTY.invalidGossip, 'stale')
    clock.now += 30_000
  }
  t.false(scores.isBanned('a'))
  t.true(scores.invalidCount('a') < 5)
})

test('no more than maxBanned peers are banned at once: beyond it a peer is only disconnected', t => {
  const { scores, penalties } = setup(1)
  scores.penalise('a', PENALTY.fatal, 'x')
  scores.penalise('b', PENALTY.fatal, 'x')
  t.true(scores.isBanned('a'))
  t.false(scores.isBanned('b'))
  t.deepEqual(penalties, [['a', true], ['b', false]])
  scores.unban('a')
  scores.penalise('b', PENALTY.fatal, 'x')
  t.true(scores.isBanned('b'))
})
