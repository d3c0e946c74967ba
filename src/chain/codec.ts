import {
  type Cbor, cborHead, concatBytes, encodeArrayOfEncoded, encodeCbor, CodecError, CodecErrorCode, headSize, writeHead
} from '../encoding/cbor.ts'
import { CborReader, readAll } from '../encoding/reader.ts'
import { HASH_LENGTH } from '../crypto/hash.ts'
import { PUBLIC_KEY_LENGTH, SIGNATURE_LENGTH } from '../crypto/ed25519.ts'
import { LIMITS } from './limits.ts'
import { encodedBatches, encodedBlocks, recordBytes } from './memo.ts'
import type {
  Block, BlockBody, BlockHeader, Certificate, CommitSignature, Evidence, FinalizedBlock, MedRecord,
  Proposal, ProposalHeader, RecordBatch, Vote
} from './types.ts'
import { VoteType } from './types.ts'

/**
 * Canonical encodings of every chain value: each a CBOR array in the field order of types.ts.
 * `xToCbor` gives the value tree to encode; `readX` decodes one value from a CborReader (strict
 * and canonical, see encoding/reader.ts); `encodeX`/`decodeX` are the byte-level entry points and
 * `xFromCbor` reads from an already decoded tree.
 *
 * Decoding remembers what the bytes give for free (memo.ts): each record's exact range it was read
 * from (its id is their SHA-256, computed when first needed), and each batch and block keeps the bytes it came from, so
 * encoding them again (a block that carries gossiped batches, a commit) copies bytes instead of
 * encoding values.
 */

/** Adapts a reader to an already decoded value tree (tests, tools). */
const fromTree = <T>(read: (r: CborReader) => T) => (v: Cbor): T => readAll(encodeCbor(v), Number.MAX_SAFE_INTEGER, read)

/**
 * Batches this node already decoded and verified, by signature: a proposal or block that carries
 * the same bytes reuses the object instead of decoding it again.
 */
export type KnownBatches = (signature: Uint8Array) => RecordBatch | undefined

// ---- record ----
export function recordToCbor (r: MedRecord): Cbor {
  return [r.type, r.subject, r.contentType, r.payload, r.author, r.timestamp]
}
export function readRecord (r: CborReader): MedRecord {
  const start = r.pos
  r.tuple(6, 'record')
  const record: MedRecord = {
    type: r.text('record.type', LIMITS.recordTypeChars),
    subject: r.bytes('record.subject', { length: LIMITS.subjectBytes }),
    contentType: r.text('record.contentType', LIMITS.contentTypeChars),
    payload: r.bytes('record.payload', { max: LIMITS.payloadBytes }),
    author: r.bytes('record.author', { length: PUBLIC_KEY_LENGTH }),
    timestamp: r.uint('record.timestamp')
  }
  recordBytes.set(record, r.span(start))
  return record
}
/**
 * A record's canonical encoding, written directly (the same bytes as encodeCbor(recordToCbor(r)),
 * which a property test holds it to): every submitted record is encoded once, on the hot path.
 */
export function encodeRecord (r: MedRecord): Uint8Array {
  const size = recordSize(r)
  // Values no decoder accepts (tests build them on purpose) are encoded by the generic encoder.
  if (size === undefined) return encodeCbor(recordToCbor(r))
  if (size > scratch.length) scratch = Buffer.allocUnsafeSlow(Math.max(size, scratch.length * 2))
  writeRecord(r, scratch, 0)
  return new Uint8Array(scratch.subarray(0, size))
}

/** The encoded size of a record whose fields have valid types, else undefined. */
function recordSize (r: MedRecord): number | undefined {
  if (!Number.isSafeInteger(r.timestamp) || r.timestamp < 0 || typeof r.type !== 'string' || typeof r.contentType !== 'string' ||
    !(r.subject instanceof Uint8Array) || !(r.payload instanceof Uint8Array) || !(r.author instanceof Uint8Array)) return undefined
  const type = Buffer.byteLength(r.type, 'utf8')
  const contentType = Buffer.byteLength(r.contentType, 'utf8')
  return 1 + headSize(type) + type + headSize(r.subject.length) + r.subject.length + headSize(contentType) + contentType +
    headSize(r.payload.length) + r.payload.length + headSize(r.author.length) + r.author.length + headSize(r.timestamp)
}

