import test from 'ava'
import { FutureBuffer, futureLimits } from '../../../src/consensus/future-buffer.ts'
import { ResendGuard, DEFAULT_RESEND_GUARD, PROPOSAL_RESEND_GUARD } from '../../../src/consensus/resend-guard.ts'
import { signedContentKey } from '../../../src/consensus/signed-content.ts'
import type { ConsensusMessage } from '../../../src/chain/codec.ts'
import { VoteType } from '../../../src/chain/types.ts'
import { toHex } from '../../../src/encoding/bytes.ts'
import { TEST_CHAIN_ID, makeBlock, makeProposal, sampleBatch, signVote, testValidators } from '../../helpers/fixtures.ts'

const [A, B, C] = testValidators(4)
const vote = (signer = A, round = 0): ConsensusMessage => ({ kind: 'vote', vote: signVote(signer, { type: VoteType.PREVOTE, height: 2, round, blockHash: null }) })
const proposal = (signer = A, round = 0, records = 1): ConsensusMessage =>
  ({ kind: 'proposal', proposal: makeProposal(signer, makeBlock({ height: 2, round, proposer: signer, batches: [sampleBatch(signer, records)] })) })
const key = (m: ConsensusMessage): string => signedContentKey(TEST_CHAIN_ID, m)
const limits = { maxBytes: 10_000, maxMessages: 100, shareBytes: 4_000, shareMessages: 10 }

test('the same signed message is kept once, whatever its envelope (seq) or relaying peer', t => {
  const buf = new FutureBuffer(limits)
  const p = proposal()
  t.is(buf.add({ ...p, seq: 1 }, key(p), 'peer-1', 1000), 'kept')
  for (let seq = 2; seq < 50; seq++) t.is(buf.add({ ...p, seq }, key({ ...p, seq }), `peer-${seq % 3}`, 1000), 'duplicate')
  t.is(buf.size, 1)
  t.is(buf.bytes, 1000)
})

test('one body per (height, round, proposer): a second, different proposal for the slot is not kept', t => {
  const buf = new FutureBuffer(limits)
  const first = proposal(A, 0, 1)
  const other = proposal(A, 0, 2)
  t.not(key(first), key(other))
  t.is(buf.add(first, key(first), 'p', 1000), 'kept')
  t.is(buf.add(other, key(other), 'p', 1000), 'slot-taken')
  // Another round of the same proposer is another slot.
  const later = proposal(A, 4)
  t.is(buf.add(later, key(later), 'p', 1000), 'kept')
})

test('the buffer never holds more than its byte bound', t => {
  const buf = new FutureBuffer({ ...limits, shareBytes: 10_000, shareMessages: 100 })
  let kept = 0
  for (let round = 0; round < 40; round++) {
    const m = vote(A, round)
    if (buf.add(m, key(m), 'p', 900) === 'kept') kept++
    t.true(buf.bytes <= limits.maxBytes)
  }
  t.is(kept, 11)
  const m = vote(B, 99)
  t.is(buf.add(m, key(m), 'q', 900), 'full')
})

test('one signer fills only its share; other validators still fit', t => {
  const buf = new FutureBuffer(limits)
  let kept = 0
  for (let round = 0; round < 100; round++) {
    const m = proposal(A, round * 4)
    if (buf.add(m, key(m), `peer-${round}`, 1000) === 'kept') kept++
  }
  t.is(kept, 4, 'A holds its 4,000 bytes and no more')
  t.is(buf.usage({ signer: toHex(A.publicKey) }).bytes, 4_000)
  const honest = proposal(B, 1)
  t.is(buf.add(honest, key(honest), 'peer-b', 1000), 'kept')
})

test('one relaying peer fills only its share, whoever signed what it relays', t => {
  const buf = new FutureBuffer(limits)
  const msgs = [A, B, C].flatMap(s => [0, 1, 2, 3, 4].map(r => vote(s, r)))
  const outcomes = msgs.map(m => buf.add(m, key(m), 'relay', 1000))
  t.is(outcomes.filter(o => o === 'kept').length, 4)
  t.is(buf.usage({ peer: 'relay' }).bytes, 4_000)
  const m = vote(C, 9)
  t.is(buf.add(m, key(m), 'another-peer', 1000), 'kept')
})

test('the message bound and each share\'s message count hold as well', t => {
  const buf = new FutureBuffer({ maxBytes: 1e9, maxMessages: 15, shareBytes: 1e9, shareMessages: 10 })
  for (let r = 0; r < 20; r++) { const m = vote(A, r); buf.add(m, key(m), `p${r}`, 1) }
  t.is(buf.size, 10)
  for (let r = 0; r < 20; r++) { const m = vote(B, r); buf.add(m, key(m), `q${r}`, 1) }
  t.is(buf.size, 15)
})

