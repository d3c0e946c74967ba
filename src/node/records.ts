import type { Signer } from '../crypto/ed25519.ts'
import { batchRecordsRoot, batchSignBytes } from '../chain/hashing.ts'
import type { MedRecord, RecordBatch } from '../chain/types.ts'

/** Signs one batch over the given records: the author signs their RFC 6962 root once. */
export function signBatch (chainId: string, signer: Signer, records: MedRecord[]): RecordBatch {
  const root = batchRecordsRoot(records)
  return { author: signer.publicKey, records, signature: signer.sign(batchSignBytes(chainId, signer.publicKey, root, records.length)) }
}
