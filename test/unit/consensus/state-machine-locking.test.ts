import test from 'ava'
import { VoteType } from '../../../src/chain/types.ts'
import type { ConsensusStateMachine } from '../../../src/consensus/state-machine.ts'
import { feed, only, value, Validators } from './helpers.ts'

const vs = new Validators(4)
const v = value('v')
const w = value('w')

/** Validator 0 at height 1, locked on v in round 0 (round-0 proposer is V[1]), then in round 1. */
function lockedInRound0 (t: { deepEqual: (a: unknown, b: unknown, m?: string) => void, like: (a: object, b: object) => void }): ConsensusStateMachine {
  const m = vs.machine(0)
  m.startHeight(1, vs.publicKeys)
  t.deepEqual(only(feed(m, [{ proposal: vs.proposal(1, 0, v) }]), 'vote'), [{ type: 'vote', voteType: VoteType.PREVOTE, height: 1, round: 0, blockHash: v }])
  const polka = feed(m, [vs.prevote(0, 1, 0, v), vs.prevote(1, 1, 0, v), vs.prevote(2, 1, 0, v)])
  t.deepEqual(only(polka, 'vote'), [{ type: 'vote', voteType: VoteType.PRECOMMIT, height: 1, round: 0, blockHash: v }])
  t.like(m.snapshot(), { lockedRound: 0, lockedHash: v, validRound: 0, validHash: v })
  // the others precommitted nil: no decision; timeoutPrecommit moves us to round 1
  feed(m, [vs.precommit(0, 1, 0, v), vs.precommit(1, 1, 0, null), vs.precommit(2, 1, 0, null)])
  m.handle({ type: 'timeout', kind: 'precommit', height: 1, round: 0 })
  t.like(m.snapshot(), { round: 1, step: 'propose' })
  return m
}

test('locked on v, a fresh proposal (validRound -1) of another value gets a nil prevote (L23)', t => {
  const m = lockedInRound0(t)
  t.deepEqual(feed(m, [{ proposal: vs.proposal(1, 1, w) }]), [{ type: 'vote', voteType: VoteType.PREVOTE, height: 1, round: 1, blockHash: null }])
})

test('locked on v, a fresh proposal of v itself is accepted (lockedValue = v)', t => {
  const m = lockedInRound0(t)
  t.deepEqual(feed(m, [{ proposal: vs.proposal(1, 1, v) }]), [{ type: 'vote', voteType: VoteType.PREVOTE, height: 1, round: 1, blockHash: v }])
})

test('locked on v in round 0, a polka for w in round 1 seen in round 1 moves the lock to w (L36)', t => {
  const m = lockedInRound0(t)
  feed(m, [{ proposal: vs.proposal(1, 1, w) }]) // prevote nil
  const outs = feed(m, [vs.prevote(1, 1, 1, w), vs.prevote(2, 1, 1, w), vs.prevote(3, 1, 1, w)])
  t.deepEqual(only(outs, 'vote'), [{ type: 'vote', voteType: VoteType.PRECOMMIT, height: 1, round: 1, blockHash: w }])
  t.like(m.snapshot(), { lockedRound: 1, lockedHash: w, validRound: 1, validHash: w })
})

test('locked on v in round 0, a later proposal of w with validRound 1 >= lockedRound and its polka unlocks: prevote w (L28-30)', t => {
  const m = lockedInRound0(t)
  feed(m, [{ proposal: vs.proposal(1, 1, w) }]) // nil: we are locked on v, and we miss the round-1 polka
  // f+1 messages of round 2 move us there (L55); V[3] proposes w with validRound 1
  feed(m, [vs.prevote(1, 1, 2, null), vs.precommit(3, 1, 2, null)])
  t.is(m.round, 2)
  t.deepEqual(feed(m, [{ proposal: vs.proposal(1, 2, w, 1) }]), [], 'waits for the proof of lock')
  t.deepEqual(feed(m, [vs.prevote(1, 1, 1, w), vs.prevote(2, 1, 1, w)]), [])
  t.deepEqual(feed(m, [vs.prevote(3, 1, 1, w)]), [{ type: 'vote', voteType: VoteType.PREVOTE, height: 1, round: 2, blockHash: w }])
  // the lock itself only moves with a precommit (L38-39)
  t.like(m.snapshot(), { lockedRound: 0, lockedHash: v })
})

