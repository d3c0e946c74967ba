import { bytesEqual, toHex } from '../encoding/bytes.ts'
import { blockHash, recordId } from '../chain/hashing.ts'
import type { Genesis } from '../chain/genesis.ts'
import { GovernanceSchedule } from '../governance/schedule.ts'
import { ChainVerifier, genesisTip } from '../chain/verifier.ts'
import type { FinalizedBlock } from '../chain/types.ts'
import type { VerifyPool } from '../crypto/verify-pool.ts'
import { isMedledgerError } from '../errors.ts'
import type { ChainStore } from '../storage/index.ts'

export interface AuditReport {
  ok: boolean
  height: number
  blocks: number
  records: number
  signatures: number
  ms: number
  firstBrokenHeight?: number
  error?: string
  code?: string
}

const RUN = 64

/**
 * Walks the whole store from genesis: every block, certificate, batch signature and evidence item
 * through the chain verifier (in runs, all cores), then every hash and record index entry.
 */
export async function auditStore (store: ChainStore, genesis: Genesis, pool: VerifyPool, progress?: (done: number, total: number) => void): Promise<AuditReport> {
  const started = Date.now()
  const head = store.head?.height ?? 0
  // Validator-set and member-set changes are followed from genesis, as the chain made them.
  const verifier = new ChainVerifier(genesis.chainId, GovernanceSchedule.fromGenesis(genesis), pool)
  let tip = genesisTip(genesis.hash, genesis.genesisTime)
  const report: AuditReport = { ok: true, height: head, blocks: 0, records: 0, signatures: 0, ms: 0 }
  let run: FinalizedBlock[] = []
  const flush = async (): Promise<void> => {
    tip = await verifier.verifyRun(tip, run)
    for (const fb of run) await checkIndexes(store, fb)
    report.blocks += run.length
    progress?.(report.blocks, head)
    run = []
  }
  try {
    let expected = 1
    for await (const fb of store.iterateFinalized(1, head)) {
      if (fb.block.header.height !== expected) throw new AuditError(expected, `block ${expected} is missing`)
      expected++
      report.records += fb.block.body.batches.reduce((n, b) => n + b.records.length, 0)
      report.signatures += fb.block.body.batches.length + fb.certificate.signatures.length + fb.block.body.evidence.length * 2
      run.push(fb)
      if (run.length >= RUN) await flush()
    }
    if (run.length > 0) await flush()
    if (expected !== head + 1) throw new AuditError(expected, `block ${expected} is missing`)
    if (head > 0 && !bytesEqual(tip.link.hash, store.head!.hash)) throw new AuditError(head, 'the head pointer names another block')
    if (store.recordCount !== report.records) throw new AuditError(head, `the stored record count (${store.recordCount}) is not the ${report.records} records the blocks hold`)
  } catch (err) {
    report.ok = false
    const height = err instanceof AuditError ? err.height : (isMedledgerError(err) ? Number(err.meta.height ?? tip.link.height + 1) : tip.link.height + 1)
    report.firstBrokenHeight = height
    report.error = (err as Error).message
    report.code = isMedledgerError(err) ? err.code : 'AUDIT_ERROR'
  }
  report.ms = Date.now() - started
  return report
}

class AuditError extends Error {
  constructor (readonly height: number, message: string) { super(message) }
}

async function checkIndexes (store: ChainStore, fb: FinalizedBlock): Promise<void> {
  const h = fb.block.header.height
  if (await store.getHeightByHash(blockHash(fb.block.header)) !== h) throw new AuditError(h, `the hash index does not point to block ${h}`)
  for (const [bi, batch] of fb.block.body.batches.entries()) {
    for (const [ri, r] of batch.records.entries()) {
      const loc = await store.getRecordLocation(recordId(r))
      // A record id may appear once only; the index points at its first (and only) place.
      if (loc === undefined || loc.height !== h || loc.batchIndex !== bi || loc.recordIndex !== ri) {
        throw new AuditError(h, `the record index entry for ${toHex(recordId(r))} is wrong or missing`)
      }
    }
  }
}
