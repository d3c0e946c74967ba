/**
 * Typed errors shared by every domain. Each error carries a machine-readable code (a prefixed
 * string such as `CODEC_TRAILING_BYTES`), free metadata, and for data that arrived from a peer an
 * action: IGNORE (stale, duplicate: drop silently) or REJECT (invalid: drop and penalise the peer).
 * Codes double as metric labels.
 */
export enum PeerAction {
  IGNORE = 'IGNORE',
  REJECT = 'REJECT'
}

export class MedledgerError extends Error {
  readonly code: string
  readonly meta: Record<string, unknown>
  readonly action: PeerAction

  constructor (code: string, message: string, meta: Record<string, unknown> = {}, action = PeerAction.REJECT) {
    super(`${code}: ${message}`)
    this.name = 'MedledgerError'
    this.code = code
    this.meta = meta
    this.action = action
  }
}

export function isMedledgerError (err: unknown, code?: string): err is MedledgerError {
  return err instanceof MedledgerError && (code === undefined || err.code === code)
}
