import { bytesEqual, toHex } from '../encoding/bytes.ts'
import type { SignatureCheck } from '../crypto/verify-pool.ts'
import { PeerAction } from '../errors.ts'
import { ChainError, ChainErrorCode } from './errors.ts'
import { RecordIdMap } from './record-id-map.ts'
import { blockHash, blockRecordsRoot, batchRoot, batchSignBytes, certificateHash, evidenceRoot, proposalSignBytes, recordId, voteSignBytes } from './hashing.ts'
import { VoteType, type Block, type BlockHeader, type Certificate, type Evidence, type ProposalHeader, type RecordBatch } from './types.ts'
import type { ValidatorSet } from './validator-set.ts'
import type { Authors } from './member-set.ts'

/**
 * The chain's validity rules as pure functions. Signature checks are returned, not run, so the
 * caller can verify many of them at once in the worker pool; everything else throws ChainError.
 */

/**
 * Record and batch rules that need no signature check. Returns the batch's signature check.
 * `authors`: who may author at the block's height, a validator or a member in force there
 * (`authorsAt` of the schedule; a ValidatorSet alone on a chain without members).
 */
export function checkBatch (chainId: string, batch: RecordBatch, authors: Authors): SignatureCheck {
  checkBatchRules(batch, authors)
  return {
    publicKey: batch.author,
    message: batchSignBytes(chainId, batch.author, batchRoot(batch), batch.records.length),
    signature: batch.signature
  }
}

/** checkBatch's rules without its signature check (for a caller whose pool checks it, see ChainVerifier). */
export function checkBatchRules (batch: RecordBatch, authors: Authors): void {
  // [REJECT] Only a validator or a member of the sets in force may author records.
  if (!authors.has(batch.author)) throw new ChainError(ChainErrorCode.BATCH_AUTHOR_UNKNOWN, `batch author ${toHex(batch.author).slice(0, 16)} is neither a validator nor a member in force`)
  for (const r of batch.records) {
    // [REJECT] A batch carries only its author's records: the author signs for all of them.
    if (!bytesEqual(r.author, batch.author)) throw new ChainError(ChainErrorCode.RECORD_AUTHOR, 'a record in the batch names another author')
    // [REJECT] The type names what the record is; the codec already bounds sizes.
    if (!/^[a-z][a-z0-9._-]*$/.test(r.type)) throw new ChainError(ChainErrorCode.RECORD_FIELD, `record type "${r.type}" must be lower-case letters, digits, dot, dash or underscore`)
    if (r.contentType.length === 0) throw new ChainError(ChainErrorCode.RECORD_FIELD, 'record contentType is empty')
  }
  // [REJECT] A record id appears once in a batch: its index entry names one place.
  if (batch.records.length > 1) claimRecordIds(batch, new RecordIdMap())
}

/**
 * The batch's record ids, in order, each added to `seen` (the record ids of the scope the caller
 * checks: a batch, a block). [REJECT] A record id appears once on the chain, so once in any
 * scope: the first id already in `seen` throws RECORD_DUPLICATE.
 */
export function claimRecordIds (batch: RecordBatch, seen: RecordIdMap<true>): Uint8Array[] {
  const ids = batch.records.map(recordId)
  for (const id of ids) {
    if (seen.has(id)) throw new ChainError(ChainErrorCode.RECORD_DUPLICATE, `record ${toHex(id).slice(0, 16)} appears twice`)
    seen.set(id, true)
  }
  return ids
}

/** Every record id of a block's batches, in order. [REJECT] None appears twice (in one batch or across batches). */
export function blockRecordIds (batches: RecordBatch[]): Uint8Array[] {
  const seen = new RecordIdMap<true>()
  return batches.flatMap(b => claimRecordIds(b, seen))
}

/**
 * [IGNORE, local] A new block's time is at most `maxDriftMs` past this node's clock. Not a rule of
 * the chain: it depends on when and where it is asked, so only consensus applies it, to new
 * proposals (docs/protocol.md, "Time"); sync, import and audit never do.
 */
export function checkBlockTime (header: BlockHeader, now: number, maxDriftMs: number): void {
  if (header.time > now + maxDriftMs) {
    throw new ChainError(ChainErrorCode.HEADER_FUTURE, `block ${header.height} is ${header.time - now} ms ahead of this node's clock (at most ${maxDriftMs} ms allowed)`, { height: header.height, time: header.time, now }, PeerAction.IGNORE)
  }
}

