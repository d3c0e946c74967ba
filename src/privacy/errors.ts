import { NotFoundCode } from '../chain/errors.ts'
import { EXIT, MedledgerError, spec, type ErrorTable } from '../errors.ts'

/**
 * Privacy failures: who may not read (403), what no longer exists (410), what this node cannot do
 * (409); the table below gives each code's HTTP status and exit code, so the API and the CLI
 * report the same thing.
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
  NOT_CONFIGURED = 'PRIVACY_NOT_CONFIGURED',
  RESERVED_TYPE = 'PRIVACY_RESERVED_TYPE',
  /** The off-chain key store (privacy/) can be read by others. */
  PERMISSIONS = 'PRIVACY_PERMISSIONS',
  /** The off-chain key store or state.json cannot be parsed: refused, never silently reset. */
  STORE_CORRUPT = 'PRIVACY_STORE_CORRUPT',
  SECRET_INVALID = 'PRIVACY_SECRET_INVALID',
  SECRET_EXISTS = 'PRIVACY_SECRET_EXISTS',
  SECRET_WRITE = 'PRIVACY_SECRET_WRITE',
  SECRET_MISSING = 'PRIVACY_SECRET_MISSING',
  SECRET_PERMISSIONS = 'PRIVACY_SECRET_PERMISSIONS'
}

export const PRIVACY_ERRORS: ErrorTable<PrivacyErrorCode> = {
  [PrivacyErrorCode.ENVELOPE_MALFORMED]: spec(422, EXIT.FAILURE, 'a record\'s envelope is malformed'),
  [PrivacyErrorCode.NOT_RECIPIENT]: spec(403, EXIT.FAILURE, 'the record\'s key is not wrapped to this node'),
  [PrivacyErrorCode.UNWRAP_FAILED]: spec(422, EXIT.FAILURE, 'a wrapped data key does not open'),
  [PrivacyErrorCode.DECRYPT_FAILED]: spec(422, EXIT.FAILURE, 'a record\'s content does not decrypt'),
  [PrivacyErrorCode.RECORD_MALFORMED]: spec(422, EXIT.FAILURE, 'a privacy record (grant, release, shred...) is malformed'),
  [PrivacyErrorCode.OBSERVER]: spec(403, EXIT.FAILURE, 'only validators hold encryption keys and serve plaintext'),
  [PrivacyErrorCode.NO_GRANT]: spec(403, EXIT.FAILURE, 'no grant in force lets this node read the record'),
  [PrivacyErrorCode.SHREDDED]: spec(410, EXIT.FAILURE, 'the record was shredded by its custodian'),
  [PrivacyErrorCode.NOT_ENCRYPTED]: spec(409, EXIT.FAILURE, 'the record is not encrypted'),
  [PrivacyErrorCode.KEY_UNAVAILABLE]: spec(409, EXIT.FAILURE, 'the record\'s key has not reached this node (yet)'),
  [PrivacyErrorCode.NO_ENCRYPTION_KEY]: spec(409, EXIT.FAILURE, 'a recipient has announced no encryption key'),
  [PrivacyErrorCode.RECIPIENT_UNKNOWN]: spec(400, EXIT.FAILURE, 'a recipient is not a validator of this chain'),
  [PrivacyErrorCode.TOO_LARGE]: spec(400, EXIT.FAILURE, 'the sealed record is over the payload limit'),
  [PrivacyErrorCode.SHRED_REFUSED]: spec(403, EXIT.FAILURE, 'only the record\'s custodian may shred it'),
  [PrivacyErrorCode.AUDIT_FAILED]: spec(503, EXIT.FAILURE, 'the access record of a read could not be written'),
  [PrivacyErrorCode.NOT_CONFIGURED]: spec(503, EXIT.FAILURE, 'this node has no subject secret'),
  [PrivacyErrorCode.RESERVED_TYPE]: spec(400, EXIT.FAILURE, 'privacy record types are written by the node itself'),
  [PrivacyErrorCode.PERMISSIONS]: spec(500, EXIT.FAILURE, 'the privacy key store can be read by other users'),
  [PrivacyErrorCode.STORE_CORRUPT]: spec(500, EXIT.FAILURE, 'the privacy key store or its state file is corrupt'),
  [PrivacyErrorCode.SECRET_INVALID]: spec(500, EXIT.FAILURE, 'the subject secret file is malformed'),
  [PrivacyErrorCode.SECRET_EXISTS]: spec(500, EXIT.FAILURE, 'a subject secret file exists already'),
  [PrivacyErrorCode.SECRET_WRITE]: spec(500, EXIT.FAILURE, 'the subject secret file cannot be written'),
  [PrivacyErrorCode.SECRET_MISSING]: spec(500, EXIT.FAILURE, 'the subject secret file cannot be read'),
  [PrivacyErrorCode.SECRET_PERMISSIONS]: spec(500, EXIT.FAILURE, 'the subject secret file can be read by other users')
}

export class PrivacyError extends MedledgerError {
  constructor (code: PrivacyErrorCode | NotFoundCode.RECORD, message: string, meta: Record<string, unknown> = {}) {
    super(code, message, meta)
    this.name = 'PrivacyError'
  }
}

export function isPrivacyError (err: unknown, code?: PrivacyErrorCode | NotFoundCode.RECORD): err is PrivacyError {
  return err instanceof PrivacyError && (code === undefined || err.code === code)
}
