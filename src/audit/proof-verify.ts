import { bytesEqual, fromBase64, fromHex, toHex } from '../encoding/bytes.ts'
import { verifySignature } from '../crypto/ed25519.ts'
import { batchIdFromSummary, batchSignBytes, blockHash, recordId } from '../chain/hashing.ts'
import { checkCertificate } from '../chain/validate.ts'
import type { Genesis } from '../chain/genesis.ts'
import type { ValidatorSet } from '../chain/validator-set.ts'
import type { BlockHeader, Certificate, MedRecord } from '../chain/types.ts'
import { checkChange, decodeChange, GOVERNANCE_RECORD_TYPE, isMemberChange, setAction, type ValidatorSetChange } from '../governance/change.ts'
import { authorsOf, MemberSet } from '../chain/member-set.ts'
import { leafHash, verifyInclusion } from '../merkle/rfc6962.ts'
import { MedledgerError } from '../errors.ts'
import { AuditErrorCode } from './errors.ts'

export interface VerifiedProof {
  recordId: string
  height: number
  blockHash: string
  /** Size of the validator set that certified the record's block. */
  validators: number
  /** Validator-set changes the proof carried, each verified and applied. */
  governanceChanges: number
}

/**
 * Checks a record proof (as served by GET /v1/records/:id/proof) offline, trusting only the
 * genesis file. First the governance chain: each validator-set change in force at the record's
 * height, oldest first, is proved in its own block certified by the set in force there, carries
 * the approvals of a quorum of that set, and is applied to it (docs/protocol.md, "Record
 * proofs"). Then the record: its id, the path to the batch's signed root, the batch signature by
 * a validator, the path from the batch id to the header's recordsRoot, the header naming the set
 * learned, and a quorum certificate of that set. Throws PROOF_INVALID naming the first step that
 * fails.
 */
export function verifyRecordProof (proof: unknown, genesis: Genesis): VerifiedProof {
  const bad = (why: string): MedledgerError => new MedledgerError(AuditErrorCode.PROOF_INVALID, why)
  let p: ParsedProof
  try {
    p = parseProof(proof)
  } catch (err) {
    throw bad(`malformed proof: ${(err as Error).message}`)
  }
  if (p.chainId !== genesis.chainId || !bytesEqual(p.genesisHash, genesis.hash)) throw bad('the proof is for another chain or genesis')
  // [REJECT] The proof's genesisHash is not signed; only the block at height 1 names the genesis
  // (its parentHash), so that is where a block is bound to this genesis (docs/protocol.md 12.3).
  const firstBlockOf = (header: BlockHeader, where: string): void => {
    if (header.height === 1 && !bytesEqual(header.parentHash, genesis.hash)) throw bad(`${where}the block at height 1 does not follow this genesis file`)
  }
  const height = p.header.height
  let set = genesis.validators
  // Members author batches without voting (docs/protocol.md section 9.1): the genesis members,
  // then the member changes among the links, applied like the validator changes.
  let members = genesis.members
  let previous: { includedAt: number, effective: number } | undefined
  for (const [i, link] of p.governance.entries()) {
    const h = link.header.height
    const where = `governance change ${i + 1} (block ${h})`
    // [REJECT] Changes come oldest first, one at a time: each is included once the previous is in force.
    if (previous !== undefined && h < previous.effective) throw bad(`${where}: included before the previous change took effect at ${previous.effective}`)
    firstBlockOf(link.header, `${where}: `)
    const effective = h + genesis.params.governanceDelay
    // [REJECT] The chain lists exactly the changes in force at the record's height.
    if (effective > height) throw bad(`${where}: takes effect at ${effective}, after the record's block ${height}`)
    const change = verifiedChangeOf(genesis.chainId, link, set, where, members)
    const applied = { action: setAction(change), member: { name: change.name, publicKey: change.publicKey } }
    if (isMemberChange(change)) members = members.with(applied)
    else set = set.with(applied)
    previous = { includedAt: h, effective }
  }
  firstBlockOf(p.header, '')
  const { id, hash } = verifyInclusionLink(genesis.chainId, p, set, undefined, members)
  return { recordId: toHex(id), height, blockHash: toHex(hash), validators: set.size, governanceChanges: p.governance.length }
}

