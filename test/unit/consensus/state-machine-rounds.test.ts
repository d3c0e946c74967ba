import test from 'ava'
import { VoteType, type ProposalHeader, type Vote } from '../../../src/chain/types.ts'
import { bytesEqual } from '../../../src/encoding/bytes.ts'
import type { ConsensusInput, ConsensusOutput } from '../../../src/consensus/state-machine.ts'
import { signProposalHeader, signVote } from '../../helpers/fixtures.ts'
import { feed, only, value, Validators } from './helpers.ts'

test('the proposer of (h, r) is V[(h + r) mod N], and only it proposes', t => {
  const vs = new Validators(4)
  for (let h = 1; h <= 6; h++) {
    for (let r = 0; r <= 5; r++) {
      const proposers: number[] = []
      for (let i = 0; i < vs.n; i++) {
        const m = vs.machine(i)
        const outs = [...m.startHeight(h, vs.publicKeys)]
        // f+1 = 2 prevotes of round r move every machine to round r (L55)
        if (r > 0) outs.push(...feed(m, [vs.prevote((i + 1) % 4, h, r, null), vs.prevote((i + 2) % 4, h, r, null)]))
        t.is(m.round, r)
        const proposals = only(outs, 'propose').filter(o => o.round === r)
        if (proposals.length > 0) proposers.push(i)
      }
      t.deepEqual(proposers, [(h + r) % 4], `height ${h} round ${r}`)
    }
  }
})

test('N = 1: the lone validator proposes, prevotes, precommits and commits, then starts the next height', t => {
  const vs = new Validators(1)
  const m = vs.machine(0)
  const start = m.startHeight(1, vs.publicKeys)
  t.deepEqual(only(start, 'propose'), [{ type: 'propose', height: 1, round: 0, validRound: -1, blockHash: null }])

  const v = value('block-1')
  const afterProposal = feed(m, [{ proposal: vs.proposal(1, 0, v) }])
  t.deepEqual(only(afterProposal, 'vote'), [{ type: 'vote', voteType: VoteType.PREVOTE, height: 1, round: 0, blockHash: v }])
  t.is(m.step, 'prevote')

  const afterPrevote = feed(m, [vs.prevote(0, 1, 0, v)])
  t.deepEqual(only(afterPrevote, 'vote'), [{ type: 'vote', voteType: VoteType.PRECOMMIT, height: 1, round: 0, blockHash: v }])
  t.deepEqual(m.snapshot(), { height: 1, round: 0, step: 'precommit', lockedRound: 0, lockedHash: v, validRound: 0, validHash: v })

  const precommit = vs.precommit(0, 1, 0, v)
  const afterPrecommit = feed(m, [precommit])
  t.deepEqual(only(afterPrecommit, 'commit'), [{ type: 'commit', height: 1, round: 0, blockHash: v, precommits: [precommit] }])
  t.true(m.hasDecided)
  // After the decision the height is over: nothing more happens until startHeight(2).
  t.deepEqual(m.handle({ type: 'timeout', kind: 'precommit', height: 1, round: 0 }), [])
  const next = m.startHeight(2, vs.publicKeys)
  t.deepEqual(only(next, 'propose'), [{ type: 'propose', height: 2, round: 0, validRound: -1, blockHash: null }])
  t.deepEqual(m.snapshot(), { height: 2, round: 0, step: 'propose', lockedRound: -1, lockedHash: null, validRound: -1, validHash: null })
})

/** Four machines over a perfect synchronous network; timeouts never fire. */
function runPerfectNetwork (vs: Validators, height: number): Array<ConsensusOutput & { type: 'commit' }> {
  const machines = vs.publicKeys.map((_, i) => vs.machine(i))
  const queue: ConsensusInput[] = []
  const commits: Array<ConsensusOutput & { type: 'commit' }> = []
  const act = (i: number, outs: ConsensusOutput[]): void => {
    for (const o of outs) {
      if (o.type === 'propose') {
        const p: ProposalHeader = signProposalHeader(vs.keys[i], { height: o.height, round: o.round, validRound: o.validRound, blockHash: o.blockHash ?? value(`h${o.height}-r${o.round}`) })
        queue.push({ type: 'proposal', proposal: p, valid: true })
      } else if (o.type === 'vote') {
        const v: Vote = signVote(vs.keys[i], { type: o.voteType, height: o.height, round: o.round, blockHash: o.blockHash })
        queue.push({ type: 'vote', vote: v })
      } else if (o.type === 'commit') {
        commits[i] = o
      }
    }
  }
  machines.forEach((m, i) => act(i, m.startHeight(height, vs.publicKeys)))
  while (queue.length > 0) {
    const input = queue.shift()!
    machines.forEach((m, i) => act(i, m.handle(input)))
  }
  return commits
}