export interface ParentLink {
  height: number
  hash: Uint8Array
  time: number
}

/**
 * Who may have built a proposed block (its header's round and proposer), given the proposal that
 * carries it. A new block (validRound -1) is built in the proposal's round by its proposer. A
 * re-proposal (L16 of Algorithm 1: the proposer's validValue, validRound >= 0) carries the block
 * unchanged, as it was built by the proposer of an earlier round, at or before validRound: often
 * another validator than the one re-proposing it.
 */
export function checkProposedBlock (header: BlockHeader, proposal: ProposalHeader, validators: ValidatorSet): void {
  const at = { height: header.height, round: proposal.round, validRound: proposal.validRound, blockRound: header.round }
  if (proposal.validRound < 0) {
    // [REJECT] A new block is this round's, from this proposer.
    if (header.round !== proposal.round) throw new ChainError(ChainErrorCode.HEADER_ROUND, `new block of round ${header.round} proposed in round ${proposal.round}`, at)
    if (!bytesEqual(header.proposer, proposal.proposer)) throw new ChainError(ChainErrorCode.HEADER_PROPOSER, `new block ${header.height} built by another validator than its proposer`, at)
    return
  }
  // [REJECT] A re-proposed block was built at or before the round it was valid in, by that round's proposer.
  if (header.round > proposal.validRound) throw new ChainError(ChainErrorCode.HEADER_ROUND, `re-proposed block of round ${header.round} is newer than its valid round ${proposal.validRound}`, at)
  if (!validators.isProposer(header.proposer, header.height, header.round)) throw new ChainError(ChainErrorCode.HEADER_PROPOSER, `re-proposed block ${header.height} was not built by the proposer of its round ${header.round}`, at)
}

/** Header rules against the parent and the body. Does not check the proposer's turn (round-dependent): see checkProposedBlock. */
export function checkBlock (chainId: string, block: Block, parent: ParentLink, validators: ValidatorSet): void {
  const h = block.header
  // [REJECT] Every block belongs to one chain.
  if (h.chainId !== chainId) throw new ChainError(ChainErrorCode.HEADER_CHAIN_ID, `block is for chain ${h.chainId}, not ${chainId}`)
  // [REJECT] Heights follow one another; parentHash links to the previous header (or genesis).
  if (h.height !== parent.height + 1) throw new ChainError(ChainErrorCode.HEADER_HEIGHT, `expected height ${parent.height + 1}, got ${h.height}`, { height: h.height })
  if (!bytesEqual(h.parentHash, parent.hash)) throw new ChainError(ChainErrorCode.HEADER_PARENT, `block ${h.height} does not link to the previous block`, { height: h.height })
  // [REJECT] Time moves forward: strictly after the parent's (no wall clock here; see checkBlockTime).
  if (h.time <= parent.time) throw new ChainError(ChainErrorCode.HEADER_TIME, `block ${h.height} time ${h.time} is not after its parent's ${parent.time}`, { height: h.height })
  // [REJECT] The proposer is a validator; the header names the set in force.
  if (!validators.has(h.proposer)) throw new ChainError(ChainErrorCode.HEADER_PROPOSER, `block ${h.height} proposer is not a validator`, { height: h.height })
  if (!bytesEqual(h.validatorSetHash, validators.hash)) throw new ChainError(ChainErrorCode.HEADER_VALIDATOR_SET, `block ${h.height} names another validator set`, { height: h.height })
  // [REJECT] The body is exactly what the header commits to.
  if (!bytesEqual(h.recordsRoot, blockRecordsRoot(block.body.batches))) throw new ChainError(ChainErrorCode.HEADER_RECORDS_ROOT, `block ${h.height} records root does not match its batches`, { height: h.height })
  if (!bytesEqual(h.evidenceHash, evidenceRoot(block.body.evidence))) throw new ChainError(ChainErrorCode.HEADER_EVIDENCE, `block ${h.height} evidence hash does not match its evidence`, { height: h.height })
  const lc = block.body.lastCommit
  if (h.height === 1 ? lc !== null : lc === null) throw new ChainError(ChainErrorCode.HEADER_LAST_COMMIT, `block ${h.height} must ${h.height === 1 ? 'not ' : ''}carry the previous certificate`, { height: h.height })
  if (!bytesEqual(h.lastCommitHash, certificateHash(lc))) throw new ChainError(ChainErrorCode.HEADER_LAST_COMMIT, `block ${h.height} last commit hash does not match`, { height: h.height })
  // The certificate inside must be one for the parent; its signatures are checked by the caller
  // (checkCertificate against the parent header) unless it is the one the caller already holds.
  if (lc !== null && !bytesEqual(lc.blockHash, parent.hash)) throw new ChainError(ChainErrorCode.HEADER_LAST_COMMIT, `block ${h.height} carries a certificate for another block`, { height: h.height })
}