function writeRecord (r: MedRecord, out: Buffer, at: number): number {
  out[at++] = 0x86
  at = writeHead(out, at, 3, Buffer.byteLength(r.type, 'utf8')); at += out.write(r.type, at, 'utf8')
  at = writeHead(out, at, 2, r.subject.length); out.set(r.subject, at); at += r.subject.length
  at = writeHead(out, at, 3, Buffer.byteLength(r.contentType, 'utf8')); at += out.write(r.contentType, at, 'utf8')
  at = writeHead(out, at, 2, r.payload.length); out.set(r.payload, at); at += r.payload.length
  at = writeHead(out, at, 2, r.author.length); out.set(r.author, at); at += r.author.length
  return writeHead(out, at, 0, r.timestamp)
}

const BATCH_SIGNATURE_AT = 1 + 2 + PUBLIC_KEY_LENGTH + 2

/**
 * A new batch's bytes, written once into one buffer: its records in place, the signature left
 * blank for setBatchSignature (the author signs the root of the records' ids, which are hashes
 * of `records`, views into the buffer). Undefined for records whose fields have invalid types.
 */
export function encodeUnsignedBatch (author: Uint8Array, records: MedRecord[]): { bytes: Uint8Array, records: Uint8Array[] } | undefined {
  const sizes = records.map(recordSize)
  if (author.length !== PUBLIC_KEY_LENGTH || sizes.some(n => n === undefined)) return undefined
  const start = BATCH_SIGNATURE_AT + SIGNATURE_LENGTH
  const bodyAt = start + headSize(records.length)
  const out = Buffer.alloc(bodyAt + (sizes as number[]).reduce((a, b) => a + b, 0))
  out[0] = 0x83
  writeHead(out, 1, 2, PUBLIC_KEY_LENGTH); out.set(author, 3)
  writeHead(out, BATCH_SIGNATURE_AT - 2, 2, SIGNATURE_LENGTH)
  writeHead(out, start, 4, records.length)
  const bytes = new Uint8Array(out.buffer, out.byteOffset, out.length)
  const views: Uint8Array[] = []
  let at = bodyAt
  for (const r of records) {
    const end = writeRecord(r, out, at)
    views.push(bytes.subarray(at, end))
    at = end
  }
  return { bytes, records: views }
}

/** Fills in the signature of encodeUnsignedBatch's bytes and remembers them as the batch's encoding. */
export function setBatchSignature (batch: RecordBatch, bytes: Uint8Array): void {
  bytes.set(batch.signature, BATCH_SIGNATURE_AT)
  encodedBatches.set(batch, bytes)
}

let scratch = Buffer.allocUnsafeSlow(4096)

export const decodeRecord = (b: Uint8Array): MedRecord => readAll(b, LIMITS.payloadBytes + 1024, readRecord)

