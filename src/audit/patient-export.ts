import type { Genesis } from '../chain/genesis.ts'
import { toHex } from '../encoding/bytes.ts'
import { MedledgerError } from '../errors.ts'
import { verifyRecordProof } from './proof-verify.ts'
import { AuditErrorCode } from './errors.ts'

/**
 * A patient's export file (the patient page's "Export", docs/patient.md): the patient's records,
 * each with its record proof, the wraps that open it with the patient's key, and its access log.
 * Checked offline against a genesis file the checker trusts: every record's proof must hold, and
 * what the file says of each record (id, type, subject, height) must be what its proof proves.
 * The access logs and wraps are the node's account, not proven here.
 */
export interface ExportCheck { chainId: string, patient: string, records: Array<{ recordId: string, type: string, height: number, blockHash: string }> }

export function verifyPatientExport (file: unknown, genesis: Genesis): ExportCheck {
  const bad = (why: string): MedledgerError => new MedledgerError(AuditErrorCode.PROOF_INVALID, why)
  const f = file as { type?: unknown, version?: unknown, chainId?: unknown, genesisHash?: unknown, patient?: unknown, records?: unknown }
  if (typeof f !== 'object' || f === null || f.type !== 'medledger-patient-export' || f.version !== 1) throw bad('not a medledger patient export (type medledger-patient-export, version 1)')
  if (f.chainId !== genesis.chainId || f.genesisHash !== toHex(genesis.hash)) throw bad('the export is for another chain or genesis')
  if (!Array.isArray(f.records)) throw bad('the export has no records list')
  const out: ExportCheck['records'] = []
  for (const [i, r] of (f.records as Array<Record<string, unknown>>).entries()) {
    const what = `records[${i}]${typeof r?.recordId === 'string' ? ` (${r.recordId})` : ''}`
    let v
    try {
      v = verifyRecordProof(r?.proof, genesis)
    } catch (err) {
      throw bad(`${what}: ${(err as Error).message}`)
    }
    const proven = (r.proof as { record: { type: string, subject: string } }).record
    if (r.recordId !== v.recordId || r.height !== v.height || r.type !== proven.type || r.subject !== proven.subject) throw bad(`${what}: the listed id, height, type or subject is not what its proof proves`)
    out.push({ recordId: v.recordId, type: proven.type, height: v.height, blockHash: v.blockHash })
  }
  return { chainId: genesis.chainId, patient: String(f.patient), records: out }
}
