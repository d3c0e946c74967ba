import test from 'ava'
import { VoteType } from '../../../src/chain/types.ts'
import { proposalSignBytes, voteSignBytes } from '../../../src/chain/hashing.ts'
import { verifySignature } from '../../../src/crypto/ed25519.ts'
import { isMedledgerError } from '../../../src/errors.ts'
import { ConsensusErrorCode, ConsensusStateMachine } from '../../../src/consensus/state-machine.ts'
import { MAX_EXTRA_VALUES, MAX_PROPOSALS } from '../../../src/consensus/state-machine-log.ts'
import { signVote, TEST_CHAIN_ID, testKey } from '../../helpers/fixtures.ts'
import { feed, only, TIMEOUTS, value, Validators } from './helpers.ts'

const vs = new Validators(4)
const v = value('v')
const w = value('w')

test('f+1 messages of a higher round from distinct validators skip to it (L55); one validator twice does not', t => {
  const m = vs.machine(0)
  m.startHeight(1, vs.publicKeys)
  t.deepEqual(feed(m, [vs.prevote(1, 1, 5, null), vs.precommit(1, 1, 5, null)]), [])
  t.is(m.round, 0)
  const outs = feed(m, [vs.precommit(2, 1, 5, w)])
  t.is(m.round, 5)
  t.is(m.step, 'propose')
  t.deepEqual(only(outs, 'schedule'), [{ type: 'schedule', kind: 'propose', height: 1, round: 5, durationMs: 300 + 5 * 10 }])
  // lower rounds do not move us back, even with a quorum
  feed(m, [vs.prevote(1, 1, 3, null), vs.prevote(2, 1, 3, null), vs.prevote(3, 1, 3, null)])
  t.is(m.round, 5)
})

test('a proposal counts as a message of its round for the skip, and is then acted upon', t => {
  const m = vs.machine(0)
  m.startHeight(1, vs.publicKeys)
  // the proposer of (1, 4) is V[1]: its proposal and one prevote of V[2] are f+1 = 2 senders
  feed(m, [{ proposal: vs.proposal(1, 4, v) }])
  t.is(m.round, 0)
  const outs = feed(m, [vs.prevote(2, 1, 4, v)])
  t.is(m.round, 4)
  t.deepEqual(only(outs, 'vote'), [{ type: 'vote', voteType: VoteType.PREVOTE, height: 1, round: 4, blockHash: v }])
})

test('we join a skipped-to round as its proposer when it is our turn', t => {
  const m = vs.machine(0)
  m.startHeight(1, vs.publicKeys)
  const outs = feed(m, [vs.prevote(1, 1, 7, null), vs.prevote(2, 1, 7, null)]) // (1 + 7) mod 4 = 0
  t.deepEqual(only(outs, 'propose'), [{ type: 'propose', height: 1, round: 7, validRound: -1, blockHash: null }])
})

test('beyond maxRoundsAhead nothing is stored, but f+1 validators ahead move us to the (f+1)-th highest round', t => {
  const m = vs.machine(0, undefined, 10)
  m.startHeight(1, vs.publicKeys)
  t.deepEqual(feed(m, [vs.prevote(1, 1, 70, null), vs.prevote(1, 1, 90, null)]), [])
  t.is(m.round, 0)
  feed(m, [vs.prevote(2, 1, 50, null)])
  t.is(m.round, 50)
  // the messages themselves were dropped: a polka of round 50 needs them again
  t.deepEqual(feed(m, [{ proposal: vs.proposal(1, 50, v) }]).map(o => o.type), ['vote'])
  t.deepEqual(only(feed(m, [vs.prevote(0, 1, 50, v), vs.prevote(1, 1, 50, v), vs.prevote(2, 1, 50, v)]), 'vote'), [{ type: 'vote', voteType: VoteType.PRECOMMIT, height: 1, round: 50, blockHash: v }])
})