// ---- batch ----
export function batchToCbor (b: RecordBatch): Cbor {
  return [b.author, b.signature, b.records.map(recordToCbor)]
}
export function readBatch (r: CborReader, known?: KnownBatches): RecordBatch {
  const start = r.pos
  r.tuple(3, 'batch')
  const author = r.bytes('batch.author', { length: PUBLIC_KEY_LENGTH })
  const signature = r.bytes('batch.signature', { length: SIGNATURE_LENGTH })
  const seen = known?.(signature)
  const seenBytes = seen === undefined ? undefined : encodedBatches.get(seen)
  if (seenBytes !== undefined) {
    // CBOR items delimit themselves: the same bytes from the same start are the same batch.
    r.pos = start
    if (r.startsWith(seenBytes)) {
      r.skipBytes(seenBytes.length)
      return seen as RecordBatch
    }
    r.tuple(3, 'batch'); r.bytes('batch.author'); r.bytes('batch.signature')
  }
  const n = r.list(LIMITS.recordsPerBatch, 'batch.records')
  if (n === 0) throw new CodecError(CodecErrorCode.SCHEMA, 'batch.records: a batch holds at least one record')
  const records = new Array<MedRecord>(n)
  for (let i = 0; i < n; i++) records[i] = readRecord(r)
  const batch = { author, signature, records }
  encodedBatches.set(batch, r.span(start))
  return batch
}
export const encodeBatch = (b: RecordBatch): Uint8Array => encodedBatches.get(b) ?? encodeCbor(batchToCbor(b))
export const decodeBatch = (b: Uint8Array): RecordBatch => readAll(b, LIMITS.batchBytes, r => readBatch(r))

/** A message of the batches gossip topic: an array of 1 to batchesPerMessage batches. */
export function decodeBatchMessage (b: Uint8Array): RecordBatch[] {
  return readAll(b, LIMITS.consensusMessageBytes, r => {
    const n = r.list(LIMITS.batchesPerMessage, 'batch message')
    if (n === 0) throw new CodecError(CodecErrorCode.SCHEMA, 'batch message: expected at least one batch')
    return Array.from({ length: n }, () => readBatch(r))
  })
}

// ---- header ----
export function headerToCbor (h: BlockHeader): Cbor {
  return [h.chainId, h.height, h.round, h.time, h.proposer, h.parentHash, h.recordsRoot, h.validatorSetHash, h.lastCommitHash, h.evidenceHash]
}
export function readHeader (r: CborReader): BlockHeader {
  r.tuple(10, 'header')
  return {
    chainId: r.text('header.chainId', LIMITS.chainIdChars),
    height: r.uint('header.height'),
    round: r.uint('header.round'),
    time: r.uint('header.time'),
    proposer: r.bytes('header.proposer', { length: PUBLIC_KEY_LENGTH }),
    parentHash: r.bytes('header.parentHash', { length: HASH_LENGTH }),
    recordsRoot: r.bytes('header.recordsRoot', { length: HASH_LENGTH }),
    validatorSetHash: r.bytes('header.validatorSetHash', { length: HASH_LENGTH }),
    lastCommitHash: r.bytes('header.lastCommitHash', { length: HASH_LENGTH }),
    evidenceHash: r.bytes('header.evidenceHash', { length: HASH_LENGTH })
  }
}
export const headerFromCbor = fromTree(readHeader)
export const encodeHeader = (h: BlockHeader): Uint8Array => encodeCbor(headerToCbor(h))

// ---- votes, proposals, certificates, evidence ----
export function voteToCbor (v: Vote): Cbor {
  return [v.type, v.height, v.round, v.blockHash, v.validator, v.signature]
}
export function readVote (r: CborReader): Vote {
  r.tuple(6, 'vote')
  const type = r.uint('vote.type')
  if (type !== VoteType.PREVOTE && type !== VoteType.PRECOMMIT) throw new CodecError(CodecErrorCode.SCHEMA, 'vote.type: expected 1 (prevote) or 2 (precommit)', { field: 'vote.type' })
  return {
    type,
    height: r.uint('vote.height'),
    round: r.uint('vote.round'),
    blockHash: r.nullableBytes('vote.blockHash', HASH_LENGTH),
    validator: r.bytes('vote.validator', { length: PUBLIC_KEY_LENGTH }),
    signature: r.bytes('vote.signature', { length: SIGNATURE_LENGTH })
  }
}
export const encodeVote = (v: Vote): Uint8Array => encodeCbor(voteToCbor(v))
export const decodeVote = (b: Uint8Array): Vote => readAll(b, LIMITS.voteBytes, readVote)

