import test from 'ava'
import { CodecErrorCode, decodeCbor, encodeCbor } from '../../../src/encoding/cbor.ts'
import {
  decodeBatch, decodeBlock, decodeCertificate, decodeConsensusMessage, decodeEvidence, decodeRecord,
  decodeVote, encodeBatch, encodeBlock, encodeCertificate, encodeRecord, headerFromCbor,
  headerToCbor, proposalHeaderFromCbor, proposalHeaderToCbor, voteToCbor
} from '../../../src/chain/codec.ts'
import { LIMITS } from '../../../src/chain/limits.ts'
import { type MedRecord, type RecordBatch, VoteType } from '../../../src/chain/types.ts'
import {
  makeBlock, makeCertificate, sampleRecord, signProposalHeader, signVote, testKey, voteEquivocation
} from '../../helpers/fixtures.ts'
import { throwsCodec } from '../encoding/codec-error.ts'

/*
 * Every bound of src/chain/limits.ts, at the edge: the limit itself is accepted, one more is
 * refused. Counts and field sizes are SCHEMA; whole inputs past a decoder's byte limit are
 * OVERSIZE, refused before parsing.
 */

const { SCHEMA, OVERSIZE } = CodecErrorCode
const key = testKey(1)
const record = sampleRecord(key.publicKey)
const B = (n: number): Uint8Array => new Uint8Array(n)
// Codec tests need no valid signatures: a zero signature keeps big batches cheap to build.
const batchOf = (records: MedRecord[]): RecordBatch => ({ author: key.publicKey, records, signature: B(64) })

test('record text fields: type up to 64, contentType up to 128 UTF-16 code units', t => {
  t.notThrows(() => decodeRecord(encodeRecord({ ...record, type: 'a'.repeat(LIMITS.recordTypeChars) })))
  throwsCodec(t, () => decodeRecord(encodeRecord({ ...record, type: 'a'.repeat(LIMITS.recordTypeChars + 1) })), SCHEMA)
  t.notThrows(() => decodeRecord(encodeRecord({ ...record, contentType: 'a'.repeat(LIMITS.contentTypeChars) })))
  throwsCodec(t, () => decodeRecord(encodeRecord({ ...record, contentType: 'a'.repeat(LIMITS.contentTypeChars + 1) })), SCHEMA)
  // The count is of UTF-16 code units, not bytes or code points: 32 emoji fill the 64 of a type.
  t.notThrows(() => decodeRecord(encodeRecord({ ...record, type: '😀'.repeat(32) })))
  throwsCodec(t, () => decodeRecord(encodeRecord({ ...record, type: '😀'.repeat(32) + 'a' })), SCHEMA)
})

test('record bytes fields: subject exactly 32, author exactly 32, payload up to 64 KiB', t => {
  for (const n of [0, 31, 33]) {
    throwsCodec(t, () => decodeRecord(encodeRecord({ ...record, subject: B(n) })), SCHEMA, `subject ${n}`)
    throwsCodec(t, () => decodeRecord(encodeRecord({ ...record, author: B(n) })), SCHEMA, `author ${n}`)
  }
  t.notThrows(() => decodeRecord(encodeRecord({ ...record, payload: B(0) })))
  t.notThrows(() => decodeRecord(encodeRecord({ ...record, payload: B(LIMITS.payloadBytes) })))
  throwsCodec(t, () => decodeRecord(encodeRecord({ ...record, payload: B(LIMITS.payloadBytes + 1) })), SCHEMA)
  throwsCodec(t, () => decodeRecord(B(LIMITS.payloadBytes + 1025)), OVERSIZE)
})

test('record timestamp: any unsigned safe integer', t => {
  t.notThrows(() => decodeRecord(encodeRecord({ ...record, timestamp: 0 })))
  t.notThrows(() => decodeRecord(encodeRecord({ ...record, timestamp: Number.MAX_SAFE_INTEGER })))
  throwsCodec(t, () => decodeRecord(encodeRecord({ ...record, timestamp: -1 })), SCHEMA)
  throwsCodec(t, () => decodeRecord(encodeRecord({ ...record, timestamp: 1.5 })), SCHEMA)
})

test('batch: 1 to 10 000 records, at most 3 MiB', t => {
  throwsCodec(t, () => decodeBatch(encodeBatch(batchOf([]))), SCHEMA)
  const many = new Array<MedRecord>(LIMITS.recordsPerBatch).fill(record)
  t.is(decodeBatch(encodeBatch(batchOf(many))).records.length, LIMITS.recordsPerBatch)
  throwsCodec(t, () => decodeBatch(encodeBatch(batchOf([...many, record]))), SCHEMA)
  const big = { ...record, payload: B(LIMITS.payloadBytes) }
  const n = Math.ceil(LIMITS.batchBytes / LIMITS.payloadBytes)
  throwsCodec(t, () => decodeBatch(encodeBatch(batchOf(new Array<MedRecord>(n).fill(big)))), OVERSIZE)
})

