import fc from 'fast-check'
import { decodeCbor, encodeCbor } from '../../../src/encoding/cbor.ts'
import {
  bodyFromCbor, bodyToCbor, decodeBatch, decodeBlock, decodeCertificate, decodeConsensusMessage,
  decodeEvidence, decodeRecord, decodeVote, encodeBatch, encodeBlock, encodeCertificate,
  encodeCompactProposalMessage, encodeConsensusMessage, encodeEvidence, encodeHeader, encodeRecord, encodeVote, finalizedFromCbor,
  finalizedToCbor, headerFromCbor, proposalHeaderFromCbor, proposalHeaderToCbor, decodeWireConsensusMessage,
  type CompactProposal
} from '../../../src/chain/codec.ts'
import { LIMITS } from '../../../src/chain/limits.ts'
import type { FinalizedBlock } from '../../../src/chain/types.ts'
import * as arb from './arbitraries.ts'

/**
 * Every chain message with its byte-level encoder and decoder, so the round-trip, rejection and
 * fuzz suites run over the same list. Messages without a byte-level entry point in the codec
 * (header, proposal header, body, finalized block) decode through decodeCbor at the block limit.
 */
export interface CodecCase<T> {
  name: string
  arbitrary: fc.Arbitrary<T>
  encode: (v: T) => Uint8Array
  decode: (b: Uint8Array) => T
}

const viaCbor = <T>(fromCbor: (v: ReturnType<typeof decodeCbor>) => T) => (b: Uint8Array): T => fromCbor(decodeCbor(b, LIMITS.blockBytes))

const finalized: fc.Arbitrary<FinalizedBlock> = arb.block.chain(block => arb.certificate.map(certificate => ({ block, certificate })))

export const CODEC_CASES: Array<CodecCase<any>> = [
  { name: 'record', arbitrary: arb.record, encode: encodeRecord, decode: decodeRecord },
  { name: 'batch', arbitrary: arb.batch, encode: encodeBatch, decode: decodeBatch },
  { name: 'header', arbitrary: arb.header, encode: encodeHeader, decode: viaCbor(headerFromCbor) },
  { name: 'vote', arbitrary: arb.vote, encode: encodeVote, decode: decodeVote },
  { name: 'proposal header', arbitrary: arb.proposalHeader, encode: p => encodeCbor(proposalHeaderToCbor(p)), decode: viaCbor(proposalHeaderFromCbor) },
  { name: 'certificate', arbitrary: arb.certificate, encode: encodeCertificate, decode: decodeCertificate },
  { name: 'evidence', arbitrary: arb.evidence, encode: encodeEvidence, decode: decodeEvidence },
  { name: 'body', arbitrary: arb.body, encode: b => encodeCbor(bodyToCbor(b)), decode: viaCbor(bodyFromCbor) },
  { name: 'block', arbitrary: arb.block, encode: encodeBlock, decode: decodeBlock },
  {
    name: 'consensus proposal',
    arbitrary: fc.record({ kind: fc.constant('proposal' as const), proposal: arb.proposal, seq: fc.nat({ max: 1000 }) }),
    encode: encodeConsensusMessage,
    decode: decodeConsensusMessage
  },
  {
    name: 'consensus vote',
    arbitrary: fc.record({ kind: fc.constant('vote' as const), vote: arb.vote, seq: fc.nat({ max: 1000 }) }),
    encode: encodeConsensusMessage,
    decode: decodeConsensusMessage
  },
  {
    name: 'consensus compact proposal',
    arbitrary: fc.record({
      kind: fc.constant('compact-proposal' as const),
      compact: fc.record({ header: arb.proposalHeader, blockHeader: arb.header, batchIds: fc.array(arb.hash, { maxLength: 5 }), lastCommit: fc.option(arb.certificate, { nil: null }), evidence: fc.array(arb.evidence, { maxLength: 2 }) }),
      seq: fc.nat({ max: 1000 })
    }),
    encode: (m: { compact: CompactProposal, seq: number }) => encodeCompactProposalMessage({ header: m.compact.header, block: { header: m.compact.blockHeader, body: { batches: [], lastCommit: m.compact.lastCommit, evidence: m.compact.evidence } } }, m.compact.batchIds, m.seq),
    decode: b => decodeWireConsensusMessage(b)
  },
  { name: 'finalized block', arbitrary: finalized, encode: f => encodeCbor(finalizedToCbor(f)), decode: viaCbor(finalizedFromCbor) }
]