export function proposalHeaderToCbor (p: ProposalHeader): Cbor {
  return [p.height, p.round, p.validRound, p.blockHash, p.proposer, p.signature]
}
export function readProposalHeader (r: CborReader): ProposalHeader {
  r.tuple(6, 'proposal')
  const height = r.uint('proposal.height')
  const round = r.uint('proposal.round')
  const validRound = r.int('proposal.validRound')
  if (validRound < -1) throw new CodecError(CodecErrorCode.SCHEMA, 'proposal.validRound: expected -1 or a round', { field: 'proposal.validRound' })
  return {
    height,
    round,
    validRound,
    blockHash: r.bytes('proposal.blockHash', { length: HASH_LENGTH }),
    proposer: r.bytes('proposal.proposer', { length: PUBLIC_KEY_LENGTH }),
    signature: r.bytes('proposal.signature', { length: SIGNATURE_LENGTH })
  }
}
export const proposalHeaderFromCbor = fromTree(readProposalHeader)

export function certificateToCbor (c: Certificate): Cbor {
  return [c.height, c.round, c.blockHash, c.signatures.map(s => [s.validator, s.signature])]
}
export function readCertificate (r: CborReader): Certificate {
  r.tuple(4, 'certificate')
  const height = r.uint('certificate.height')
  const round = r.uint('certificate.round')
  const blockHash = r.bytes('certificate.blockHash', { length: HASH_LENGTH })
  const n = r.list(LIMITS.validators, 'certificate.signatures')
  const signatures: CommitSignature[] = []
  for (let i = 0; i < n; i++) {
    r.tuple(2, 'certificate.signature')
    signatures.push({
      validator: r.bytes('certificate.signature.validator', { length: PUBLIC_KEY_LENGTH }),
      signature: r.bytes('certificate.signature.signature', { length: SIGNATURE_LENGTH })
    })
  }
  return { height, round, blockHash, signatures }
}
export const encodeCertificate = (c: Certificate): Uint8Array => encodeCbor(certificateToCbor(c))
export const decodeCertificate = (b: Uint8Array): Certificate => readAll(b, LIMITS.validators * 128 + 128, readCertificate)

const EVIDENCE_VOTE = 1
const EVIDENCE_PROPOSAL = 2
export function evidenceToCbor (e: Evidence): Cbor {
  return e.kind === 'vote'
    ? [EVIDENCE_VOTE, voteToCbor(e.a), voteToCbor(e.b)]
    : [EVIDENCE_PROPOSAL, proposalHeaderToCbor(e.a), proposalHeaderToCbor(e.b)]
}
export function readEvidence (r: CborReader): Evidence {
  r.tuple(3, 'evidence')
  const kind = r.uint('evidence.kind')
  if (kind === EVIDENCE_VOTE) return { kind: 'vote', a: readVote(r), b: readVote(r) }
  if (kind === EVIDENCE_PROPOSAL) return { kind: 'proposal', a: readProposalHeader(r), b: readProposalHeader(r) }
  throw new CodecError(CodecErrorCode.SCHEMA, 'evidence.kind: expected 1 (votes) or 2 (proposals)', { field: 'evidence.kind' })
}
export const encodeEvidence = (e: Evidence): Uint8Array => encodeCbor(evidenceToCbor(e))
export const decodeEvidence = (b: Uint8Array): Evidence => readAll(b, 4096, readEvidence)

