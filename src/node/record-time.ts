import { MedledgerError } from '../errors.ts'
import type { MedRecord } from '../chain/types.ts'
import { ChainErrorCode } from '../chain/errors.ts'

/**
 * How far a record's timestamp (the author's claim of when it happened, ms since the epoch) may
 * be from this node's clock when the node signs it: docs/privacy.md, "Timestamps". Within the
 * window a client's clock may drift or a record be back-dated slightly (entered after the fact);
 * beyond it the claim is refused, so nobody post-dates an access record or grant by hours, or
 * back-dates a record to before an audit. Records from other nodes are judged by their block.
 */
export const RECORD_TIME_WINDOW_MS = 10 * 60_000

/** Throws CHAIN_RECORD_TIMESTAMP for the first record whose timestamp is outside now +- the window. */
export function checkRecordTimestamps (records: ReadonlyArray<Pick<MedRecord, 'timestamp'>>, now: number, windowMs = RECORD_TIME_WINDOW_MS): void {
  for (const [i, r] of records.entries()) {
    if (Math.abs(r.timestamp - now) > windowMs) {
      throw new MedledgerError(ChainErrorCode.RECORD_TIMESTAMP, `records.${i}.timestamp ${r.timestamp} (${describe(r.timestamp)}) is more than ${windowMs / 60_000} minutes from this node's clock (${new Date(now).toISOString()}); send the current time in ms since the epoch, or omit it`, {})
    }
  }
}

function describe (ms: number): string {
  const d = new Date(ms)
  return Number.isNaN(d.getTime()) ? 'not a date' : d.toISOString()
}