test('N = 4 over a perfect network: everyone commits the round-0 proposer\'s block with a quorum certificate', t => {
  const vs = new Validators(4)
  const commits = runPerfectNetwork(vs, 3)
  const expected = value('h3-r0')
  t.is(commits.length, 4)
  for (const c of commits) {
    t.is(c.height, 3)
    t.is(c.round, 0)
    t.true(bytesEqual(c.blockHash, expected))
    t.true(c.precommits.length >= 3)
    t.is(new Set(c.precommits.map(p => p.validator.join())).size, c.precommits.length)
    for (const p of c.precommits) {
      t.is(p.type, VoteType.PRECOMMIT)
      t.is(p.round, 0)
      t.true(bytesEqual(p.blockHash!, expected))
    }
  }
})

test('crashed proposer: timeoutPropose -> prevote nil -> precommit nil -> timeoutPrecommit -> next round with the next proposer', t => {
  const vs = new Validators(4)
  // height 1: round 0 proposer is V[1] (crashed), round 1 proposer is V[2], which we are.
  const m = vs.machine(2)
  const start = m.startHeight(1, vs.publicKeys)
  t.deepEqual(start, [{ type: 'schedule', kind: 'propose', height: 1, round: 0, durationMs: 300 }])

  const onTimeout = m.handle({ type: 'timeout', kind: 'propose', height: 1, round: 0 })
  t.deepEqual(onTimeout, [{ type: 'vote', voteType: VoteType.PREVOTE, height: 1, round: 0, blockHash: null }])

  const prevotes = feed(m, [vs.prevote(0, 1, 0, null), vs.prevote(2, 1, 0, null), vs.prevote(3, 1, 0, null)])
  t.deepEqual(prevotes, [{ type: 'vote', voteType: VoteType.PRECOMMIT, height: 1, round: 0, blockHash: null }])

  const precommits = feed(m, [vs.precommit(0, 1, 0, null), vs.precommit(2, 1, 0, null), vs.precommit(3, 1, 0, null)])
  t.deepEqual(precommits, [{ type: 'schedule', kind: 'precommit', height: 1, round: 0, durationMs: 200 }])
  t.is(m.round, 0)

  const next = m.handle({ type: 'timeout', kind: 'precommit', height: 1, round: 0 })
  t.is(m.round, 1)
  t.is(m.step, 'propose')
  t.deepEqual(only(next, 'propose'), [{ type: 'propose', height: 1, round: 1, validRound: -1, blockHash: null }])
  // Timeouts of a round we left change nothing (L57/L61/L65 check height and round).
  t.deepEqual(m.handle({ type: 'timeout', kind: 'propose', height: 1, round: 0 }), [])
  t.deepEqual(m.handle({ type: 'timeout', kind: 'precommit', height: 1, round: 0 }), [])
  t.deepEqual(m.handle({ type: 'timeout', kind: 'precommit', height: 2, round: 1 }), [])
  t.is(m.round, 1)
})

test('the proposer also times out when its own proposal never comes back (driver refused to sign)', t => {
  const vs = new Validators(4)
  const m = vs.machine(1) // proposer of (1, 0)
  const start = m.startHeight(1, vs.publicKeys)
  t.deepEqual(only(start, 'schedule'), [{ type: 'schedule', kind: 'propose', height: 1, round: 0, durationMs: 300 }])
  t.deepEqual(m.handle({ type: 'timeout', kind: 'propose', height: 1, round: 0 }), [{ type: 'vote', voteType: VoteType.PREVOTE, height: 1, round: 0, blockHash: null }])
})

test('late proposal: after prevoting nil on timeout, a polka for the late proposal still locks it (L36 needs step >= prevote)', t => {
  const vs = new Validators(4)
  const m = vs.machine(0)
  m.startHeight(1, vs.publicKeys)
  t.deepEqual(m.handle({ type: 'timeout', kind: 'propose', height: 1, round: 0 }), [{ type: 'vote', voteType: VoteType.PREVOTE, height: 1, round: 0, blockHash: null }])
  const v = value('late')
  t.deepEqual(feed(m, [{ proposal: vs.proposal(1, 0, v) }]), [], 'no second prevote in the same round')
  t.deepEqual(feed(m, [vs.prevote(1, 1, 0, v), vs.prevote(2, 1, 0, v)]), [])
  const polka = feed(m, [vs.prevote(3, 1, 0, v)])
  t.deepEqual(polka, [{ type: 'vote', voteType: VoteType.PRECOMMIT, height: 1, round: 0, blockHash: v }])
  t.like(m.snapshot(), { lockedRound: 0, lockedHash: v, validRound: 0, validHash: v, step: 'precommit' })
})