test('decision from the precommits of an earlier round, with its proposal, in any order (L49)', t => {
  const vs4 = vs
  const pcs = [vs4.precommit(1, 1, 0, v), vs4.precommit(2, 1, 0, v), vs4.precommit(3, 1, 0, v)]
  for (const proposalFirst of [true, false]) {
    const m = vs4.machine(0)
    m.startHeight(1, vs4.publicKeys)
    feed(m, [vs4.prevote(1, 1, 2, null), vs4.prevote(2, 1, 2, null)])
    t.is(m.round, 2)
    const inputs = proposalFirst ? [{ proposal: vs4.proposal(1, 0, v) }, ...pcs] : [...pcs, { proposal: vs4.proposal(1, 0, v) }]
    const outs = feed(m, inputs)
    t.deepEqual(only(outs, 'commit'), [{ type: 'commit', height: 1, round: 0, blockHash: v, precommits: pcs }])
    t.true(m.hasDecided)
    t.deepEqual(feed(m, [vs4.prevote(1, 1, 2, v)]), [], 'inputs after the decision are ignored')
  }
})

test('no decision without the proposal, with an invalid proposal, or with precommits split between values', t => {
  const noProposal = vs.machine(0)
  noProposal.startHeight(1, vs.publicKeys)
  t.deepEqual(only(feed(noProposal, [vs.precommit(1, 1, 0, v), vs.precommit(2, 1, 0, v), vs.precommit(3, 1, 0, v)]), 'commit'), [])

  const invalid = vs.machine(0)
  invalid.startHeight(1, vs.publicKeys)
  t.deepEqual(only(feed(invalid, [{ proposal: vs.proposal(1, 0, v), valid: false }, vs.precommit(1, 1, 0, v), vs.precommit(2, 1, 0, v), vs.precommit(3, 1, 0, v)]), 'commit'), [])
  t.false(invalid.hasDecided)

  const split = vs.machine(0)
  split.startHeight(1, vs.publicKeys)
  const outs = feed(split, [{ proposal: vs.proposal(1, 0, v) }, vs.precommit(0, 1, 0, v), vs.precommit(1, 1, 0, v), vs.precommit(2, 1, 0, w), vs.precommit(3, 1, 0, null)])
  t.deepEqual(only(outs, 'commit'), [])
  t.deepEqual(only(outs, 'schedule').map(s => s.kind), ['precommit'])
})

test('conflicting votes give one piece of evidence, verifiable with the public key alone; duplicates give nothing', t => {
  const m = vs.machine(0)
  m.startHeight(1, vs.publicKeys)
  const a = vs.prevote(3, 1, 0, v)
  const b = vs.prevote(3, 1, 0, null)
  t.deepEqual(feed(m, [a]), [])
  t.deepEqual(feed(m, [a]), [], 'an identical duplicate is silent')
  const outs = feed(m, [b])
  t.deepEqual(outs, [{ type: 'evidence', evidence: { kind: 'vote', a, b } }])
  t.deepEqual(feed(m, [vs.prevote(3, 1, 0, w), b]), [], 'one piece of evidence per offence')
  for (const x of [a, b]) t.true(verifySignature(vs.publicKeys[3], voteSignBytes(TEST_CHAIN_ID, x), x.signature))
  // a prevote and a precommit of the same round are not a conflict; a precommit conflict is
  t.deepEqual(feed(m, [vs.precommit(3, 1, 0, w)]), [])
  t.deepEqual(only(feed(m, [vs.precommit(3, 1, 0, v)]), 'evidence').length, 1)
  // the same validator conflicting in another round is another offence
  t.deepEqual(only(feed(m, [vs.prevote(3, 1, 1, v), vs.prevote(3, 1, 1, w)]), 'evidence').length, 1)
})