/**
 * A governance link checked against the set in force at its block: the record proved in its
 * certified block, a validator-set change approved by a quorum of that set. Returns the change.
 */
export function verifiedChangeOf (chainId: string, link: ParsedLink, set: ValidatorSet, where: string, members: MemberSet = MemberSet.EMPTY): ValidatorSetChange {
  verifyInclusionLink(chainId, link, set, where)
  if (link.record.type !== GOVERNANCE_RECORD_TYPE) throw new MedledgerError(AuditErrorCode.PROOF_INVALID, `${where}: the record is not a validator-set change`)
  try {
    const change = decodeChange(link.record.payload)
    const checks = checkChange(chainId, change, set, members)
    if (!checks.every(c => verifySignature(c.publicKey, c.message, c.signature))) throw new Error('an approval signature does not verify')
    return change
  } catch (err) {
    throw new MedledgerError(AuditErrorCode.PROOF_INVALID, `${where}: ${(err as Error).message}`)
  }
}

/**
 * One record in one certified block, checked against the validator set (and the members) in force
 * at that block: a batch author is a validator or a member. `where` prefixes the messages of a
 * governance link.
 */
export function verifyInclusionLink (chainId: string, p: ParsedLink, validators: ValidatorSet, where?: string, members: MemberSet = MemberSet.EMPTY): { id: Uint8Array, hash: Uint8Array } {
  const bad = (why: string): MedledgerError => new MedledgerError(AuditErrorCode.PROOF_INVALID, where === undefined ? why : `${where}: ${why}`)
  const id = recordId(p.record)
  if (!bytesEqual(id, p.recordId)) throw bad('the record does not hash to the record id')
  if (!verifyInclusion(leafHash(id), p.batch.index, p.batch.count, p.batch.path, p.batch.recordsRoot)) throw bad('the record is not in the batch (Merkle path fails)')
  if (!authorsOf(validators, members).has(p.batch.author) || !bytesEqual(p.batch.author, p.record.author)) throw bad('the batch author is not a validator or member, or not the record author')
  if (!verifySignature(p.batch.author, batchSignBytes(chainId, p.batch.author, p.batch.recordsRoot, p.batch.count), p.batch.signature)) throw bad('the batch signature does not verify')
  const bid = batchIdFromSummary(p.batch.author, p.batch.recordsRoot, p.batch.count, p.batch.signature)
  if (!verifyInclusion(leafHash(bid), p.block.batchIndex, p.block.batchCount, p.block.path, p.header.recordsRoot)) throw bad('the batch is not in the block (Merkle path fails)')
  if (p.header.chainId !== chainId || !bytesEqual(p.header.validatorSetHash, validators.hash)) throw bad('the block names another chain or validator set')
  let checks
  try {
    checks = checkCertificate(chainId, p.certificate, p.header, validators)
  } catch (err) {
    throw bad(`the certificate is not valid: ${(err as Error).message}`)
  }
  if (!checks.every(c => verifySignature(c.publicKey, c.message, c.signature))) throw bad('a certificate signature does not verify')
  return { id, hash: blockHash(p.header) }
}

export interface ParsedLink {
  recordId: Uint8Array
  record: MedRecord
  batch: { author: Uint8Array, recordsRoot: Uint8Array, count: number, signature: Uint8Array, index: number, path: Uint8Array[] }
  header: BlockHeader
  block: { batchIndex: number, batchCount: number, path: Uint8Array[] }
  certificate: Certificate
}

interface ParsedProof extends ParsedLink {
  chainId: string
  genesisHash: Uint8Array
  governance: ParsedLink[]
}

/** More governance changes than any proof could carry: a bound on what a proof file may make us parse. */
const MAX_GOVERNANCE_LINKS = 100_000

