import test from 'ava'
import { type Cbor, CodecErrorCode, decodeCbor, encodeCbor } from '../../../src/encoding/cbor.ts'
import {
  batchToCbor, blockToCbor, bodyFromCbor, bodyToCbor, certificateToCbor, decodeBatch, decodeBlock,
  decodeCertificate, decodeConsensusMessage, decodeEvidence, decodeRecord, decodeVote, evidenceToCbor,
  finalizedFromCbor, finalizedToCbor, headerFromCbor, headerToCbor, proposalHeaderFromCbor,
  proposalHeaderToCbor, proposalToCbor, recordToCbor, voteToCbor
} from '../../../src/chain/codec.ts'
import { LIMITS } from '../../../src/chain/limits.ts'
import { VoteType } from '../../../src/chain/types.ts'
import {
  makeBlock, makeCertificate, makeProposal, sampleBatch, sampleRecord, signVote, testKey, voteEquivocation
} from '../../helpers/fixtures.ts'
import { throwsCodec } from '../encoding/codec-error.ts'

/*
 * Schema rejections: an unknown (extra) field, a missing field, or any field of the wrong type or
 * size is a CodecError with code CODEC_SCHEMA, at every position of every message.
 */

const B = (n: number): Uint8Array => new Uint8Array(n)

/** Values of the wrong type (or size) for each kind of field. */
const WRONG = {
  text: [null, 0, B(1), [], true],
  uint: [null, -1, '1', B(1), [], true],
  int: [null, -2, '1', B(1), [], true],
  bytes32: [null, 0, 'x', B(0), B(31), B(33), [], true],
  bytes64: [null, 0, 'x', B(32), B(63), B(65), [], true],
  bytes: [null, 0, 'x', [], true],
  nullableBytes32: [0, 'x', B(31), B(33), [], false],
  list: [null, 0, 'x', B(1), true],
  tuple: [null, 0, 'x', B(1), true, [], [0]],
  nullableTuple: [0, 'x', B(1), true, [], [0]],
  voteType: [0, 3, -1, null, '1'],
  tag12: [0, 3, -1, null, '1']
} satisfies Record<string, Cbor[]>

type Kind = keyof typeof WRONG

interface Shape { name: string, valid: Cbor[], fields: Kind[], decode: (b: Uint8Array) => unknown }

const viaCbor = (fromCbor: (v: Cbor) => unknown) => (b: Uint8Array): unknown => fromCbor(decodeCbor(b, LIMITS.blockBytes))
const key = testKey(1)
const record = sampleRecord(key.publicKey)
const batch = sampleBatch(key, 2)
const cert = makeCertificate([key, testKey(2)], { height: 1, round: 0, blockHash: B(32) })
const block = makeBlock({ height: 2, proposer: key, batches: [batch], lastCommit: cert, evidence: [voteEquivocation(key)] })
const vote = signVote(key, { type: VoteType.PREVOTE, height: 1, round: 0, blockHash: B(32) })
const proposal = makeProposal(key, block, 0)