test('two proposals of the round\'s proposer give proposal evidence; both stay in the log (L36 may need either)', t => {
  const m = vs.machine(0)
  m.startHeight(1, vs.publicKeys)
  const a = vs.proposal(1, 0, v)
  const b = vs.proposal(1, 0, w)
  const first = feed(m, [{ proposal: a }])
  t.deepEqual(only(first, 'vote'), [{ type: 'vote', voteType: VoteType.PREVOTE, height: 1, round: 0, blockHash: v }])
  t.deepEqual(feed(m, [{ proposal: b }]), [{ type: 'evidence', evidence: { kind: 'proposal', a, b } }])
  t.deepEqual(feed(m, [{ proposal: a }, { proposal: b }]), [], 'no second prevote, no second evidence')
  for (const x of [a, b]) t.true(verifySignature(vs.publicKeys[1], proposalSignBytes(TEST_CHAIN_ID, x), x.signature))
  // the others saw w first and prevoted it: with proposal w in our log, their polka locks w (L36)
  const outs = feed(m, [vs.prevote(1, 1, 0, w), vs.prevote(2, 1, 0, w), vs.prevote(3, 1, 0, w)])
  t.deepEqual(only(outs, 'vote'), [{ type: 'vote', voteType: VoteType.PRECOMMIT, height: 1, round: 0, blockHash: w }])
  t.like(m.snapshot(), { lockedRound: 0, lockedHash: w })
  // and their precommits decide w
  const pcs = [vs.precommit(1, 1, 0, w), vs.precommit(2, 1, 0, w), vs.precommit(3, 1, 0, w)]
  t.deepEqual(only(feed(m, pcs), 'commit'), [{ type: 'commit', height: 1, round: 0, blockHash: w, precommits: pcs }])
})

test('the same block proposed twice with different validRounds is no evidence, and either version can be acted on', t => {
  const m = vs.machine(0)
  m.startHeight(1, vs.publicKeys)
  feed(m, [vs.precommit(1, 1, 2, null), vs.precommit(3, 1, 2, null)]) // to round 2 (proposer V[3])
  // the first version claims a polka in round 1 we never saw: we wait
  t.deepEqual(feed(m, [{ proposal: vs.proposal(1, 2, v, 1) }]), [])
  // the second, plain version is accepted at once (L22)
  t.deepEqual(feed(m, [{ proposal: vs.proposal(1, 2, v, -1) }]), [{ type: 'vote', voteType: VoteType.PREVOTE, height: 1, round: 2, blockHash: v }])
})

test('memory stays bounded against a spamming equivocator: its first vote plus MAX_EXTRA_VALUES values, MAX_PROPOSALS proposals', t => {
  const m = vs.machine(0)
  m.startHeight(1, vs.publicKeys)
  const junk = Array.from({ length: MAX_EXTRA_VALUES + 5 }, (_, i) => value(`junk-${i}`))
  const outs = feed(m, junk.map(h => vs.prevote(3, 1, 0, h)))
  t.is(only(outs, 'evidence').length, 1)
  // a value beyond the bound is not counted: with V[1] and V[2] it makes no polka
  const late = junk[junk.length - 1]
  feed(m, [{ proposal: vs.proposal(1, 0, late) }, vs.prevote(1, 1, 0, late), vs.prevote(2, 1, 0, late)])
  t.is(m.step, 'prevote')
  // a value within the bound is: V[3]'s second value plus V[1] and V[2] make a polka
  const m2 = vs.machine(0)
  m2.startHeight(1, vs.publicKeys)
  feed(m2, junk.slice(0, MAX_EXTRA_VALUES + 1).map(h => vs.prevote(3, 1, 0, h)))
  const kept = junk[MAX_EXTRA_VALUES]
  const polka = feed(m2, [{ proposal: vs.proposal(1, 0, kept) }, vs.prevote(1, 1, 0, kept), vs.prevote(2, 1, 0, kept)])
  t.deepEqual(only(polka, 'vote').map(o => o.voteType), [VoteType.PREVOTE, VoteType.PRECOMMIT])
  // proposals: a proposer's blocks beyond MAX_PROPOSALS are dropped (one evidence in all)
  const m3 = vs.machine(0)
  m3.startHeight(1, vs.publicKeys)
  m3.handle({ type: 'timeout', kind: 'propose', height: 1, round: 0 })
  const many = junk.map(h => ({ proposal: vs.proposal(1, 0, h) }))
  t.is(only(feed(m3, many), 'evidence').length, 1)
  const dropped = junk[MAX_PROPOSALS]
  const noPolka = feed(m3, [vs.prevote(1, 1, 0, dropped), vs.prevote(2, 1, 0, dropped), vs.prevote(3, 1, 0, dropped)])
  t.deepEqual(only(noPolka, 'vote'), [])
})

