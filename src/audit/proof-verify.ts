import { bytesEqual, fromBase64, fromHex, toHex } from '../encoding/bytes.ts'
import { verifySignature } from '../crypto/ed25519.ts'
import { batchIdFromSummary, batchSignBytes, blockHash, recordId } from '../chain/hashing.ts'
import { checkCertificate } from '../chain/validate.ts'
import type { Genesis } from '../chain/genesis.ts'
import type { BlockHeader, Certificate, MedRecord } from '../chain/types.ts'
import { leafHash, verifyInclusion } from '../merkle/rfc6962.ts'
import { MedledgerError } from '../errors.ts'

/**
 * Checks a record proof (as served by GET /v1/records/:id/proof) offline, trusting only the
 * genesis file: record id, the path to the batch's signed root, the batch signature by a
 * validator, the path from the batch id to the header's recordsRoot, and a quorum certificate
 * for that header. Throws PROOF_INVALID naming the first step that fails.
 */
export function verifyRecordProof (proof: unknown, genesis: Genesis): { recordId: string, height: number, blockHash: string } {
  const bad = (why: string): MedledgerError => new MedledgerError('PROOF_INVALID', why)
  let p: ParsedProof
  try {
    p = parseProof(proof)
  } catch (err) {
    throw bad(`malformed proof: ${(err as Error).message}`)
  }
  if (p.chainId !== genesis.chainId || !bytesEqual(p.genesisHash, genesis.hash)) throw bad('the proof is for another chain or genesis')
  const id = recordId(p.record)
  if (!bytesEqual(id, p.recordId)) throw bad('the record does not hash to the record id')
  if (!verifyInclusion(leafHash(id), p.batch.index, p.batch.count, p.batch.path, p.batch.recordsRoot)) throw bad('the record is not in the batch (Merkle path fails)')
  const validators = genesis.validators
  if (!validators.has(p.batch.author) || !bytesEqual(p.batch.author, p.record.author)) throw bad('the batch author is not a validator or not the record author')
  if (!verifySignature(p.batch.author, batchSignBytes(genesis.chainId, p.batch.author, p.batch.recordsRoot, p.batch.count), p.batch.signature)) throw bad('the batch signature does not verify')
  const bid = batchIdFromSummary(p.batch.author, p.batch.recordsRoot, p.batch.count, p.batch.signature)
  if (!verifyInclusion(leafHash(bid), p.block.batchIndex, p.block.batchCount, p.block.path, p.header.recordsRoot)) throw bad('the batch is not in the block (Merkle path fails)')
  if (p.header.chainId !== genesis.chainId || !bytesEqual(p.header.validatorSetHash, validators.hash)) throw bad('the block names another chain or validator set')
  let checks
  try {
    checks = checkCertificate(genesis.chainId, p.certificate, p.header, validators)
  } catch (err) {
    throw bad(`the certificate is not valid: ${(err as Error).message}`)
  }
  if (!checks.every(c => verifySignature(c.publicKey, c.message, c.signature))) throw bad('a certificate signature does not verify')
  return { recordId: toHex(id), height: p.header.height, blockHash: toHex(blockHash(p.header)) }
}

interface ParsedProof {
  chainId: string
  genesisHash: Uint8Array
  recordId: Uint8Array
  record: MedRecord
  batch: { author: Uint8Array, recordsRoot: Uint8Array, count: number, signature: Uint8Array, index: number, path: Uint8Array[] }
  header: BlockHeader
  block: { batchIndex: number, batchCount: number, path: Uint8Array[] }
  certificate: Certificate
}

type J = Record<string, unknown>
const obj = (v: unknown, what: string): J => { if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`${what} is not an object`); return v as J }
const str = (v: unknown, what: string): string => { if (typeof v !== 'string') throw new Error(`${what} is not a string`); return v }
const int = (v: unknown, what: string): number => { if (!Number.isSafeInteger(v) || (v as number) < 0) throw new Error(`${what} is not a non-negative integer`); return v as number }
const hex = (v: unknown, what: string, len?: number): Uint8Array => { try { return fromHex(str(v, what), len) } catch (err) { throw new Error(`${what}: ${(err as Error).message}`) } }
const hexList = (v: unknown, what: string): Uint8Array[] => { if (!Array.isArray(v)) throw new Error(`${what} is not a list`); return v.map((x, i) => hex(x, `${what}[${i}]`, 32)) }

function parseProof (v: unknown): ParsedProof {
  const p = obj(v, 'proof')
  if (p.version !== 1) throw new Error('unsupported proof version')
  const r = obj(p.record, 'record')
  const b = obj(p.batch, 'batch')
  const blk = obj(p.block, 'block')
  const h = obj(blk.header, 'block.header')
  const c = obj(p.certificate, 'certificate')
  if (!Array.isArray(c.signatures)) throw new Error('certificate.signatures is not a list')
  return {
    chainId: str(p.chainId, 'chainId'),
    genesisHash: hex(p.genesisHash, 'genesisHash', 32),
    recordId: hex(p.recordId, 'recordId', 32),
    record: { type: str(r.type, 'record.type'), subject: hex(r.subject, 'record.subject', 32), contentType: str(r.contentType, 'record.contentType'), payload: fromBase64(str(r.payload, 'record.payload')), author: hex(r.author, 'record.author', 32), timestamp: int(r.timestamp, 'record.timestamp') },
    batch: { author: hex(b.author, 'batch.author', 32), recordsRoot: hex(b.recordsRoot, 'batch.recordsRoot', 32), count: int(b.count, 'batch.count'), signature: hex(b.signature, 'batch.signature', 64), index: int(b.index, 'batch.index'), path: hexList(b.path, 'batch.path') },
    header: { chainId: str(h.chainId, 'header.chainId'), height: int(h.height, 'header.height'), round: int(h.round, 'header.round'), time: int(h.time, 'header.time'), proposer: hex(h.proposer, 'header.proposer', 32), parentHash: hex(h.parentHash, 'header.parentHash', 32), recordsRoot: hex(h.recordsRoot, 'header.recordsRoot', 32), validatorSetHash: hex(h.validatorSetHash, 'header.validatorSetHash', 32), lastCommitHash: hex(h.lastCommitHash, 'header.lastCommitHash', 32), evidenceHash: hex(h.evidenceHash, 'header.evidenceHash', 32) },
    block: { batchIndex: int(blk.batchIndex, 'block.batchIndex'), batchCount: int(blk.batchCount, 'block.batchCount'), path: hexList(blk.path, 'block.path') },
    certificate: {
      height: int(c.height, 'certificate.height'),
      round: int(c.round, 'certificate.round'),
      blockHash: hex(c.blockHash, 'certificate.blockHash', 32),
      signatures: c.signatures.map((s, i) => { const o = obj(s, `certificate.signatures[${i}]`); return { validator: hex(o.validator, 'validator', 32), signature: hex(o.signature, 'signature', 64) } })
    }
  }
}