// ---- block ----
export function bodyToCbor (b: BlockBody): Cbor {
  return [b.batches.map(batchToCbor), b.lastCommit === null ? null : certificateToCbor(b.lastCommit), b.evidence.map(evidenceToCbor)]
}
export function readBody (r: CborReader, known?: KnownBatches): BlockBody {
  r.tuple(3, 'body')
  const nb = r.list(LIMITS.batchesPerBlock, 'body.batches')
  const batches = new Array<RecordBatch>(nb)
  for (let i = 0; i < nb; i++) batches[i] = readBatch(r, known)
  const lastCommit = r.null() ? null : readCertificate(r)
  const ne = r.list(LIMITS.evidencePerBlock, 'body.evidence')
  const evidence: Evidence[] = []
  for (let i = 0; i < ne; i++) evidence.push(readEvidence(r))
  return { batches, lastCommit, evidence }
}
export const bodyFromCbor = fromTree(r => readBody(r))
export function blockToCbor (b: Block): Cbor {
  return [headerToCbor(b.header), bodyToCbor(b.body)]
}
export function readBlock (r: CborReader, known?: KnownBatches): Block {
  const start = r.pos
  r.tuple(2, 'block')
  const block = { header: readHeader(r), body: readBody(r, known) }
  encodedBlocks.set(block, r.span(start))
  return block
}
/** A block's canonical encoding; batches (and blocks) read from bytes are not encoded again. */
export function encodeBlock (b: Block): Uint8Array {
  const known = encodedBlocks.get(b)
  if (known !== undefined) return known
  const { batches, lastCommit, evidence } = b.body
  return concatBytes([
    cborHead(4, 2),
    encodeHeader(b.header),
    cborHead(4, 3),
    encodeArrayOfEncoded(batches.map(encodeBatch)),
    encodeCbor(lastCommit === null ? null : certificateToCbor(lastCommit)),
    encodeCbor(evidence.map(evidenceToCbor))
  ])
}
export const decodeBlock = (b: Uint8Array): Block => readAll(b, LIMITS.blockBytes, r => readBlock(r))

export function proposalToCbor (p: Proposal): Cbor {
  return [proposalHeaderToCbor(p.header), blockToCbor(p.block)]
}
export function readProposal (r: CborReader, known?: KnownBatches): Proposal {
  r.tuple(2, 'proposal')
  return { header: readProposalHeader(r), block: readBlock(r, known) }
}

export function finalizedToCbor (f: FinalizedBlock): Cbor {
  return [blockToCbor(f.block), certificateToCbor(f.certificate)]
}
export function readFinalized (r: CborReader): FinalizedBlock {
  r.tuple(2, 'finalized')
  return { block: readBlock(r), certificate: readCertificate(r) }
}
export const finalizedFromCbor = fromTree(readFinalized)
export const decodeFinalized = (b: Uint8Array, maxBytes: number): FinalizedBlock => readAll(b, maxBytes, readFinalized)
export const encodeFinalized = (f: FinalizedBlock): Uint8Array => encodeArrayOfEncoded([encodeBlock(f.block), encodeCertificate(f.certificate)])

// ---- consensus gossip: one topic carries proposals and votes ----
/**
 * `seq` counts rebroadcasts of the same signed message: gossip ids are content hashes, so a
 * message re-sent to a peer that missed it (after an outage) needs different bytes. Receivers
 * deduplicate on the signed content, never on seq.
 */
export type ConsensusMessage = ({ kind: 'proposal', proposal: Proposal } | { kind: 'vote', vote: Vote }) & { seq?: number }
const MSG_PROPOSAL = 1
const MSG_VOTE = 2
const MSG_COMPACT_PROPOSAL = 3
export function encodeConsensusMessage (m: ConsensusMessage): Uint8Array {
  const seq = encodeCbor(m.seq ?? 0)
  if (m.kind === 'vote') return concatBytes([cborHead(4, 3), encodeCbor(MSG_VOTE), encodeVote(m.vote), seq])
  const p = m.proposal
  return concatBytes([cborHead(4, 3), encodeCbor(MSG_PROPOSAL), cborHead(4, 2), encodeCbor(proposalHeaderToCbor(p.header)), encodeBlock(p.block), seq])
}
/**
 * A proposal as it travels (docs/protocol.md, section 3.10): the block with each batch replaced by
 * its id. Receivers fill the batches from what they hold and fetch the rest; the ids must give the
 * header's recordsRoot, so the block they assemble is the one the proposer signed.
 */
export interface CompactProposal {
  header: ProposalHeader
  blockHeader: BlockHeader
  batchIds: Uint8Array[]
  lastCommit: Certificate | null
  evidence: Evidence[]
}