test('locked on v in round 1, a proposal of w justified by an older polka (validRound 0 < lockedRound) gets nil (L29/L32)', t => {
  const m = vs.machine(0)
  m.startHeight(1, vs.publicKeys)
  // an old polka for w in round 0 that we saw but did not lock (we had timed out to precommit nil)
  m.handle({ type: 'timeout', kind: 'propose', height: 1, round: 0 })
  feed(m, [vs.prevote(0, 1, 0, null), vs.prevote(1, 1, 0, w), vs.prevote(2, 1, 0, w)])
  m.handle({ type: 'timeout', kind: 'prevote', height: 1, round: 0 })
  feed(m, [vs.prevote(3, 1, 0, w)])
  // round 1 (proposer V[2]): lock v
  feed(m, [vs.precommit(1, 1, 1, null), vs.precommit(2, 1, 1, null)])
  t.is(m.round, 1)
  feed(m, [{ proposal: vs.proposal(1, 1, v) }, vs.prevote(0, 1, 1, v), vs.prevote(1, 1, 1, v), vs.prevote(2, 1, 1, v)])
  t.like(m.snapshot(), { lockedRound: 1, lockedHash: v })
  // round 2 (proposer V[3]) proposes w with validRound 0: its polka is older than our lock
  feed(m, [vs.prevote(1, 1, 2, null), vs.prevote(2, 1, 2, null)])
  t.is(m.round, 2)
  t.deepEqual(feed(m, [{ proposal: vs.proposal(1, 2, w, 0) }]), [{ type: 'vote', voteType: VoteType.PREVOTE, height: 1, round: 2, blockHash: null }])
})

test('locked on v in round 1, the re-proposal of v with an older validRound is accepted (lockedValue = v)', t => {
  const m = vs.machine(0)
  m.startHeight(1, vs.publicKeys)
  feed(m, [vs.prevote(1, 1, 0, v), vs.prevote(2, 1, 0, v), vs.prevote(3, 1, 0, v)]) // polka for v in round 0, proposal never seen
  feed(m, [vs.precommit(1, 1, 1, null), vs.precommit(2, 1, 1, null)])
  feed(m, [{ proposal: vs.proposal(1, 1, v) }, vs.prevote(1, 1, 1, v), vs.prevote(2, 1, 1, v), vs.prevote(3, 1, 1, v)])
  t.like(m.snapshot(), { round: 1, lockedRound: 1, lockedHash: v })
  feed(m, [vs.prevote(1, 1, 2, null), vs.prevote(2, 1, 2, null)])
  t.deepEqual(feed(m, [{ proposal: vs.proposal(1, 2, v, 0) }]), [{ type: 'vote', voteType: VoteType.PREVOTE, height: 1, round: 2, blockHash: v }])
})

test('a polka seen after precommitting nil sets validValue but not the lock, and as proposer we re-propose it with its validRound (L15-16, L42-43)', t => {
  const m = vs.machine(0)
  m.startHeight(1, vs.publicKeys)
  feed(m, [vs.precommit(1, 1, 2, null), vs.precommit(2, 1, 2, null)]) // f+1 messages: to round 2 (proposer V[3])
  t.is(m.round, 2)
  m.handle({ type: 'timeout', kind: 'propose', height: 1, round: 2 }) // prevote nil
  const sched = feed(m, [vs.prevote(0, 1, 2, null), vs.prevote(1, 1, 2, v), vs.prevote(2, 1, 2, v)])
  t.deepEqual(only(sched, 'schedule').map(s => s.kind), ['prevote'])
  t.deepEqual(only(m.handle({ type: 'timeout', kind: 'prevote', height: 1, round: 2 }), 'vote'), [{ type: 'vote', voteType: VoteType.PRECOMMIT, height: 1, round: 2, blockHash: null }])
  // the proposal and the third prevote for v arrive late: a polka while in the precommit step
  t.deepEqual(only(feed(m, [{ proposal: vs.proposal(1, 2, v) }, vs.prevote(3, 1, 2, v)]), 'vote'), [])
  t.like(m.snapshot(), { step: 'precommit', lockedRound: -1, lockedHash: null, validRound: 2, validHash: v })
  feed(m, [vs.precommit(0, 1, 2, null)])
  const next = m.handle({ type: 'timeout', kind: 'precommit', height: 1, round: 2 })
  // round 3: (1 + 3) mod 4 = 0, our turn
  t.deepEqual(only(next, 'propose'), [{ type: 'propose', height: 1, round: 3, validRound: 2, blockHash: v }])
})

test('an equivocating validator counts towards each value it voted for, once per value (the paper counts senders per value)', t => {
  const m = vs.machine(0)
  m.startHeight(1, vs.publicKeys)
  feed(m, [{ proposal: vs.proposal(1, 0, v) }]) // we prevote v
  feed(m, [vs.prevote(1, 1, 0, null), vs.prevote(2, 1, 0, v)])
  // V[1] now also says v: evidence, and a second sender for v besides V[2]
  const outs = feed(m, [vs.prevote(1, 1, 0, v)])
  t.deepEqual(outs.map(o => o.type), ['evidence'])
  t.deepEqual(feed(m, [vs.prevote(1, 1, 0, v), vs.prevote(1, 1, 0, null)]), [], 'repeats of either vote change nothing')
  // our own v makes three senders for v: a polka. (V[1] counts once towards "any" for L34.)
  t.deepEqual(only(feed(m, [vs.prevote(0, 1, 0, v)]), 'vote'), [{ type: 'vote', voteType: VoteType.PRECOMMIT, height: 1, round: 0, blockHash: v }])
})

