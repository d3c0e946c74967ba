import { verifySignature } from '../crypto/ed25519.ts'
import { ChainError, ChainErrorCode } from '../chain/errors.ts'
import type { MedRecord } from '../chain/types.ts'
import { checkChange, decodeChange, GOVERNANCE_RECORD_TYPE } from './change.ts'
import type { GovernanceSchedule } from './schedule.ts'

/**
 * Mempool admission of governance records: a change that could never be included (malformed,
 * too few approvals, bad signatures) is refused at the door, so it cannot make every block that
 * carries it invalid. Whether it is admissible *now* (one change at a time) is decided when a
 * block is built.
 */
export function checkGovernanceRecords (chainId: string, records: MedRecord[], schedule: GovernanceSchedule): void {
  for (const r of records) {
    if (r.type !== GOVERNANCE_RECORD_TYPE) continue
    let change
    try {
      change = decodeChange(r.payload)
    } catch (err) {
      throw new ChainError(ChainErrorCode.GOVERNANCE_INVALID, `malformed governance record: ${(err as Error).message}`)
    }
    const checks = checkChange(chainId, change, schedule.latest(), schedule.latestMembers())
    if (!checks.every(c => verifySignature(c.publicKey, c.message, c.signature))) throw new ChainError(ChainErrorCode.GOVERNANCE_INVALID, 'a governance approval signature does not verify')
  }
}