const SHAPES: Shape[] = [
  { name: 'record', valid: recordToCbor(record) as Cbor[], fields: ['text', 'bytes32', 'text', 'bytes', 'bytes32', 'uint'], decode: decodeRecord },
  { name: 'batch', valid: batchToCbor(batch) as Cbor[], fields: ['bytes32', 'bytes64', 'list'], decode: decodeBatch },
  {
    name: 'header',
    valid: headerToCbor(block.header) as Cbor[],
    fields: ['text', 'uint', 'uint', 'uint', 'bytes32', 'bytes32', 'bytes32', 'bytes32', 'bytes32', 'bytes32'],
    decode: viaCbor(headerFromCbor)
  },
  { name: 'vote', valid: voteToCbor(vote) as Cbor[], fields: ['voteType', 'uint', 'uint', 'nullableBytes32', 'bytes32', 'bytes64'], decode: decodeVote },
  { name: 'proposal header', valid: proposalHeaderToCbor(proposal.header) as Cbor[], fields: ['uint', 'uint', 'int', 'bytes32', 'bytes32', 'bytes64'], decode: viaCbor(proposalHeaderFromCbor) },
  { name: 'certificate', valid: certificateToCbor(cert) as Cbor[], fields: ['uint', 'uint', 'bytes32', 'list'], decode: decodeCertificate },
  { name: 'certificate signature', valid: [B(32), B(64)], fields: ['bytes32', 'bytes64'], decode: b => decodeCertificate(encodeCbor([1, 0, B(32), [decodeCbor(b, 1024)]])) },
  { name: 'evidence', valid: evidenceToCbor(voteEquivocation(key)) as Cbor[], fields: ['tag12', 'tuple', 'tuple'], decode: decodeEvidence },
  { name: 'body', valid: bodyToCbor(block.body) as Cbor[], fields: ['list', 'nullableTuple', 'list'], decode: viaCbor(bodyFromCbor) },
  { name: 'block', valid: blockToCbor(block) as Cbor[], fields: ['tuple', 'tuple'], decode: decodeBlock },
  { name: 'consensus proposal', valid: [1, proposalToCbor(proposal), 0], fields: ['tag12', 'tuple', 'uint'], decode: decodeConsensusMessage },
  { name: 'consensus vote', valid: [2, voteToCbor(vote), 0], fields: ['tag12', 'tuple', 'uint'], decode: decodeConsensusMessage },
  { name: 'finalized block', valid: finalizedToCbor({ block, certificate: cert }) as Cbor[], fields: ['tuple', 'tuple'], decode: viaCbor(finalizedFromCbor) }
]

const SCHEMA = CodecErrorCode.SCHEMA

for (const s of SHAPES) {
  test(`${s.name}: the valid sample decodes`, t => {
    t.notThrows(() => s.decode(encodeCbor(s.valid)))
  })

  test(`${s.name}: an extra (unknown) field, a missing field, an empty array or a non-array is SCHEMA`, t => {
    throwsCodec(t, () => s.decode(encodeCbor([...s.valid, 0])), SCHEMA, 'extra field')
    throwsCodec(t, () => s.decode(encodeCbor([...s.valid, null])), SCHEMA, 'extra null field')
    throwsCodec(t, () => s.decode(encodeCbor(s.valid.slice(0, -1))), SCHEMA, 'missing field')
    throwsCodec(t, () => s.decode(encodeCbor([])), SCHEMA, 'empty array')
    for (const v of [null, 0, 'x', B(4), true]) throwsCodec(t, () => s.decode(encodeCbor(v)), SCHEMA, `top level ${String(v)}`)
  })

  test(`${s.name}: a wrong type or size at any position is SCHEMA`, t => {
    s.fields.forEach((kind, i) => {
      for (const w of WRONG[kind]) {
        const bad = [...s.valid]
        bad[i] = w
        throwsCodec(t, () => s.decode(encodeCbor(bad)), SCHEMA, `field ${i} (${kind}) = ${JSON.stringify(w)}`)
      }
    })
  })
}

test('a malformed item nested in a list is SCHEMA (record in a batch, batch in a block, evidence in a body)', t => {
  const rec = recordToCbor(record) as Cbor[]
  throwsCodec(t, () => decodeBatch(encodeCbor([key.publicKey, B(64), [[...rec, 0]]])), SCHEMA)
  throwsCodec(t, () => decodeBatch(encodeCbor([key.publicKey, B(64), [rec, rec.slice(1)]])), SCHEMA)
  const [header, [batches, last, evidence]] = blockToCbor(block) as [Cbor, Cbor[]]
  throwsCodec(t, () => decodeBlock(encodeCbor([header, [[...(batches as Cbor[]), [key.publicKey]], last, evidence]])), SCHEMA)
  throwsCodec(t, () => decodeBlock(encodeCbor([header, [batches, last, [0]]])), SCHEMA)
})
