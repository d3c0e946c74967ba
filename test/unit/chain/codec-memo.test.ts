import test from 'ava'
import {
  blockToCbor, decodeBatch, decodeBlock, decodeConsensusMessage, encodeBatch, encodeBlock,
  encodeConsensusMessage, batchToCbor, encodeRecord, recordToCbor
} from '../../../src/chain/codec.ts'
import fc from 'fast-check'
import * as arb from './arbitraries.ts'
import { batchId, recordId } from '../../../src/chain/hashing.ts'
import { encodeCbor } from '../../../src/encoding/cbor.ts'
import { bytesEqual } from '../../../src/encoding/bytes.ts'
import { sealBatch } from '../../../src/node/records.ts'
import { makeBlock, makeProposal, sampleBatch, sampleRecord, testKey, TEST_CHAIN_ID } from '../../helpers/fixtures.ts'

/*
 * What the decoder remembers (src/chain/memo.ts) must equal what would be computed from the
 * values: record ids, batch bytes and block bytes. A proposal carrying a batch the node already
 * holds reuses that object only when the bytes are the same.
 */

const key = testKey(1)

test('record ids remembered at decode equal ids computed from a copy of the values', t => {
  const batch = decodeBatch(encodeBatch(sampleBatch(key, 5)))
  for (const r of batch.records) t.deepEqual(recordId(r), recordId(structuredClone(r)))
  t.deepEqual(batchId(batch), batchId(structuredClone(batch)))
})

test('decoded byte strings are plain Uint8Arrays even when the input is a Buffer', t => {
  const batch = decodeBatch(Buffer.from(encodeBatch(sampleBatch(key, 1))))
  t.is(Object.getPrototypeOf(batch.author), Uint8Array.prototype)
  t.is(Object.getPrototypeOf(batch.records[0].payload), Uint8Array.prototype)
})

test('a decoded block re-encodes to exactly its input; a block of decoded batches encodes like its value tree', t => {
  const block = makeBlock({ height: 1, proposer: key, batches: [sampleBatch(key, 3), sampleBatch(testKey(2), 2)] })
  const bytes = encodeCbor(blockToCbor(block))
  t.true(bytesEqual(encodeBlock(block), bytes))
  const decoded = decodeBlock(bytes)
  t.true(bytesEqual(encodeBlock(decoded), bytes))
  const rebuilt = { header: decoded.header, body: { ...decoded.body } }
  t.true(bytesEqual(encodeBlock(rebuilt), bytes))
})

test('sealBatch encodes a batch once, to the canonical bytes, with the ids of its records', t => {
  const records = [sampleRecord(key.publicKey), sampleRecord(key.publicKey)]
  const { batch, bytes } = sealBatch(TEST_CHAIN_ID, key, records)
  t.true(bytesEqual(bytes, encodeCbor(batchToCbor(batch))))
  t.is(encodeBatch(batch), bytes)
  t.deepEqual(batchId(batch), batchId(decodeBatch(bytes)))
  // Many records (a two-byte array head), multi-byte text, a large payload.
  const more = Array.from({ length: 300 }, (_, i) => sampleRecord(key.publicKey, i, { contentType: 'text/plain; charset=ü', payload: new Uint8Array(i === 7 ? 60_000 : 3).fill(i) }))
  const sealed = sealBatch(TEST_CHAIN_ID, key, more)
  t.true(bytesEqual(sealed.bytes, encodeCbor(batchToCbor(sealed.batch))))
  t.deepEqual(batchId(sealed.batch), batchId(decodeBatch(sealed.bytes)))
})

test('a proposal reuses a known batch only when its bytes are identical', t => {
  const held = decodeBatch(encodeBatch(sampleBatch(key, 4)))
  const other = decodeBatch(encodeBatch(sampleBatch(testKey(2), 2)))
  const block = makeBlock({ height: 1, proposer: key, batches: [held, other] })
  const msg = encodeConsensusMessage({ kind: 'proposal', proposal: makeProposal(key, block, 0) })
  const known = (sig: Uint8Array): typeof held | undefined => bytesEqual(sig, held.signature) ? held : undefined
  const m = decodeConsensusMessage(msg, known)
  if (m.kind !== 'proposal') return t.fail()
  t.is(m.proposal.block.body.batches[0], held)
  t.not(m.proposal.block.body.batches[1], other)
  t.deepEqual(m.proposal.block.body.batches[1], other)

  // Same signature, different records: the bytes differ, so the batch is decoded, not reused.
  const forged = { ...held, records: held.records.slice(1) }
  const forgedMsg = encodeConsensusMessage({ kind: 'proposal', proposal: makeProposal(key, makeBlock({ height: 1, proposer: key, batches: [forged] }), 0) })
  const f = decodeConsensusMessage(forgedMsg, known)
  if (f.kind !== 'proposal') return t.fail()
  t.not(f.proposal.block.body.batches[0], held)
  t.is(f.proposal.block.body.batches[0].records.length, 3)
  t.notDeepEqual(batchId(f.proposal.block.body.batches[0]), batchId(held))
})

test('encodeRecord writes exactly what cborg writes for the record value tree', t => {
  fc.assert(fc.property(arb.record, r => bytesEqual(encodeRecord(r), encodeCbor(recordToCbor(r)))), { numRuns: 500 })
  const big = { ...sampleRecord(key.publicKey), timestamp: Number.MAX_SAFE_INTEGER, type: 'é'.repeat(30), payload: new Uint8Array(70_000) }
  t.true(bytesEqual(encodeRecord(big), encodeCbor(recordToCbor(big))))
  t.is(Object.getPrototypeOf(encodeRecord(big)), Uint8Array.prototype)
})
