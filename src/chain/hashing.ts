import { encodeCbor } from '../encoding/cbor.ts'
import { HASH_LENGTH, sha256, ZERO_HASH } from '../crypto/hash.ts'
import { merkleRoot } from '../merkle/rfc6962.ts'
import { certificateToCbor, encodeHeader, encodeRecord, evidenceToCbor } from './codec.ts'
import { batchIds, batchRoots, recordBytes, recordIds } from './memo.ts'
import type { BlockHeader, Certificate, Evidence, MedRecord, ProposalHeader, RecordBatch, Vote } from './types.ts'

/**
 * Ids and the exact bytes every signature covers. Each signed message starts with a domain tag
 * naming the message type and version, then the chain id, so a signature can never be replayed
 * as another kind of message or on another chain.
 */
export const DOMAIN = {
  batch: 'medledger/batch/v1',
  vote: 'medledger/vote/v1',
  proposal: 'medledger/proposal/v1',
  governance: 'medledger/governance/v1',
  validatorSet: 'medledger/validator-set/v1',
  memberSet: 'medledger/member-set/v1',
  genesis: 'medledger/genesis/v1'
} as const

/** A record's id: SHA-256 of its canonical encoding (remembered per object, see memo.ts). */
export function recordId (r: MedRecord): Uint8Array {
  let id = recordIds.get(r)
  if (id === undefined) {
    // A decoded record hashes the bytes it was read from (canonical, or the decoder refused them).
    id = sha256(recordBytes.get(r) ?? encodeRecord(r))
    recordIds.set(r, id)
  }
  return id
}

/** RFC 6962 root over the ids of a batch's records: what the author signs. */
export function batchRecordsRoot (records: MedRecord[]): Uint8Array {
  return merkleRoot(records.map(recordId))
}

/** batchRecordsRoot of a batch, remembered per batch object. */
export function batchRoot (b: RecordBatch): Uint8Array {
  let root = batchRoots.get(b)
  if (root === undefined) {
    root = batchRecordsRoot(b.records)
    batchRoots.set(b, root)
  }
  return root
}

export function batchSignBytes (chainId: string, author: Uint8Array, recordsRoot: Uint8Array, count: number): Uint8Array {
  return encodeCbor([DOMAIN.batch, chainId, author, recordsRoot, count])
}

/**
 * batchSignBytes with the records root left to fill in: `message` holds zeros at
 * [rootAt, rootAt + 32), where batchSignBytes would write the root (the root is the fourth item,
 * followed only by the count; the verify pool's workers write it there, see VerifyPool.verifyRooted).
 */
export function batchSignTemplate (chainId: string, author: Uint8Array, count: number): { message: Uint8Array, rootAt: number } {
  const message = batchSignBytes(chainId, author, ZERO_HASH, count)
  const rootAt = message.length - encodeCbor(count).length - HASH_LENGTH
  // A byte string of 32 is headed 0x58 0x20: the root is where batchSignBytes put it, or this is a bug.
  if (message[rootAt - 2] !== 0x58 || message[rootAt - 1] !== HASH_LENGTH) throw new Error('batchSignTemplate: the records root is not where expected')
  return { message, rootAt }
}

/**
 * A batch's id: SHA-256 of [author, records root, record count, signature]. It commits to every
 * record through the root, and a proof can recompute it from the batch's summary alone.
 */
export function batchId (b: RecordBatch): Uint8Array {
  let id = batchIds.get(b)
  if (id === undefined) {
    id = batchIdFromSummary(b.author, batchRoot(b), b.records.length, b.signature)
    batchIds.set(b, id)
  }
  return id
}

export function batchIdFromSummary (author: Uint8Array, recordsRoot: Uint8Array, count: number, signature: Uint8Array): Uint8Array {
  return sha256(encodeCbor([author, recordsRoot, count, signature]))
}

/** The header's recordsRoot: RFC 6962 root over the block's batch ids. */
export function blockRecordsRoot (batches: RecordBatch[]): Uint8Array {
  return merkleRoot(batches.map(batchId))
}

/** The block hash covers the header only. */
export function blockHash (h: BlockHeader): Uint8Array {
  return sha256(encodeHeader(h))
}

export function certificateHash (c: Certificate | null): Uint8Array {
  return c === null ? ZERO_HASH : sha256(encodeCbor(certificateToCbor(c)))
}

export function evidenceHash (e: Evidence): Uint8Array {
  return sha256(encodeCbor(evidenceToCbor(e)))
}

export function evidenceRoot (items: Evidence[]): Uint8Array {
  return merkleRoot(items.map(evidenceHash))
}

export function voteSignBytes (chainId: string, v: Pick<Vote, 'type' | 'height' | 'round' | 'blockHash'>): Uint8Array {
  return encodeCbor([DOMAIN.vote, chainId, v.type, v.height, v.round, v.blockHash])
}

export function proposalSignBytes (chainId: string, p: Pick<ProposalHeader, 'height' | 'round' | 'validRound' | 'blockHash'>): Uint8Array {
  return encodeCbor([DOMAIN.proposal, chainId, p.height, p.round, p.validRound, p.blockHash])
}