test('split prevotes: no polka, timeoutPrevote is scheduled once, then precommit nil', t => {
  const vs = new Validators(4)
  const m = vs.machine(0)
  m.startHeight(1, vs.publicKeys)
  const v = value('split')
  t.deepEqual(only(feed(m, [{ proposal: vs.proposal(1, 0, v) }]), 'vote'), [{ type: 'vote', voteType: VoteType.PREVOTE, height: 1, round: 0, blockHash: v }])
  t.deepEqual(feed(m, [vs.prevote(0, 1, 0, v), vs.prevote(1, 1, 0, v)]), [])
  // 3 prevotes of mixed values: "2f+1 PREVOTE(h, r, *)" (L34)
  t.deepEqual(feed(m, [vs.prevote(2, 1, 0, null)]), [{ type: 'schedule', kind: 'prevote', height: 1, round: 0, durationMs: 100 }])
  t.deepEqual(feed(m, [vs.prevote(3, 1, 0, value('other'))]), [], 'the prevote timeout is scheduled only the first time')
  t.deepEqual(m.handle({ type: 'timeout', kind: 'prevote', height: 1, round: 0 }), [{ type: 'vote', voteType: VoteType.PRECOMMIT, height: 1, round: 0, blockHash: null }])
  t.deepEqual(m.handle({ type: 'timeout', kind: 'prevote', height: 1, round: 0 }), [], 'a second expiry does nothing')
  t.like(m.snapshot(), { lockedRound: -1, lockedHash: null, step: 'precommit' })
})

test('2f+1 prevotes for nil: precommit nil at once (L44)', t => {
  const vs = new Validators(4)
  const m = vs.machine(0)
  m.startHeight(1, vs.publicKeys)
  feed(m, [{ proposal: vs.proposal(1, 0, value('x')) }])
  t.deepEqual(feed(m, [vs.prevote(1, 1, 0, null), vs.prevote(2, 1, 0, null)]), [])
  const outs = feed(m, [vs.prevote(3, 1, 0, null)])
  t.deepEqual(only(outs, 'vote'), [{ type: 'vote', voteType: VoteType.PRECOMMIT, height: 1, round: 0, blockHash: null }])
})

test('2f+1 nil prevotes while still in the propose step wait for our own prevote (L44 needs step = prevote)', t => {
  const vs = new Validators(4)
  const m = vs.machine(0)
  m.startHeight(1, vs.publicKeys)
  t.deepEqual(feed(m, [vs.prevote(1, 1, 0, null), vs.prevote(2, 1, 0, null), vs.prevote(3, 1, 0, null)]), [])
  t.is(m.step, 'propose')
  t.deepEqual(only(m.handle({ type: 'timeout', kind: 'propose', height: 1, round: 0 }), 'vote'), [
    { type: 'vote', voteType: VoteType.PREVOTE, height: 1, round: 0, blockHash: null },
    { type: 'vote', voteType: VoteType.PRECOMMIT, height: 1, round: 0, blockHash: null }
  ])
})

test('an invalid proposal gets a nil prevote (L23 valid(v))', t => {
  const vs = new Validators(4)
  const m = vs.machine(0)
  m.startHeight(1, vs.publicKeys)
  const outs = feed(m, [{ proposal: vs.proposal(1, 0, value('bad')), valid: false }])
  t.deepEqual(outs, [{ type: 'vote', voteType: VoteType.PREVOTE, height: 1, round: 0, blockHash: null }])
  // nor can a polka for an invalid value lock it (L36 requires valid(v))
  const polka = feed(m, [vs.prevote(1, 1, 0, value('bad')), vs.prevote(2, 1, 0, value('bad')), vs.prevote(3, 1, 0, value('bad'))])
  t.deepEqual(only(polka, 'vote'), [])
  t.like(m.snapshot(), { lockedRound: -1, validRound: -1 })
})

