import type { Signer } from '../crypto/ed25519.ts'
import { sha256 } from '../crypto/hash.ts'
import { merkleRoot } from '../merkle/rfc6962.ts'
import { batchSignBytes } from '../chain/hashing.ts'
import { encodeBatch, encodeRecord, encodeUnsignedBatch, setBatchSignature } from '../chain/codec.ts'
import { batchRoots, recordIds } from '../chain/memo.ts'
import type { MedRecord, RecordBatch } from '../chain/types.ts'

/**
 * Signs one batch over the given records (the author signs their RFC 6962 root once) and encodes
 * it. The records are written once, into the batch's own bytes: those ranges give their ids.
 */
export function sealBatch (chainId: string, signer: Signer, records: MedRecord[]): { batch: RecordBatch, bytes: Uint8Array } {
  const laid = encodeUnsignedBatch(signer.publicKey, records)
  const encoded = laid?.records ?? records.map(encodeRecord)
  const ids = encoded.map(b => sha256(b))
  records.forEach((r, i) => recordIds.set(r, ids[i]))
  const root = merkleRoot(ids)
  const batch = { author: signer.publicKey, records, signature: signer.sign(batchSignBytes(chainId, signer.publicKey, root, records.length)) }
  batchRoots.set(batch, root)
  // Records with fields of invalid types (tests build them) take the generic encoder.
  if (laid === undefined) return { batch, bytes: encodeBatch(batch) }
  setBatchSignature(batch, laid.bytes)
  return { batch, bytes: laid.bytes }
}