/** A consensus gossip message as decoded from the wire: a compact proposal still lacks its batches. */
export type WireConsensusMessage = ConsensusMessage | ({ kind: 'compact-proposal', compact: CompactProposal } & { seq?: number })

/**
 * The compact envelope of a proposal, `[3, [ProposalHeader, [BlockHeader, [batchId...], lastCommit,
 * [evidence...]]], seq]`; `batchIds` are the ids of the block's batches, in order (hashing.ts).
 */
export function encodeCompactProposalMessage (p: Proposal, batchIds: Uint8Array[], seq = 0): Uint8Array {
  const { lastCommit, evidence } = p.block.body
  const ids = Buffer.allocUnsafe(headSize(batchIds.length) + batchIds.length * (headSize(HASH_LENGTH) + HASH_LENGTH))
  let pos = writeHead(ids, 0, 4, batchIds.length)
  for (const id of batchIds) {
    pos = writeHead(ids, pos, 2, HASH_LENGTH)
    ids.set(id, pos)
    pos += HASH_LENGTH
  }
  return concatBytes([
    cborHead(4, 3), encodeCbor(MSG_COMPACT_PROPOSAL),
    cborHead(4, 2), encodeCbor(proposalHeaderToCbor(p.header)),
    cborHead(4, 4), encodeHeader(p.block.header), ids.subarray(0, pos),
    encodeCbor(lastCommit === null ? null : certificateToCbor(lastCommit)),
    encodeCbor(evidence.map(evidenceToCbor)),
    encodeCbor(seq)
  ])
}

function readCompactProposal (r: CborReader): CompactProposal {
  r.tuple(2, 'compact proposal')
  const header = readProposalHeader(r)
  r.tuple(4, 'compact block')
  const blockHeader = readHeader(r)
  const n = r.list(LIMITS.batchesPerBlock, 'compact block.batchIds')
  const batchIds = new Array<Uint8Array>(n)
  for (let i = 0; i < n; i++) batchIds[i] = r.bytes('compact block.batchId', { length: HASH_LENGTH })
  const lastCommit = r.null() ? null : readCertificate(r)
  const ne = r.list(LIMITS.evidencePerBlock, 'compact block.evidence')
  const evidence: Evidence[] = []
  for (let i = 0; i < ne; i++) evidence.push(readEvidence(r))
  return { header, blockHeader, batchIds, lastCommit, evidence }
}

export function decodeConsensusMessage (b: Uint8Array, known?: KnownBatches): ConsensusMessage {
  const m = decodeWireConsensusMessage(b, known)
  if (m.kind === 'compact-proposal') throw new CodecError(CodecErrorCode.SCHEMA, 'consensus message kind: a compact proposal needs its batches assembled first', { field: 'kind' })
  return m
}

/** Any consensus gossip message: a vote, a whole proposal (kind 1) or a compact one (kind 3). */
export function decodeWireConsensusMessage (b: Uint8Array, known?: KnownBatches): WireConsensusMessage {
  return readAll(b, LIMITS.consensusMessageBytes, r => {
    r.tuple(3, 'consensus message')
    const kind = r.uint('consensus message kind')
    if (kind === MSG_PROPOSAL) {
      const proposal = readProposal(r, known)
      return { kind: 'proposal', proposal, seq: r.uint('consensus message seq') }
    }
    if (kind === MSG_VOTE) {
      const vote = readVote(r)
      return { kind: 'vote', vote, seq: r.uint('consensus message seq') }
    }
    if (kind === MSG_COMPACT_PROPOSAL) {
      const compact = readCompactProposal(r)
      return { kind: 'compact-proposal', compact, seq: r.uint('consensus message seq') }
    }
    throw new CodecError(CodecErrorCode.SCHEMA, 'consensus message kind: expected 1 (proposal), 2 (vote) or 3 (compact proposal)', { field: 'kind' })
  })
}