test('a polka that includes an equivocator\'s second vote still unlocks a node that got its first vote (a liveness failure the simulation found)', t => {
  // Round 0, height 1, Byzantine proposer V[1]: it sends block a to us (V[0]) and block b to V[2] and V[3],
  // and prevotes a to us, b to them. V[2] and V[3] lock b. We can only follow them once we see its b prevote too.
  const a = value('a')
  const b = value('b')
  const m = vs.machine(0)
  m.startHeight(1, vs.publicKeys)
  feed(m, [{ proposal: vs.proposal(1, 0, a) }, vs.prevote(1, 1, 0, a), vs.prevote(2, 1, 0, b), vs.prevote(3, 1, 0, b)])
  m.handle({ type: 'timeout', kind: 'prevote', height: 1, round: 0 })
  feed(m, [vs.precommit(2, 1, 0, b), vs.precommit(3, 1, 0, b), vs.precommit(1, 1, 0, null)])
  m.handle({ type: 'timeout', kind: 'precommit', height: 1, round: 0 })
  // round 1: V[2] proposes b with validRound 0; with only two b prevotes of round 0 we cannot accept it
  t.is(m.round, 1)
  t.deepEqual(feed(m, [{ proposal: vs.proposal(1, 1, b, 0) }]), [])
  // gossip brings V[1]'s other prevote of round 0: evidence, and the proof of lock is complete
  const outs = feed(m, [vs.prevote(1, 1, 0, b)])
  t.deepEqual(outs.map(o => o.type), ['evidence', 'vote'])
  t.deepEqual(only(outs, 'vote'), [{ type: 'vote', voteType: VoteType.PREVOTE, height: 1, round: 1, blockHash: b }])
})

test('L29 accepts a proof of lock from the very round of our lock (lockedRound <= vr), as the paper says', t => {
  // Only reachable with more than f faulty validators (two polkas in one round): the arithmetic is checked as written.
  const m = vs.machine(0)
  m.startHeight(1, vs.publicKeys)
  feed(m, [vs.precommit(1, 1, 1, null), vs.precommit(2, 1, 1, null)]) // to round 1 (proposer V[2])
  feed(m, [{ proposal: vs.proposal(1, 1, v) }, vs.prevote(0, 1, 1, v), vs.prevote(1, 1, 1, v), vs.prevote(2, 1, 1, v)])
  t.like(m.snapshot(), { lockedRound: 1, lockedHash: v })
  feed(m, [vs.prevote(1, 1, 1, w), vs.prevote(2, 1, 1, w), vs.prevote(3, 1, 1, w)]) // a second polka in round 1
  feed(m, [vs.prevote(1, 1, 2, null), vs.prevote(3, 1, 2, null)]) // to round 2 (proposer V[3])
  t.deepEqual(feed(m, [{ proposal: vs.proposal(1, 2, w, 1) }]), [{ type: 'vote', voteType: VoteType.PREVOTE, height: 1, round: 2, blockHash: w }])
})

test('polkaPrevotes: the prevotes for the locked and valid value at their rounds and of every other polka held, none before a polka', t => {
  const fresh = vs.machine(0)
  fresh.startHeight(1, vs.publicKeys)
  t.deepEqual(fresh.polkaPrevotes(), [])
  const m = lockedInRound0(t)
  const polka = [vs.prevote(0, 1, 0, v), vs.prevote(1, 1, 0, v), vs.prevote(2, 1, 0, v)]
  t.deepEqual(m.polkaPrevotes(), polka)
  // A prevote for w in round 1 is not behind the lock; a polka for w in round 1 moves both.
  feed(m, [{ proposal: vs.proposal(1, 1, w) }, vs.prevote(1, 1, 1, w)])
  t.deepEqual(m.polkaPrevotes(), polka)
  feed(m, [vs.prevote(2, 1, 1, w), vs.prevote(3, 1, 1, w)])
  // The lock and valid value move to w; the polka for v in round 0 is still re-sent (any polka held).
  t.deepEqual(m.polkaPrevotes(), [vs.prevote(1, 1, 1, w), vs.prevote(2, 1, 1, w), vs.prevote(3, 1, 1, w), ...polka])
})

test('polkaPrevotes: a polka seen without its proposal (no lock, no valid value) is re-sent too', t => {
  const m = vs.machine(3)
  m.startHeight(1, vs.publicKeys)
  // Validator 3 never got round 0's proposal: it prevotes nothing for v, yet holds 2f+1 prevotes for v.
  const polka = [vs.prevote(0, 1, 0, v), vs.prevote(1, 1, 0, v), vs.prevote(2, 1, 0, v)]
  feed(m, polka)
  t.like(m.snapshot(), { lockedRound: -1, validRound: -1 })
  t.deepEqual(m.polkaPrevotes(), polka)
})
