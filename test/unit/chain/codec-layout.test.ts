import test from 'ava'
import { decodeCbor } from '../../../src/encoding/cbor.ts'
import {
  encodeBatch, encodeBlock, encodeCertificate, encodeConsensusMessage, encodeEvidence, encodeHeader,
  encodeRecord, encodeVote
} from '../../../src/chain/codec.ts'
import { blockHash } from '../../../src/chain/hashing.ts'
import { VoteType } from '../../../src/chain/types.ts'
import {
  makeBlock, makeCertificate, makeProposal, proposalEquivocation, sampleBatch, sampleRecord, signVote,
  testKey, voteEquivocation
} from '../../helpers/fixtures.ts'

/*
 * The positional layouts docs/protocol.md specifies: each message is a CBOR array whose items
 * appear in exactly this order. A reordering in the codec fails here before it forks the chain.
 */

const raw = (b: Uint8Array): any[] => decodeCbor(b, 1 << 22) as any[]
const key = testKey(1)

test('record: [type, subject, contentType, payload, author, timestamp]', t => {
  const r = sampleRecord(key.publicKey, 3)
  t.deepEqual(raw(encodeRecord(r)), [r.type, r.subject, r.contentType, r.payload, r.author, r.timestamp])
})

test('batch: [author, signature, [record...]]', t => {
  const b = sampleBatch(key, 2)
  const [author, signature, records] = raw(encodeBatch(b))
  t.deepEqual([author, signature], [b.author, b.signature])
  t.deepEqual(records, b.records.map(r => raw(encodeRecord(r))))
})

test('header: [chainId, height, round, time, proposer, parentHash, recordsRoot, validatorSetHash, lastCommitHash, evidenceHash]', t => {
  const h = makeBlock({ height: 5, round: 2, proposer: key, batches: [sampleBatch(key)] }).header
  t.deepEqual(raw(encodeHeader(h)), [h.chainId, h.height, h.round, h.time, h.proposer, h.parentHash, h.recordsRoot, h.validatorSetHash, h.lastCommitHash, h.evidenceHash])
})

test('vote: [type, height, round, blockHash | null, validator, signature]', t => {
  const v = signVote(key, { type: VoteType.PRECOMMIT, height: 7, round: 1, blockHash: null })
  t.deepEqual(raw(encodeVote(v)), [2, 7, 1, null, v.validator, v.signature])
  t.is(VoteType.PREVOTE, 1)
})

test('certificate: [height, round, blockHash, [[validator, signature]...]]', t => {
  const c = makeCertificate([testKey(1), testKey(2)], { height: 3, round: 0, blockHash: new Uint8Array(32).fill(9) })
  t.deepEqual(raw(encodeCertificate(c)), [3, 0, c.blockHash, c.signatures.map(s => [s.validator, s.signature])])
})

test('evidence: [1, vote, vote] or [2, proposalHeader, proposalHeader]', t => {
  const ev = voteEquivocation(key)
  const ep = proposalEquivocation(key)
  if (ev.kind !== 'vote' || ep.kind !== 'proposal') return t.fail('fixtures give one evidence of each kind')
  t.deepEqual(raw(encodeEvidence(ev)), [1, raw(encodeVote(ev.a)), raw(encodeVote(ev.b))])
  const [kind, a] = raw(encodeEvidence(ep))
  t.is(kind, 2)
  t.deepEqual(a, [ep.a.height, ep.a.round, ep.a.validRound, ep.a.blockHash, ep.a.proposer, ep.a.signature])
})

test('block: [header, [[batch...], lastCommit | null, [evidence...]]]', t => {
  const last = makeCertificate([key], { height: 1, round: 0, blockHash: new Uint8Array(32) })
  const b = makeBlock({ height: 2, proposer: key, batches: [sampleBatch(key)], lastCommit: last, evidence: [voteEquivocation(key)] })
  const [header, body] = raw(encodeBlock(b))
  t.deepEqual(header, raw(encodeHeader(b.header)))
  t.deepEqual(body, [[raw(encodeBatch(b.body.batches[0]))], raw(encodeCertificate(last)), [raw(encodeEvidence(b.body.evidence[0]))]])
  t.is(raw(encodeBlock(makeBlock({ height: 1, proposer: key })))[1][1], null)
})

test('consensus message: [1, [proposalHeader, block], seq] or [2, vote, seq]', t => {
  const block = makeBlock({ height: 1, proposer: key })
  const p = makeProposal(key, block, -1)
  t.deepEqual(p.header.blockHash, blockHash(block.header))
  const [kind, [ph, b], seq] = raw(encodeConsensusMessage({ kind: 'proposal', proposal: p }))
  t.deepEqual([kind, seq], [1, 0])
  t.deepEqual(ph, [p.header.height, p.header.round, -1, p.header.blockHash, p.header.proposer, p.header.signature])
  t.deepEqual(b, raw(encodeBlock(block)))
  const v = signVote(key, { type: VoteType.PREVOTE, height: 1, round: 0, blockHash: p.header.blockHash })
  t.deepEqual(raw(encodeConsensusMessage({ kind: 'vote', vote: v, seq: 3 })), [2, raw(encodeVote(v)), 3])
})
