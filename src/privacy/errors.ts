import { MedledgerError } from '../errors.ts'

/**
 * Privacy failures. Each code maps to one HTTP status so the API and the CLI report the same
 * thing: who may not read (403), what no longer exists (410), what this node cannot do (409).
 */
export enum PrivacyErrorCode {
  ENVELOPE_MALFORMED = 'PRIVACY_ENVELOPE_MALFORMED',
  NOT_RECIPIENT = 'PRIVACY_NOT_RECIPIENT',
  UNWRAP_FAILED = 'PRIVACY_UNWRAP_FAILED',
  DECRYPT_FAILED = 'PRIVACY_DECRYPT_FAILED',
  RECORD_MALFORMED = 'PRIVACY_RECORD_MALFORMED',
  OBSERVER = 'PRIVACY_OBSERVER',
  NO_GRANT = 'PRIVACY_NO_GRANT',
  SHREDDED = 'PRIVACY_SHREDDED',
  NOT_ENCRYPTED = 'PRIVACY_NOT_ENCRYPTED',
  KEY_UNAVAILABLE = 'PRIVACY_KEY_UNAVAILABLE',
  NO_ENCRYPTION_KEY = 'PRIVACY_NO_ENCRYPTION_KEY',
  RECIPIENT_UNKNOWN = 'PRIVACY_RECIPIENT_UNKNOWN',
  TOO_LARGE = 'PRIVACY_TOO_LARGE',
  SHRED_REFUSED = 'PRIVACY_SHRED_REFUSED',
  AUDIT_FAILED = 'PRIVACY_AUDIT_FAILED',
  RECORD_NOT_FOUND = 'RECORD_NOT_FOUND',
  NOT_CONFIGURED = 'PRIVACY_NOT_CONFIGURED',
  RESERVED_TYPE = 'PRIVACY_RESERVED_TYPE'
}

const STATUS: Record<PrivacyErrorCode, number> = {
  [PrivacyErrorCode.ENVELOPE_MALFORMED]: 422,
  [PrivacyErrorCode.NOT_RECIPIENT]: 403,
  [PrivacyErrorCode.UNWRAP_FAILED]: 422,
  [PrivacyErrorCode.DECRYPT_FAILED]: 422,
  [PrivacyErrorCode.RECORD_MALFORMED]: 422,
  [PrivacyErrorCode.OBSERVER]: 403,
  [PrivacyErrorCode.NO_GRANT]: 403,
  [PrivacyErrorCode.SHREDDED]: 410,
  [PrivacyErrorCode.NOT_ENCRYPTED]: 409,
  [PrivacyErrorCode.KEY_UNAVAILABLE]: 409,
  [PrivacyErrorCode.NO_ENCRYPTION_KEY]: 409,
  [PrivacyErrorCode.RECIPIENT_UNKNOWN]: 400,
  [PrivacyErrorCode.TOO_LARGE]: 400,
  [PrivacyErrorCode.SHRED_REFUSED]: 403,
  [PrivacyErrorCode.AUDIT_FAILED]: 503,
  [PrivacyErrorCode.RECORD_NOT_FOUND]: 404,
  [PrivacyErrorCode.NOT_CONFIGURED]: 503,
  [PrivacyErrorCode.RESERVED_TYPE]: 400
}

export class PrivacyError extends MedledgerError {
  readonly status: number

  constructor (code: PrivacyErrorCode, message: string, meta: Record<string, unknown> = {}) {
    super(code, message, meta)
    this.name = 'PrivacyError'
    this.status = STATUS[code]
  }
}

export function isPrivacyError (err: unknown, code?: PrivacyErrorCode): err is PrivacyError {
  return err instanceof PrivacyError && (code === undefined || err.code === code)
}