test('messages the machine must ignore: other heights, non-validators, wrong proposer, malformed', t => {
  const m = vs.machine(0)
  m.startHeight(2, vs.publicKeys)
  const outsider = testKey(99)
  const ignored = [
    ...feed(m, [vs.prevote(1, 1, 0, v), vs.prevote(1, 3, 0, v)]),
    ...feed(m, [signVote(outsider, { type: VoteType.PREVOTE, height: 2, round: 5, blockHash: v }), signVote(testKey(98), { type: VoteType.PREVOTE, height: 2, round: 5, blockHash: v })]),
    ...feed(m, [{ proposal: vs.proposal(2, 0, v, -1, 3) }]), // (2 + 0) mod 4 = 2 is the proposer, not 3
    ...feed(m, [{ ...vs.prevote(1, 2, 0, v), blockHash: new Uint8Array(5) }, { ...vs.prevote(2, 2, -1, v) }, { ...vs.prevote(3, 2, 0, v), type: 7 as VoteType }]),
    ...feed(m, [{ proposal: { ...vs.proposal(2, 0, v), validRound: -2 } }])
  ]
  t.deepEqual(ignored, [])
  t.is(m.round, 0)
  t.is(m.step, 'propose')
  // outsiders cannot help a round skip either: V[1] plus two outsiders in round 5 is not f+1
  feed(m, [vs.prevote(1, 2, 5, null)])
  t.is(m.round, 0)
})

test('an observer follows and commits but never proposes or votes; so does a key outside the set', t => {
  const observer = vs.machine(null)
  const outsider = new ConsensusStateMachine({ self: testKey(50).publicKey, timeouts: TIMEOUTS })
  for (const x of [observer, outsider]) {
    const outs = [
      ...x.startHeight(3, vs.publicKeys),
      ...x.handle({ type: 'timeout', kind: 'propose', height: 3, round: 0 }),
      ...feed(x, [{ proposal: vs.proposal(3, 0, v) }, vs.prevote(0, 3, 0, v), vs.prevote(1, 3, 0, v), vs.prevote(2, 3, 0, v)]),
      ...x.handle({ type: 'timeout', kind: 'prevote', height: 3, round: 0 }),
      ...feed(x, [vs.precommit(1, 3, 1, null), vs.precommit(2, 3, 1, null)]), // skip to round 1; (3 + 1) mod 4 = 0
      ...feed(x, [vs.precommit(0, 3, 0, v), vs.precommit(1, 3, 0, v), vs.precommit(3, 3, 0, v)])
    ]
    t.false(x.isValidator)
    t.deepEqual(outs.filter(o => o.type === 'vote' || o.type === 'propose'), [])
    t.deepEqual(only(outs, 'commit').map(c => c.round), [0])
  }
})

