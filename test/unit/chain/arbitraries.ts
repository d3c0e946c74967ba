import fc from 'fast-check'
import { LIMITS } from '../../../src/chain/limits.ts'
import {
  type Block, type BlockBody, type BlockHeader, type Certificate, type Evidence, type MedRecord,
  type Proposal, type ProposalHeader, type RecordBatch, type Vote, VoteType
} from '../../../src/chain/types.ts'

/**
 * fast-check arbitraries for every chain value, within the protocol's limits (signatures are
 * random bytes: these feed codec tests, not verification). Lists are kept short so a run stays
 * fast; the limit edges have their own tests.
 */

const bytes = (length: number): fc.Arbitrary<Uint8Array> => fc.uint8Array({ minLength: length, maxLength: length })
export const hash = bytes(32)
export const publicKey = bytes(32)
export const signature = bytes(64)
const uint = fc.maxSafeNat()
const smallUint = fc.nat({ max: 1_000_000 })

// Text limits count UTF-16 code units; one 'binary' unit is at most two of them.
const text = (maxUnits: number): fc.Arbitrary<string> => fc.string({ unit: 'binary', maxLength: Math.floor(maxUnits / 2) })

export const record: fc.Arbitrary<MedRecord> = fc.record({
  type: text(LIMITS.recordTypeChars),
  subject: bytes(LIMITS.subjectBytes),
  contentType: text(LIMITS.contentTypeChars),
  payload: fc.uint8Array({ maxLength: 256 }),
  author: publicKey,
  timestamp: uint
})

export const batch: fc.Arbitrary<RecordBatch> = fc.record({
  author: publicKey,
  records: fc.array(record, { minLength: 1, maxLength: 4 }),
  signature
})

export const header: fc.Arbitrary<BlockHeader> = fc.record({
  chainId: text(LIMITS.chainIdChars),
  height: uint,
  round: smallUint,
  time: uint,
  proposer: publicKey,
  parentHash: hash,
  recordsRoot: hash,
  validatorSetHash: hash,
  lastCommitHash: hash,
  evidenceHash: hash
})

export const vote: fc.Arbitrary<Vote> = fc.record({
  type: fc.constantFrom(VoteType.PREVOTE, VoteType.PRECOMMIT),
  height: uint,
  round: smallUint,
  blockHash: fc.option(hash, { nil: null }),
  validator: publicKey,
  signature
})

export const proposalHeader: fc.Arbitrary<ProposalHeader> = fc.record({
  height: uint,
  round: smallUint,
  validRound: fc.integer({ min: -1, max: 1_000_000 }),
  blockHash: hash,
  proposer: publicKey,
  signature
})

export const certificate: fc.Arbitrary<Certificate> = fc.record({
  height: uint,
  round: smallUint,
  blockHash: hash,
  signatures: fc.array(fc.record({ validator: publicKey, signature }), { maxLength: 7 })
})

export const evidence: fc.Arbitrary<Evidence> = fc.oneof(
  fc.record({ kind: fc.constant('vote' as const), a: vote, b: vote }),
  fc.record({ kind: fc.constant('proposal' as const), a: proposalHeader, b: proposalHeader })
)

export const body: fc.Arbitrary<BlockBody> = fc.record({
  batches: fc.array(batch, { maxLength: 3 }),
  lastCommit: fc.option(certificate, { nil: null }),
  evidence: fc.array(evidence, { maxLength: 2 })
})

export const block: fc.Arbitrary<Block> = fc.record({ header, body })

export const proposal: fc.Arbitrary<Proposal> = fc.record({ header: proposalHeader, block })