export type J = Record<string, unknown>
const obj = (v: unknown, what: string): J => { if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`${what} is not an object`); return v as J }
const str = (v: unknown, what: string): string => { if (typeof v !== 'string') throw new Error(`${what} is not a string`); return v }
const int = (v: unknown, what: string): number => { if (!Number.isSafeInteger(v) || (v as number) < 0) throw new Error(`${what} is not a non-negative integer`); return v as number }
const hex = (v: unknown, what: string, len?: number): Uint8Array => { try { return fromHex(str(v, what), len) } catch (err) { throw new Error(`${what}: ${(err as Error).message}`) } }
const hexList = (v: unknown, what: string): Uint8Array[] => { if (!Array.isArray(v)) throw new Error(`${what} is not a list`); return v.map((x, i) => hex(x, `${what}[${i}]`, 32)) }

function parseProof (v: unknown): ParsedProof {
  const p = obj(v, 'proof')
  if (p.version !== 1) throw new Error('unsupported proof version')
  // Proofs of nodes from before governance chains have none: the genesis set is then the only one.
  const governance = p.governance ?? []
  if (!Array.isArray(governance) || governance.length > MAX_GOVERNANCE_LINKS) throw new Error('governance is not a list')
  return {
    chainId: str(p.chainId, 'chainId'),
    genesisHash: hex(p.genesisHash, 'genesisHash', 32),
    ...parseLink(p, ''),
    governance: governance.map((l, i) => parseLink(obj(l, `governance[${i}]`), `governance[${i}].`))
  }
}

/** The parts of a record proof (or of one of its governance links) as values; throws on any malformed field. */
export function parseLink (p: J, at: string): ParsedLink {
  const r = obj(p.record, `${at}record`)
  const b = obj(p.batch, `${at}batch`)
  const blk = obj(p.block, `${at}block`)
  const h = obj(blk.header, `${at}block.header`)
  const c = obj(p.certificate, `${at}certificate`)
  return {
    recordId: hex(p.recordId, `${at}recordId`, 32),
    record: { type: str(r.type, `${at}record.type`), subject: hex(r.subject, `${at}record.subject`, 32), contentType: str(r.contentType, `${at}record.contentType`), payload: fromBase64(str(r.payload, `${at}record.payload`)), author: hex(r.author, `${at}record.author`, 32), timestamp: int(r.timestamp, `${at}record.timestamp`) },
    batch: { author: hex(b.author, `${at}batch.author`, 32), recordsRoot: hex(b.recordsRoot, `${at}batch.recordsRoot`, 32), count: int(b.count, `${at}batch.count`), signature: hex(b.signature, `${at}batch.signature`, 64), index: int(b.index, `${at}batch.index`), path: hexList(b.path, `${at}batch.path`) },
    header: parseHeaderJson(h, `${at}header.`),
    block: { batchIndex: int(blk.batchIndex, `${at}block.batchIndex`), batchCount: int(blk.batchCount, `${at}block.batchCount`), path: hexList(blk.path, `${at}block.path`) },
    certificate: parseCertificateJson(c, `${at}certificate.`)
  }
}

/** A block header as the API writes it (json.ts headerJson); `at` prefixes field names in errors. */
export function parseHeaderJson (h: J, at = 'header.'): BlockHeader {
  return { chainId: str(h.chainId, `${at}chainId`), height: int(h.height, `${at}height`), round: int(h.round, `${at}round`), time: int(h.time, `${at}time`), proposer: hex(h.proposer, `${at}proposer`, 32), parentHash: hex(h.parentHash, `${at}parentHash`, 32), recordsRoot: hex(h.recordsRoot, `${at}recordsRoot`, 32), validatorSetHash: hex(h.validatorSetHash, `${at}validatorSetHash`, 32), lastCommitHash: hex(h.lastCommitHash, `${at}lastCommitHash`, 32), evidenceHash: hex(h.evidenceHash, `${at}evidenceHash`, 32) }
}

/** A commit certificate as the API writes it (json.ts certificateJson). */
export function parseCertificateJson (c: J, at = 'certificate.'): Certificate {
  if (!Array.isArray(c.signatures)) throw new Error(`${at}signatures is not a list`)
  return {
    height: int(c.height, `${at}height`),
    round: int(c.round, `${at}round`),
    blockHash: hex(c.blockHash, `${at}blockHash`, 32),
    signatures: c.signatures.map((s, i) => { const o = obj(s, `${at}signatures[${i}]`); return { validator: hex(o.validator, 'validator', 32), signature: hex(o.signature, 'signature', 64) } })
  }
}

export const parseObject = obj