test('nil rounds: rounds advance one by one, with timeouts growing linearly and no lock', t => {
  const vs = new Validators(4)
  const m = vs.machine(0)
  const first = m.startHeight(5, vs.publicKeys)
  t.deepEqual(only(first, 'schedule').map(s => s.durationMs), [300])
  for (let r = 0; r < 6; r++) {
    t.is(m.round, r)
    const prevote = m.handle({ type: 'timeout', kind: 'propose', height: 5, round: r })
    // we are V[0]: proposer of (5, r) when (5 + r) % 4 = 0, i.e. r = 3; its proposal is lost here
    t.deepEqual(only(prevote, 'vote'), [{ type: 'vote', voteType: VoteType.PREVOTE, height: 5, round: r, blockHash: null }])
    const sched = feed(m, [vs.prevote(0, 5, r, null), vs.prevote(1, 5, r, value(`r${r}`)), vs.prevote(2, 5, r, null)])
    t.deepEqual(sched, [{ type: 'schedule', kind: 'prevote', height: 5, round: r, durationMs: 100 + 10 * r }])
    t.deepEqual(only(m.handle({ type: 'timeout', kind: 'prevote', height: 5, round: r }), 'vote'), [{ type: 'vote', voteType: VoteType.PRECOMMIT, height: 5, round: r, blockHash: null }])
    const pc = feed(m, [vs.precommit(0, 5, r, null), vs.precommit(1, 5, r, null), vs.precommit(3, 5, r, null)])
    t.deepEqual(pc, [{ type: 'schedule', kind: 'precommit', height: 5, round: r, durationMs: 200 + 10 * r }])
    const next = m.handle({ type: 'timeout', kind: 'precommit', height: 5, round: r })
    t.deepEqual(only(next, 'schedule'), [{ type: 'schedule', kind: 'propose', height: 5, round: r + 1, durationMs: 300 + 10 * (r + 1) }])
    t.is(only(next, 'propose').length, (5 + r + 1) % 4 === 0 ? 1 : 0)
  }
  t.like(m.snapshot(), { round: 6, lockedRound: -1, validRound: -1 })
})

test('a proposal with validRound >= 0 waits for the 2f+1 prevotes of that round (L28), else times out to nil', t => {
  const vs = new Validators(4)
  const m = vs.machine(0)
  m.startHeight(1, vs.publicKeys)
  feed(m, [vs.prevote(1, 1, 2, null), vs.prevote(2, 1, 2, null)]) // skip to round 2
  t.is(m.round, 2)
  const v = value('pol')
  t.deepEqual(feed(m, [{ proposal: vs.proposal(1, 2, v, 1) }]), [], 'no prevote before the proof of lock')
  t.deepEqual(feed(m, [vs.prevote(1, 1, 1, v), vs.prevote(2, 1, 1, v)]), [])
  t.deepEqual(feed(m, [vs.prevote(3, 1, 1, v)]), [{ type: 'vote', voteType: VoteType.PREVOTE, height: 1, round: 2, blockHash: v }])

  // validRound not below the round: neither L22 nor L28 applies (not even with a polka in that
  // round); only the timeout ends the step
  const m2 = vs.machine(0)
  m2.startHeight(1, vs.publicKeys)
  t.deepEqual(feed(m2, [vs.prevote(1, 1, 0, v), vs.prevote(2, 1, 0, v), vs.prevote(3, 1, 0, v)]), [])
  t.deepEqual(feed(m2, [{ proposal: vs.proposal(1, 0, v, 0) }]), [])
  // after the timeout's nil prevote, the round's polka for v still locks it (L36)
  t.deepEqual(only(m2.handle({ type: 'timeout', kind: 'propose', height: 1, round: 0 }), 'vote'), [
    { type: 'vote', voteType: VoteType.PREVOTE, height: 1, round: 0, blockHash: null },
    { type: 'vote', voteType: VoteType.PRECOMMIT, height: 1, round: 0, blockHash: v }
  ])
})

test('a polka seen while still in the propose step locks once we prevote, even nil (L36 needs step >= prevote, first time)', t => {
  const vs = new Validators(4)
  const m = vs.machine(0)
  m.startHeight(1, vs.publicKeys)
  feed(m, [vs.precommit(1, 1, 2, null), vs.precommit(2, 1, 2, null)]) // to round 2
  const v = value('unproven')
  // the proposal claims validRound 1, but we hold no proof of that polka: we stay in propose,
  // even as the others' polka for v in round 2 completes
  const outs = feed(m, [{ proposal: vs.proposal(1, 2, v, 1) }, vs.prevote(1, 1, 2, v), vs.prevote(2, 1, 2, v), vs.prevote(3, 1, 2, v)])
  t.deepEqual(outs, [])
  t.is(m.step, 'propose')
  t.like(m.snapshot(), { lockedRound: -1, validRound: -1 })
  const afterTimeout = m.handle({ type: 'timeout', kind: 'propose', height: 1, round: 2 })
  t.deepEqual(only(afterTimeout, 'vote'), [
    { type: 'vote', voteType: VoteType.PREVOTE, height: 1, round: 2, blockHash: null },
    { type: 'vote', voteType: VoteType.PRECOMMIT, height: 1, round: 2, blockHash: v }
  ])
  t.like(m.snapshot(), { lockedRound: 2, lockedHash: v, validRound: 2, validHash: v })
})
