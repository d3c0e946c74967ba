import {
  type Cbor, decodeCbor, encodeCbor, readBytes, readInt, readList, readNullableBytes, readText,
  readTuple, readUint, CodecError, CodecErrorCode
} from '../encoding/cbor.ts'
import { HASH_LENGTH } from '../crypto/hash.ts'
import { PUBLIC_KEY_LENGTH, SIGNATURE_LENGTH } from '../crypto/ed25519.ts'
import { LIMITS } from './limits.ts'
import type {
  Block, BlockBody, BlockHeader, Certificate, CommitSignature, Evidence, FinalizedBlock, MedRecord,
  Proposal, ProposalHeader, RecordBatch, Vote
} from './types.ts'
import { VoteType } from './types.ts'

/**
 * Canonical encodings of every chain value: each a CBOR array in the field order of types.ts.
 * `toCbor`/`fromCbor` pairs compose; `encodeX`/`decodeX` are the byte-level entry points.
 */

// ---- record ----
export function recordToCbor (r: MedRecord): Cbor {
  return [r.type, r.subject, r.contentType, r.payload, r.author, r.timestamp]
}
export function recordFromCbor (v: Cbor): MedRecord {
  const [type, subject, contentType, payload, author, timestamp] = readTuple(v, 6, 'record')
  return {
    type: readText(type, 'record.type', LIMITS.recordTypeChars),
    subject: readBytes(subject, 'record.subject', { length: LIMITS.subjectBytes }),
    contentType: readText(contentType, 'record.contentType', LIMITS.contentTypeChars),
    payload: readBytes(payload, 'record.payload', { max: LIMITS.payloadBytes }),
    author: readBytes(author, 'record.author', { length: PUBLIC_KEY_LENGTH }),
    timestamp: readUint(timestamp, 'record.timestamp')
  }
}
export const encodeRecord = (r: MedRecord): Uint8Array => encodeCbor(recordToCbor(r))
export const decodeRecord = (b: Uint8Array): MedRecord => recordFromCbor(decodeCbor(b, LIMITS.payloadBytes + 1024))

// ---- batch ----
export function batchToCbor (b: RecordBatch): Cbor {
  return [b.author, b.signature, b.records.map(recordToCbor)]
}
export function batchFromCbor (v: Cbor): RecordBatch {
  const [author, signature, records] = readTuple(v, 3, 'batch')
  const list = readList(records, LIMITS.recordsPerBatch, 'batch.records')
  if (list.length === 0) throw new CodecError(CodecErrorCode.SCHEMA, 'batch.records: a batch holds at least one record')
  return {
    author: readBytes(author, 'batch.author', { length: PUBLIC_KEY_LENGTH }),
    signature: readBytes(signature, 'batch.signature', { length: SIGNATURE_LENGTH }),
    records: list.map(recordFromCbor)
  }
}
export const encodeBatch = (b: RecordBatch): Uint8Array => encodeCbor(batchToCbor(b))
export const decodeBatch = (b: Uint8Array): RecordBatch => batchFromCbor(decodeCbor(b, LIMITS.batchBytes))

// ---- header ----
export function headerToCbor (h: BlockHeader): Cbor {
  return [h.chainId, h.height, h.round, h.time, h.proposer, h.parentHash, h.recordsRoot, h.validatorSetHash, h.lastCommitHash, h.evidenceHash]
}
export function headerFromCbor (v: Cbor): BlockHeader {
  const f = readTuple(v, 10, 'header')
  return {
    chainId: readText(f[0], 'header.chainId', LIMITS.chainIdChars),
    height: readUint(f[1], 'header.height'),
    round: readUint(f[2], 'header.round'),
    time: readUint(f[3], 'header.time'),
    proposer: readBytes(f[4], 'header.proposer', { length: PUBLIC_KEY_LENGTH }),
    parentHash: readBytes(f[5], 'header.parentHash', { length: HASH_LENGTH }),
    recordsRoot: readBytes(f[6], 'header.recordsRoot', { length: HASH_LENGTH }),
    validatorSetHash: readBytes(f[7], 'header.validatorSetHash', { length: HASH_LENGTH }),
    lastCommitHash: readBytes(f[8], 'header.lastCommitHash', { length: HASH_LENGTH }),
    evidenceHash: readBytes(f[9], 'header.evidenceHash', { length: HASH_LENGTH })
  }
}
export const encodeHeader = (h: BlockHeader): Uint8Array => encodeCbor(headerToCbor(h))

