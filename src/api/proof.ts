import { toHex } from '../encoding/bytes.ts'
import { batchId, batchRecordsRoot, recordId } from '../chain/hashing.ts'
import type { FinalizedBlock } from '../chain/types.ts'
import { inclusionProof, leafHash } from '../merkle/rfc6962.ts'
import { GOVERNANCE_RECORD_TYPE } from '../governance/change.ts'
import type { GovernanceSchedule } from '../governance/schedule.ts'
import { StorageErrorCode, type StoredRecord } from '../storage/index.ts'
import { MedledgerError } from '../errors.ts'
import { certificateJson, headerJson, recordJson } from './json.ts'

/** The proof format this node serves (docs/protocol.md, "Record proofs"). */
export const PROOF_VERSION = 1

/**
 * One record proved final in one block: the record, the path from its id to its batch's signed
 * root, the batch summary and signature, the path from the batch id to the header's recordsRoot,
 * the header and its commit certificate. A record proof is one of these, and so is each link of
 * its governance chain.
 */
export function inclusionJson (fb: FinalizedBlock, batchIndex: number, recordIndex: number): Record<string, unknown> {
  const batches = fb.block.body.batches
  const batch = batches[batchIndex]
  const record = batch.records[recordIndex]
  return {
    recordId: toHex(recordId(record)),
    record: recordJson(record),
    batch: {
      author: toHex(batch.author),
      recordsRoot: toHex(batchRecordsRoot(batch.records)),
      count: batch.records.length,
      signature: toHex(batch.signature),
      index: recordIndex,
      path: inclusionProof(batch.records.map(r => leafHash(recordId(r))), recordIndex).map(toHex)
    },
    block: {
      header: headerJson(fb.block.header),
      batchIndex,
      batchCount: batches.length,
      path: inclusionProof(batches.map(b => leafHash(batchId(b))), batchIndex).map(toHex)
    },
    certificate: certificateJson(fb.certificate)
  }
}

/** Where a block's one governance record sits. */
function governanceRecordAt (fb: FinalizedBlock): { batchIndex: number, recordIndex: number } {
  const batches = fb.block.body.batches
  for (let b = 0; b < batches.length; b++) {
    const r = batches[b].records.findIndex(x => x.type === GOVERNANCE_RECORD_TYPE)
    if (r >= 0) return { batchIndex: b, recordIndex: r }
  }
  throw new MedledgerError(StorageErrorCode.CORRUPT, `block ${fb.block.header.height} is recorded as carrying a validator-set change but holds none`)
}

export interface ProofSources {
  chainId: string
  genesisHash: Uint8Array
  schedule: Pick<GovernanceSchedule, 'changes'>
  store: { getFinalized: (height: number) => Promise<FinalizedBlock | undefined> }
}

/**
 * Builds the record proofs of GET /v1/records/:id/proof. A proof is self-contained against the
 * genesis file: besides the record's own inclusion it carries the governance chain, every
 * validator-set change in force at the record's height (included at h, effective from h +
 * governanceDelay), oldest first, each proved like a record in its own certified block. A
 * verifier applies them in order from the genesis set and so learns the set that must have
 * certified the record's block.
 *
 * The links are the same for every proof (a final block never changes), so each is built once
 * and kept: one entry of a few KiB per governance change the chain ever had.
 */
export class RecordProofs {
  readonly #links = new Map<number, Record<string, unknown>>()

  constructor (private readonly src: ProofSources) {}

  async proof (s: StoredRecord): Promise<Record<string, unknown>> {
    const height = s.block.header.height
    const governance: Array<Record<string, unknown>> = []
    for (const c of this.src.schedule.changes()) {
      if (c.effective > height) break
      governance.push(await this.governanceLink(c.includedAt))
    }
    return {
      version: PROOF_VERSION,
      chainId: this.src.chainId,
      genesisHash: toHex(this.src.genesisHash),
      ...inclusionJson({ block: s.block, certificate: s.certificate }, s.location.batchIndex, s.location.recordIndex),
      governance
    }
  }

  /** The inclusion proof of the validator-set change carried by the block at `includedAt`. */
  async governanceLink (includedAt: number): Promise<Record<string, unknown>> {
    let link = this.#links.get(includedAt)
    if (link === undefined) {
      const fb = await this.src.store.getFinalized(includedAt)
      if (fb === undefined) throw new MedledgerError(StorageErrorCode.CORRUPT, `the block of a validator-set change (height ${includedAt}) is missing`)
      const at = governanceRecordAt(fb)
      link = inclusionJson(fb, at.batchIndex, at.recordIndex)
      this.#links.set(includedAt, link)
    }
    return link
  }
}