test('snapshot and restore: locks, valid value and round survive a restart at the same height', t => {
  const m = vs.machine(0)
  m.startHeight(1, vs.publicKeys)
  feed(m, [{ proposal: vs.proposal(1, 0, v) }, vs.prevote(0, 1, 0, v), vs.prevote(1, 1, 0, v), vs.prevote(2, 1, 0, v)])
  const snap = m.snapshot()
  t.deepEqual(snap, { height: 1, round: 0, step: 'precommit', lockedRound: 0, lockedHash: v, validRound: 0, validHash: v })

  const restarted = vs.machine(0)
  // the round restarts at its propose step, with the lock: what we signed before is the guard's to protect
  t.deepEqual(restarted.startHeight(1, vs.publicKeys, snap), [{ type: 'schedule', kind: 'propose', height: 1, round: 0, durationMs: 300 }])
  t.deepEqual(restarted.snapshot(), { ...snap, step: 'propose' })
  // the re-derived prevote of the restarted round respects the lock (v is the locked value)
  t.deepEqual(only(feed(restarted, [{ proposal: vs.proposal(1, 0, v) }]), 'vote'), [{ type: 'vote', voteType: VoteType.PREVOTE, height: 1, round: 0, blockHash: v }])
  // the lock holds after the restart: a fresh w in round 1 gets nil
  feed(restarted, [vs.precommit(1, 1, 1, null), vs.precommit(2, 1, 1, null)])
  t.deepEqual(only(feed(restarted, [{ proposal: vs.proposal(1, 1, w) }]), 'vote'), [{ type: 'vote', voteType: VoteType.PREVOTE, height: 1, round: 1, blockHash: null }])

  // a snapshot in the propose step restarts that round: the proposer proposes its valid value again
  const proposerSnap = { height: 1, round: 3, step: 'propose' as const, lockedRound: 0, lockedHash: v, validRound: 2, validHash: w }
  const p = vs.machine(0)
  t.deepEqual(only(p.startHeight(1, vs.publicKeys, proposerSnap), 'propose'), [{ type: 'propose', height: 1, round: 3, validRound: 2, blockHash: w }])

  // a snapshot of another height is ignored
  const other = vs.machine(0)
  other.startHeight(2, vs.publicKeys, snap)
  t.deepEqual(other.snapshot(), { height: 2, round: 0, step: 'propose', lockedRound: -1, lockedHash: null, validRound: -1, validHash: null })
})

test('bad arguments fail with typed errors', t => {
  const m = vs.machine(0)
  const code = (c: string) => ({ is: (e: unknown) => isMedledgerError(e, c) })
  const expectCode = (fn: () => unknown, c: string): void => { t.true(code(c).is(t.throws(fn))) }
  expectCode(() => m.startHeight(0, vs.publicKeys), ConsensusErrorCode.INVALID_HEIGHT)
  expectCode(() => m.startHeight(1, []), ConsensusErrorCode.INVALID_VALIDATOR_SET)
  expectCode(() => m.startHeight(1, [...vs.publicKeys].reverse()), ConsensusErrorCode.INVALID_VALIDATOR_SET)
  expectCode(() => m.startHeight(1, [vs.publicKeys[0], vs.publicKeys[0]]), ConsensusErrorCode.INVALID_VALIDATOR_SET)
  expectCode(() => m.startHeight(1, [new Uint8Array(31)]), ConsensusErrorCode.INVALID_VALIDATOR_SET)
  const snap = { height: 1, round: 0, step: 'prevote' as const, lockedRound: 0, lockedHash: null, validRound: -1, validHash: null }
  expectCode(() => m.startHeight(1, vs.publicKeys, snap), ConsensusErrorCode.INVALID_SNAPSHOT)
  expectCode(() => m.startHeight(1, vs.publicKeys, { ...snap, lockedRound: 2, lockedHash: v }), ConsensusErrorCode.INVALID_SNAPSHOT)
  expectCode(() => vs.machine(0, undefined, 0), ConsensusErrorCode.INVALID_OPTIONS)
  t.deepEqual(vs.machine(0).handle({ type: 'timeout', kind: 'propose', height: 1, round: 0 }), [], 'inputs before startHeight are ignored')
})