// ---- votes, proposals, certificates, evidence ----
export function voteToCbor (v: Vote): Cbor {
  return [v.type, v.height, v.round, v.blockHash, v.validator, v.signature]
}
export function voteFromCbor (v: Cbor): Vote {
  const f = readTuple(v, 6, 'vote')
  const type = readUint(f[0], 'vote.type')
  if (type !== VoteType.PREVOTE && type !== VoteType.PRECOMMIT) throw new CodecError(CodecErrorCode.SCHEMA, 'vote.type: expected 1 (prevote) or 2 (precommit)', { field: 'vote.type' })
  return {
    type,
    height: readUint(f[1], 'vote.height'),
    round: readUint(f[2], 'vote.round'),
    blockHash: readNullableBytes(f[3], 'vote.blockHash', HASH_LENGTH),
    validator: readBytes(f[4], 'vote.validator', { length: PUBLIC_KEY_LENGTH }),
    signature: readBytes(f[5], 'vote.signature', { length: SIGNATURE_LENGTH })
  }
}
export const encodeVote = (v: Vote): Uint8Array => encodeCbor(voteToCbor(v))
export const decodeVote = (b: Uint8Array): Vote => voteFromCbor(decodeCbor(b, LIMITS.voteBytes))

export function proposalHeaderToCbor (p: ProposalHeader): Cbor {
  return [p.height, p.round, p.validRound, p.blockHash, p.proposer, p.signature]
}
export function proposalHeaderFromCbor (v: Cbor): ProposalHeader {
  const f = readTuple(v, 6, 'proposal')
  const validRound = readInt(f[2], 'proposal.validRound')
  if (validRound < -1) throw new CodecError(CodecErrorCode.SCHEMA, 'proposal.validRound: expected -1 or a round', { field: 'proposal.validRound' })
  return {
    height: readUint(f[0], 'proposal.height'),
    round: readUint(f[1], 'proposal.round'),
    validRound,
    blockHash: readBytes(f[3], 'proposal.blockHash', { length: HASH_LENGTH }),
    proposer: readBytes(f[4], 'proposal.proposer', { length: PUBLIC_KEY_LENGTH }),
    signature: readBytes(f[5], 'proposal.signature', { length: SIGNATURE_LENGTH })
  }
}

export function certificateToCbor (c: Certificate): Cbor {
  return [c.height, c.round, c.blockHash, c.signatures.map(s => [s.validator, s.signature])]
}
export function certificateFromCbor (v: Cbor): Certificate {
  const f = readTuple(v, 4, 'certificate')
  const signatures: CommitSignature[] = readList(f[3], LIMITS.validators, 'certificate.signatures').map(s => {
    const [validator, signature] = readTuple(s, 2, 'certificate.signature')
    return {
      validator: readBytes(validator, 'certificate.signature.validator', { length: PUBLIC_KEY_LENGTH }),
      signature: readBytes(signature, 'certificate.signature.signature', { length: SIGNATURE_LENGTH })
    }
  })
  return {
    height: readUint(f[0], 'certificate.height'),
    round: readUint(f[1], 'certificate.round'),
    blockHash: readBytes(f[2], 'certificate.blockHash', { length: HASH_LENGTH }),
    signatures
  }
}
export const encodeCertificate = (c: Certificate): Uint8Array => encodeCbor(certificateToCbor(c))
export const decodeCertificate = (b: Uint8Array): Certificate => certificateFromCbor(decodeCbor(b, LIMITS.validators * 128 + 128))