test('header: chain id up to 64 code units; height, round and time unsigned', t => {
  const h = makeBlock({ height: 1, proposer: key }).header
  const dec = (x: typeof h): unknown => headerFromCbor(decodeCbor(encodeCbor(headerToCbor(x)), LIMITS.blockBytes))
  t.notThrows(() => dec({ ...h, chainId: 'c'.repeat(LIMITS.chainIdChars) }))
  throwsCodec(t, () => dec({ ...h, chainId: 'c'.repeat(LIMITS.chainIdChars + 1) }), SCHEMA)
  for (const f of ['height', 'round', 'time'] as const) throwsCodec(t, () => dec({ ...h, [f]: -1 }), SCHEMA, f)
})

test('vote: type 1 or 2, at most 1024 bytes', t => {
  const v = signVote(key, { type: VoteType.PRECOMMIT, height: 1, round: 0, blockHash: null })
  for (const type of [0, 3, 255]) throwsCodec(t, () => decodeVote(encodeCbor(voteToCbor({ ...v, type }))), SCHEMA, `type ${type}`)
  throwsCodec(t, () => decodeVote(encodeCbor([1, 1, 0, null, key.publicKey, B(LIMITS.voteBytes)])), OVERSIZE)
})

test('proposal validRound: -1 or a round', t => {
  const p = signProposalHeader(key, { height: 1, round: 3, validRound: -1, blockHash: B(32) })
  const dec = (validRound: number): unknown => proposalHeaderFromCbor(decodeCbor(encodeCbor(proposalHeaderToCbor({ ...p, validRound })), 1024))
  t.notThrows(() => dec(-1))
  t.notThrows(() => dec(2))
  throwsCodec(t, () => dec(-2), SCHEMA)
})

test('certificate: at most 256 signatures', t => {
  const one = makeCertificate([key], { height: 1, round: 0, blockHash: B(32) })
  const withSigs = (n: number): Uint8Array => encodeCertificate({ ...one, signatures: new Array(n).fill(one.signatures[0]) })
  t.is(decodeCertificate(withSigs(LIMITS.validators)).signatures.length, LIMITS.validators)
  throwsCodec(t, () => decodeCertificate(withSigs(LIMITS.validators + 1)), SCHEMA)
  t.is(decodeCertificate(withSigs(0)).signatures.length, 0)
})

test('evidence: kind 1 or 2, at most 4096 bytes', t => {
  const e = voteEquivocation(key)
  if (e.kind !== 'vote') return t.fail('fixture gives vote evidence')
  for (const kind of [0, 3]) throwsCodec(t, () => decodeEvidence(encodeCbor([kind, voteToCbor(e.a), voteToCbor(e.b)])), SCHEMA, `kind ${kind}`)
  throwsCodec(t, () => decodeEvidence(B(4097)), OVERSIZE)
})

test('block: at most 10 000 batches, 100 evidence items, 3.5 MiB', t => {
  const batch = batchOf([record])
  const blockWith = (batches: number, evidence: number): Uint8Array => encodeBlock(makeBlock({
    height: 1, proposer: key, batches: new Array<RecordBatch>(batches).fill(batch), evidence: new Array(evidence).fill(voteEquivocation(key))
  }))
  t.is(decodeBlock(blockWith(LIMITS.batchesPerBlock, 0)).body.batches.length, LIMITS.batchesPerBlock)
  throwsCodec(t, () => decodeBlock(blockWith(LIMITS.batchesPerBlock + 1, 0)), SCHEMA)
  t.is(decodeBlock(blockWith(0, LIMITS.evidencePerBlock)).body.evidence.length, LIMITS.evidencePerBlock)
  throwsCodec(t, () => decodeBlock(blockWith(0, LIMITS.evidencePerBlock + 1)), SCHEMA)
  throwsCodec(t, () => decodeBlock(B(LIMITS.blockBytes + 1)), OVERSIZE)
})

test('consensus message: kind 1 or 2, seq unsigned, at most 4 MiB - 16 KiB', t => {
  const v = voteToCbor(signVote(key, { type: VoteType.PREVOTE, height: 1, round: 0, blockHash: null }))
  t.notThrows(() => decodeConsensusMessage(encodeCbor([2, v, 0])))
  for (const kind of [0, 3]) throwsCodec(t, () => decodeConsensusMessage(encodeCbor([kind, v, 0])), SCHEMA, `kind ${kind}`)
  throwsCodec(t, () => decodeConsensusMessage(encodeCbor([2, v, -1])), SCHEMA)
  throwsCodec(t, () => decodeConsensusMessage(B(LIMITS.consensusMessageBytes + 1)), OVERSIZE)
})