test('take(height) hands over that height\'s messages and empties the buffer', t => {
  const buf = new FutureBuffer(limits)
  const p = proposal()
  const v = vote(B)
  buf.add(p, key(p), 'p', 100)
  buf.add(v, key(v), 'p', 100)
  t.deepEqual(buf.take(2), [p, v])
  t.is(buf.size, 0)
  t.is(buf.bytes, 0)
  t.false(buf.has(key(p)))
})

test('shares: an equal part of the buffer, never less than one largest block', t => {
  t.deepEqual(futureLimits({ maxBytes: 16 << 20, maxMessages: 10_000, maxBlockBytes: 3 << 20, validators: 4 }), { maxBytes: 16 << 20, maxMessages: 10_000, shareBytes: 4 << 20, shareMessages: 2_500 })
  const many = futureLimits({ maxBytes: 16 << 20, maxMessages: 10_000, maxBlockBytes: 3 << 20, validators: 40 })
  t.is(many.shareBytes, (3 << 20) + 256 * 1024)
  t.is(futureLimits({ maxBytes: 1 << 20, maxMessages: 100, maxBlockBytes: 3 << 20, validators: 1 }).shareBytes, 1 << 20, 'never more than the whole')
})

test('resend guard: an honest re-send rate never counts; a faster run of copies of one message from one peer is a flood', t => {
  const g = new ResendGuard(DEFAULT_RESEND_GUARD)
  let now = 0
  t.false(g.tooSoon('p', 'k', now))
  // Honest rebroadcasts, every second (the least rebroadcast_ms), for a long stall, with jitter.
  for (let i = 0; i < 200; i++) t.false(g.tooSoon('p', 'k', now += i % 2 === 0 ? 700 : 1300), `rebroadcast ${i}`)
  // A few close copies are allowed (a forward and a rebroadcast tick together; bunched ticks).
  now += 5000
  for (let i = 0; i < 3; i++) t.false(g.tooSoon('p', 'k', now += 10))
  t.true(g.tooSoon('p', 'k', now += 10))
  // Twice the honest rate does not last: once the burst is spent, every other copy is a flood.
  const floods = Array.from({ length: 40 }, () => { now += 500; return g.tooSoon('p', 'k', now) }).filter(Boolean).length
  t.true(floods >= 10 && floods <= 30, `${floods} of 40 copies at 2/s`)
  // Other peers and other messages are counted apart.
  t.false(g.tooSoon('q', 'k', now))
  t.false(g.tooSoon('p', 'other', now))
  // A calm pause refills the bucket.
  t.false(g.tooSoon('p', 'k', now += 5000))
})

test('resend guard for proposals: a proposal is never re-sent, so one extra copy passes and a third within 30 s is a flood, however slowly it comes', t => {
  const g = new ResendGuard(PROPOSAL_RESEND_GUARD)
  let now = 0
  t.false(g.tooSoon('p', 'proposal', now))
  // A relay that restarted and forwards it once more.
  t.false(g.tooSoon('p', 'proposal', now += 5_000))
  // A flooder slowed down to one copy every 2 s (below the vote rule's refill) is still caught.
  t.true(g.tooSoon('p', 'proposal', now += 2_000))
  const floods = Array.from({ length: 10 }, () => { now += 2_000; return g.tooSoon('p', 'proposal', now) }).filter(Boolean).length
  t.true(floods >= 9, `${floods} of 10 copies at one per 2 s`)
  // Another relay's single copy is counted apart.
  t.false(g.tooSoon('q', 'proposal', now))
  t.false(g.tooSoon('q', 'proposal', now))
})

test('resend guard: what it remembers is bounded per peer and in peers', t => {
  const g = new ResendGuard({ ...DEFAULT_RESEND_GUARD, maxKeysPerPeer: 3, maxPeers: 2 })
  for (let i = 0; i < 10; i++) g.tooSoon('p', `k${i}`, 0)
  // k0 was forgotten: copies of it count as new.
  const g2 = new ResendGuard({ ...DEFAULT_RESEND_GUARD, burst: 1, maxKeysPerPeer: 1 })
  g2.tooSoon('p', 'a', 0)
  g2.tooSoon('p', 'a', 0)
  t.true(g2.tooSoon('p', 'a', 0), 'bucket of a is empty')
  g2.tooSoon('p', 'b', 0)
  t.false(g2.tooSoon('p', 'a', 0), 'a was forgotten when b came')
  for (const peer of ['a', 'b', 'c']) g.tooSoon(peer, 'x', 0)
  t.pass()
})

test('the costly last check runs only for a message that fits', t => {
  const buf = new FutureBuffer({ ...limits, maxMessages: 1 })
  let checks = 0
  const a = vote(A, 0)
  const b = vote(B, 0)
  t.is(buf.add(a, key(a), 'p', 10, () => { checks++; return false }), 'invalid')
  t.is(buf.add(a, key(a), 'p', 10, () => { checks++; return true }), 'kept')
  t.is(buf.add(b, key(b), 'p', 10, () => { checks++; return true }), 'full')
  t.is(checks, 2)
})