const EVIDENCE_VOTE = 1
const EVIDENCE_PROPOSAL = 2
export function evidenceToCbor (e: Evidence): Cbor {
  return e.kind === 'vote'
    ? [EVIDENCE_VOTE, voteToCbor(e.a), voteToCbor(e.b)]
    : [EVIDENCE_PROPOSAL, proposalHeaderToCbor(e.a), proposalHeaderToCbor(e.b)]
}
export function evidenceFromCbor (v: Cbor): Evidence {
  const [kind, a, b] = readTuple(v, 3, 'evidence')
  if (kind === EVIDENCE_VOTE) return { kind: 'vote', a: voteFromCbor(a), b: voteFromCbor(b) }
  if (kind === EVIDENCE_PROPOSAL) return { kind: 'proposal', a: proposalHeaderFromCbor(a), b: proposalHeaderFromCbor(b) }
  throw new CodecError(CodecErrorCode.SCHEMA, 'evidence.kind: expected 1 (votes) or 2 (proposals)', { field: 'evidence.kind' })
}
export const encodeEvidence = (e: Evidence): Uint8Array => encodeCbor(evidenceToCbor(e))
export const decodeEvidence = (b: Uint8Array): Evidence => evidenceFromCbor(decodeCbor(b, 4096))

// ---- block ----
export function bodyToCbor (b: BlockBody): Cbor {
  return [b.batches.map(batchToCbor), b.lastCommit === null ? null : certificateToCbor(b.lastCommit), b.evidence.map(evidenceToCbor)]
}
export function bodyFromCbor (v: Cbor): BlockBody {
  const [batches, lastCommit, evidence] = readTuple(v, 3, 'body')
  return {
    batches: readList(batches, LIMITS.batchesPerBlock, 'body.batches').map(batchFromCbor),
    lastCommit: lastCommit === null ? null : certificateFromCbor(lastCommit),
    evidence: readList(evidence, LIMITS.evidencePerBlock, 'body.evidence').map(evidenceFromCbor)
  }
}
export function blockToCbor (b: Block): Cbor {
  return [headerToCbor(b.header), bodyToCbor(b.body)]
}
export function blockFromCbor (v: Cbor): Block {
  const [header, body] = readTuple(v, 2, 'block')
  return { header: headerFromCbor(header), body: bodyFromCbor(body) }
}
export const encodeBlock = (b: Block): Uint8Array => encodeCbor(blockToCbor(b))
export const decodeBlock = (b: Uint8Array): Block => blockFromCbor(decodeCbor(b, LIMITS.blockBytes))

export function proposalToCbor (p: Proposal): Cbor {
  return [proposalHeaderToCbor(p.header), blockToCbor(p.block)]
}
export function proposalFromCbor (v: Cbor): Proposal {
  const [header, block] = readTuple(v, 2, 'proposal')
  return { header: proposalHeaderFromCbor(header), block: blockFromCbor(block) }
}

export function finalizedToCbor (f: FinalizedBlock): Cbor {
  return [blockToCbor(f.block), certificateToCbor(f.certificate)]
}
export function finalizedFromCbor (v: Cbor): FinalizedBlock {
  const [block, certificate] = readTuple(v, 2, 'finalized')
  return { block: blockFromCbor(block), certificate: certificateFromCbor(certificate) }
}

// ---- consensus gossip: one topic carries proposals and votes ----
/**
 * `seq` counts rebroadcasts of the same signed message: gossip ids are content hashes, so a
 * message re-sent to a peer that missed it (after an outage) needs different bytes. Receivers
 * deduplicate on the signed content, never on seq.
 */
export type ConsensusMessage = ({ kind: 'proposal', proposal: Proposal } | { kind: 'vote', vote: Vote }) & { seq?: number }
const MSG_PROPOSAL = 1
const MSG_VOTE = 2
export function encodeConsensusMessage (m: ConsensusMessage): Uint8Array {
  const seq = m.seq ?? 0
  return encodeCbor(m.kind === 'proposal' ? [MSG_PROPOSAL, proposalToCbor(m.proposal), seq] : [MSG_VOTE, voteToCbor(m.vote), seq])
}
export function decodeConsensusMessage (b: Uint8Array): ConsensusMessage {
  const [kind, body, seqField] = readTuple(decodeCbor(b, LIMITS.consensusMessageBytes), 3, 'consensus message')
  const seq = readUint(seqField, 'consensus message seq')
  if (kind === MSG_PROPOSAL) return { kind: 'proposal', proposal: proposalFromCbor(body), seq }
  if (kind === MSG_VOTE) return { kind: 'vote', vote: voteFromCbor(body), seq }
  throw new CodecError(CodecErrorCode.SCHEMA, 'consensus message kind: expected 1 (proposal) or 2 (vote)', { field: 'kind' })
}