/**
 * Certificate rules: a quorum of distinct validators of the set in force precommitted this block
 * hash at this height. Returns the signature checks.
 */
export function checkCertificate (chainId: string, cert: Certificate, header: BlockHeader, validators: ValidatorSet): SignatureCheck[] {
  if (cert.height !== header.height) throw new ChainError(ChainErrorCode.CERT_HEIGHT, `certificate is for height ${cert.height}, block is ${header.height}`, { height: header.height })
  if (!bytesEqual(cert.blockHash, blockHash(header))) throw new ChainError(ChainErrorCode.CERT_BLOCK_HASH, `certificate for height ${cert.height} is for another block`, { height: header.height })
  const seen = new Set<string>()
  const checks: SignatureCheck[] = []
  const message = voteSignBytes(chainId, { type: VoteType.PRECOMMIT, height: cert.height, round: cert.round, blockHash: cert.blockHash })
  for (const s of cert.signatures) {
    const id = toHex(s.validator)
    if (!validators.has(s.validator)) throw new ChainError(ChainErrorCode.CERT_NOT_VALIDATOR, `certificate for height ${cert.height} is signed by a non-validator`, { height: cert.height })
    if (seen.has(id)) throw new ChainError(ChainErrorCode.CERT_DUPLICATE_SIGNER, `certificate for height ${cert.height} counts a validator twice`, { height: cert.height })
    seen.add(id)
    checks.push({ publicKey: s.validator, message, signature: s.signature })
  }
  // [REJECT] floor(2N/3) + 1 distinct validators: any two quorums share an honest validator.
  if (seen.size < validators.quorum) throw new ChainError(ChainErrorCode.CERT_NO_QUORUM, `certificate for height ${cert.height} has ${seen.size} of the ${validators.quorum} signatures a quorum needs`, { height: cert.height })
  return checks
}

/**
 * Evidence rules: two messages of one validator for the same (height, round, type) with
 * different hashes, both correctly signed. Checkable offline with the public keys alone.
 */
export function checkEvidence (chainId: string, e: Evidence, validators: ValidatorSet): SignatureCheck[] {
  const bad = (why: string): ChainError => new ChainError(ChainErrorCode.EVIDENCE_INVALID, `evidence: ${why}`)
  if (e.kind === 'vote') {
    const { a, b } = e
    if (a.type !== b.type || a.height !== b.height || a.round !== b.round) throw bad('votes are not for the same height, round and type')
    if (!bytesEqual(a.validator, b.validator)) throw bad('votes are from different validators')
    if (sameHash(a.blockHash, b.blockHash)) throw bad('votes do not conflict')
    if (!validators.has(a.validator)) throw bad('the accused is not a validator')
    return [a, b].map(v => ({ publicKey: v.validator, message: voteSignBytes(chainId, v), signature: v.signature }))
  }
  const { a, b } = e
  if (a.height !== b.height || a.round !== b.round) throw bad('proposals are not for the same height and round')
  if (!bytesEqual(a.proposer, b.proposer)) throw bad('proposals are from different validators')
  if (bytesEqual(a.blockHash, b.blockHash) && a.validRound === b.validRound) throw bad('proposals do not conflict')
  if (!validators.has(a.proposer)) throw bad('the accused is not a validator')
  return [a, b].map(p => ({ publicKey: p.proposer, message: proposalSignBytes(chainId, p), signature: p.signature }))
}

function sameHash (a: Uint8Array | null, b: Uint8Array | null): boolean {
  return a === null || b === null ? a === b : bytesEqual(a, b)
}
