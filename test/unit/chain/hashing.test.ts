import test from 'ava'
import fc from 'fast-check'
import { encodeCbor } from '../../../src/encoding/cbor.ts'
import { bytesEqual, toHex } from '../../../src/encoding/bytes.ts'
import { sha256, ZERO_HASH } from '../../../src/crypto/hash.ts'
import { EMPTY_ROOT, inclusionProof, leafHash, merkleRoot, verifyInclusion } from '../../../src/merkle/rfc6962.ts'
import {
  encodeCertificate, encodeEvidence, encodeHeader, encodeRecord
} from '../../../src/chain/codec.ts'
import {
  batchId, batchIdFromSummary, batchRecordsRoot, blockHash, blockRecordsRoot, certificateHash, DOMAIN, evidenceHash,
  evidenceRoot, recordId
} from '../../../src/chain/hashing.ts'
import {
  makeBlock, makeCertificate, proposalEquivocation, sampleBatch, sampleRecord, testKey, voteEquivocation
} from '../../helpers/fixtures.ts'
import * as arb from './arbitraries.ts'

/*
 * Ids and roots: what each hash covers, and the two-level Merkle structure that lets anyone prove
 * a record is in a block (record id -> batch root, signed by the author; batch id -> the
 * header's recordsRoot, certified by a quorum).
 */

const key = testKey(1)

test('domain tags are distinct, versioned and under medledger/', t => {
  const tags = Object.values(DOMAIN)
  t.is(new Set(tags).size, tags.length)
  for (const tag of tags) t.regex(tag, /^medledger\/[a-z-]+\/v1$/)
})

test('a record id is SHA-256 of the record encoding; any field change changes it', t => {
  fc.assert(fc.property(arb.record, arb.record, (a, b) => {
    if (!bytesEqual(recordId(a), sha256(encodeRecord(a)))) return false
    return bytesEqual(encodeRecord(a), encodeRecord(b)) === bytesEqual(recordId(a), recordId(b))
  }), { numRuns: 200 })
  const r = sampleRecord(key.publicKey)
  const variants = [
    { ...r, type: 'treatment' }, { ...r, subject: sha256(r.subject) }, { ...r, contentType: 'text/plain' },
    { ...r, payload: new Uint8Array([0]) }, { ...r, author: testKey(2).publicKey }, { ...r, timestamp: r.timestamp + 1 }
  ]
  for (const v of variants) t.notDeepEqual(recordId(v), recordId(r))
})

test('a batch signs the RFC 6962 root over its record ids; a batch of one signs leafHash(id), not the id', t => {
  const b = sampleBatch(key, 3)
  t.deepEqual(batchRecordsRoot(b.records), merkleRoot(b.records.map(recordId)))
  const one = sampleRecord(key.publicKey)
  t.deepEqual(batchRecordsRoot([one]), leafHash(recordId(one)))
  t.notDeepEqual(batchRecordsRoot([one]), recordId(one))
})

test('a batch id is SHA-256 of [author, recordsRoot, count, signature]: it covers the records and the signature', t => {
  const b = sampleBatch(key, 2)
  const root = batchRecordsRoot(b.records)
  t.deepEqual(batchId(b), sha256(encodeCbor([b.author, root, 2, b.signature])))
  t.deepEqual(batchId(b), batchIdFromSummary(b.author, root, 2, b.signature))
  t.notDeepEqual(batchId({ ...b, signature: new Uint8Array(64) }), batchId(b))
  t.notDeepEqual(batchId({ ...b, records: b.records.slice(1) }), batchId(b))
})

test('the header recordsRoot is the RFC 6962 root over batch ids; empty blocks use the empty-tree hash', t => {
  const batches = [sampleBatch(key, 1, 0), sampleBatch(testKey(2), 2, 10), sampleBatch(key, 1, 20)]
  t.deepEqual(blockRecordsRoot(batches), merkleRoot(batches.map(batchId)))
  t.deepEqual(makeBlock({ height: 1, proposer: key, batches }).header.recordsRoot, blockRecordsRoot(batches))
  t.deepEqual(blockRecordsRoot([]), EMPTY_ROOT)
  t.is(toHex(EMPTY_ROOT), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855')
})

test('a record is provable in a block with two standard inclusion proofs', t => {
  const batches = [sampleBatch(key, 5, 0), sampleBatch(testKey(2), 3, 100)]
  const header = makeBlock({ height: 1, proposer: key, batches }).header
  const record = batches[1].records[2]
  // Level 1: the record id is leaf 2 of 3 under the root the author signed.
  const ids = batches[1].records.map(r => leafHash(recordId(r)))
  t.true(verifyInclusion(leafHash(recordId(record)), 2, 3, inclusionProof(ids, 2), batchRecordsRoot(batches[1].records)))
  // Level 2: the batch id is leaf 1 of 2 under the header's recordsRoot.
  const bids = batches.map(b => leafHash(batchId(b)))
  t.true(verifyInclusion(leafHash(batchId(batches[1])), 1, 2, inclusionProof(bids, 1), header.recordsRoot))
})

test('the block hash covers the header only: every header field changes it, the body does not', t => {
  const block = makeBlock({ height: 2, proposer: key, batches: [sampleBatch(key)] })
  const h = block.header
  t.deepEqual(blockHash(h), sha256(encodeHeader(h)))
  const other = sha256(new Uint8Array([7]))
  const variants = [
    { chainId: 'other' }, { height: 3 }, { round: 1 }, { time: h.time + 1 }, { proposer: testKey(2).publicKey },
    { parentHash: other }, { recordsRoot: other }, { validatorSetHash: other }, { lastCommitHash: other }, { evidenceHash: other }
  ]
  for (const v of variants) t.notDeepEqual(blockHash({ ...h, ...v }), blockHash(h), Object.keys(v)[0])
  // Emptying the body leaves the hash as it was: the header commits to the body through its roots.
  const emptied = { header: h, body: { ...block.body, batches: [] } }
  t.deepEqual(blockHash(emptied.header), blockHash(block.header))
})

test('certificate hash: SHA-256 of its encoding, all zeros for no certificate', t => {
  const c = makeCertificate([key, testKey(2)], { height: 1, round: 0, blockHash: sha256(new Uint8Array(1)) })
  t.deepEqual(certificateHash(c), sha256(encodeCertificate(c)))
  t.deepEqual(certificateHash(null), ZERO_HASH)
  t.deepEqual(certificateHash(null), new Uint8Array(32))
})

test('evidence hash: SHA-256 of its encoding; the header evidenceHash is the RFC 6962 root over them', t => {
  const items = [voteEquivocation(key), proposalEquivocation(testKey(2))]
  t.deepEqual(evidenceHash(items[0]), sha256(encodeEvidence(items[0])))
  t.deepEqual(evidenceRoot(items), merkleRoot(items.map(evidenceHash)))
  t.deepEqual(evidenceRoot([]), EMPTY_ROOT)
})

test('fixture blocks commit to their bodies', t => {
  const last = makeCertificate([key], { height: 1, round: 0, blockHash: sha256(new Uint8Array(2)) })
  const block = makeBlock({ height: 2, proposer: key, batches: [sampleBatch(key)], lastCommit: last, evidence: [voteEquivocation(key)] })
  t.deepEqual(block.header.lastCommitHash, certificateHash(last))
  t.deepEqual(block.header.evidenceHash, evidenceRoot(block.body.evidence))
  t.deepEqual(block.header.recordsRoot, blockRecordsRoot(block.body.batches))
})
