/**
 * The data model (docs/protocol.md has the byte layouts). Public keys are raw 32-byte Ed25519
 * keys; hashes are 32-byte SHA-256; heights start at 1 (genesis is height 0 and has no block);
 * times are milliseconds since the Unix epoch, proposer-chosen and never used for validity.
 */
export interface MedRecord {
  type: string
  /** Pseudonymous patient reference: a keyed hash, never a name or ID number. */
  subject: Uint8Array
  contentType: string
  /** Opaque: ciphertext or a hash of off-chain data. */
  payload: Uint8Array
  /** Public key of the node that signed the record's batch. */
  author: Uint8Array
  timestamp: number
}

/** One author signs the RFC 6962 root of its records' ids once. */
export interface RecordBatch {
  author: Uint8Array
  records: MedRecord[]
  signature: Uint8Array
}

export interface BlockHeader {
  chainId: string
  height: number
  round: number
  time: number
  proposer: Uint8Array
  /** Hash of the previous block's header; the genesis hash at height 1. */
  parentHash: Uint8Array
  /** RFC 6962 root over the ids of the block's batches. */
  recordsRoot: Uint8Array
  /** Hash of the validator set in force at this height. */
  validatorSetHash: Uint8Array
  /** Hash of the previous block's commit certificate; zero at height 1. */
  lastCommitHash: Uint8Array
  /** RFC 6962 root over the hashes of the evidence items. */
  evidenceHash: Uint8Array
}

export interface BlockBody {
  batches: RecordBatch[]
  lastCommit: Certificate | null
  evidence: Evidence[]
}

export interface Block {
  header: BlockHeader
  body: BlockBody
}

export enum VoteType {
  PREVOTE = 1,
  PRECOMMIT = 2
}

export interface Vote {
  type: VoteType
  height: number
  round: number
  /** null is a vote for nil. */
  blockHash: Uint8Array | null
  validator: Uint8Array
  signature: Uint8Array
}

/** The signed part of a proposal: enough to prove equivocation without the block. */
export interface ProposalHeader {
  height: number
  round: number
  /** The paper's validRound; -1 when none. */
  validRound: number
  blockHash: Uint8Array
  proposer: Uint8Array
  signature: Uint8Array
}

export interface Proposal {
  header: ProposalHeader
  block: Block
}

export interface CommitSignature {
  validator: Uint8Array
  signature: Uint8Array
}

/** Precommits of a quorum of the validator set for one block hash at one (height, round). */
export interface Certificate {
  height: number
  round: number
  blockHash: Uint8Array
  signatures: CommitSignature[]
}

/** Two conflicting signed messages of one validator for the same (height, round, type). */
export type Evidence =
  | { kind: 'vote', a: Vote, b: Vote }
  | { kind: 'proposal', a: ProposalHeader, b: ProposalHeader }

/** A block made final: the block and the certificate that proves it. */
export interface FinalizedBlock {
  block: Block
  certificate: Certificate
}
