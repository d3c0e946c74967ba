import { toHex } from '../encoding/bytes.ts'
import { batchId, batchRecordsRoot, recordId } from '../chain/hashing.ts'
import { inclusionProof, leafHash } from '../merkle/rfc6962.ts'
import type { StoredRecord } from '../storage/index.ts'
import { certificateJson, headerJson, recordJson } from './json.ts'

/**
 * A self-contained inclusion proof: the record, the path from its id to the batch's signed root,
 * the batch summary and signature, the path from the batch id to the header's recordsRoot, the
 * header and its commit certificate. Checkable offline against the genesis file
 * (docs/protocol.md, "Record proofs").
 */
export function recordProof (chainId: string, genesisHash: Uint8Array, s: StoredRecord): Record<string, unknown> {
  const batch = s.block.body.batches[s.location.batchIndex]
  const recordLeaves = batch.records.map(r => leafHash(recordId(r)))
  const batchLeaves = s.block.body.batches.map(b => leafHash(batchId(b)))
  return {
    version: 1,
    chainId,
    genesisHash: toHex(genesisHash),
    recordId: toHex(recordId(s.record)),
    record: recordJson(s.record),
    batch: {
      author: toHex(batch.author),
      recordsRoot: toHex(batchRecordsRoot(batch.records)),
      count: batch.records.length,
      signature: toHex(batch.signature),
      index: s.location.recordIndex,
      path: inclusionProof(recordLeaves, s.location.recordIndex).map(toHex)
    },
    block: {
      header: headerJson(s.block.header),
      batchIndex: s.location.batchIndex,
      batchCount: s.block.body.batches.length,
      path: inclusionProof(batchLeaves, s.location.batchIndex).map(toHex)
    },
    certificate: certificateJson(s.certificate)
  }
}
