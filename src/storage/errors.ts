import { EXIT, MedledgerError, PeerAction, spec, type ErrorTable } from '../errors.ts'

/**
 * Storage failures. Open-time codes (LOCKED, CORRUPT, IO_ERROR, GENESIS_MISMATCH,
 * UNSUPPORTED_SCHEMA) reach the operator: their messages say what to do. Commit-time codes are
 * refusals of a block that does not extend the stored chain; the caller (consensus, sync, import)
 * decides what that means. Storage never judges peers, so the action is always IGNORE.
 */
export enum StorageErrorCode {
  /** Another process (or another store in this process) holds the LevelDB lock. */
  LOCKED = 'STORAGE_LOCKED',
  /** LevelDB reports corruption, or a stored invariant does not hold (missing certificate, bad head). */
  CORRUPT = 'STORAGE_CORRUPT',
  /** The directory cannot be read or written (permissions, not a directory, disk full). */
  IO_ERROR = 'STORAGE_IO_ERROR',
  /** The database belongs to another chain id or genesis. */
  GENESIS_MISMATCH = 'STORAGE_GENESIS_MISMATCH',
  /** The database was written by a newer medledger with a layout this one does not know. */
  UNSUPPORTED_SCHEMA = 'STORAGE_UNSUPPORTED_SCHEMA',
  /** A committed block's height is not head + 1. */
  NOT_NEXT_HEIGHT = 'STORAGE_NOT_NEXT_HEIGHT',
  /** A committed block's parent hash is not the head's hash (or the genesis hash at height 1). */
  PARENT_MISMATCH = 'STORAGE_PARENT_MISMATCH',
  /** A committed block names another chain id than the one the database was opened for. */
  WRONG_CHAIN = 'STORAGE_WRONG_CHAIN',
  /** The certificate is not for this block (other height or block hash). */
  CERTIFICATE_MISMATCH = 'STORAGE_CERTIFICATE_MISMATCH',
  /** putLastSigned with a (height, round, step) below the stored one: the guard only moves forward. */
  GUARD_REGRESSION = 'STORAGE_GUARD_REGRESSION',
  /** putMeta on a key the store itself owns (head, chain id, genesis hash, schema). */
  RESERVED_KEY = 'STORAGE_RESERVED_KEY',
  /** The store was used after close(). */
  CLOSED = 'STORAGE_CLOSED'
}

export const STORAGE_ERRORS: ErrorTable<StorageErrorCode> = {
  [StorageErrorCode.LOCKED]: spec(503, EXIT.FAILURE, 'another process holds the database lock (a running daemon?)'),
  [StorageErrorCode.CORRUPT]: spec(500, EXIT.FAILURE, 'the database is corrupt or breaks a stored invariant; run `medledger verify`'),
  [StorageErrorCode.IO_ERROR]: spec(500, EXIT.FAILURE, 'the data directory cannot be read or written'),
  [StorageErrorCode.GENESIS_MISMATCH]: spec(500, EXIT.FAILURE, 'the database belongs to another chain or genesis'),
  [StorageErrorCode.UNSUPPORTED_SCHEMA]: spec(500, EXIT.FAILURE, 'the database was written by a newer medledger'),
  [StorageErrorCode.NOT_NEXT_HEIGHT]: spec(409, EXIT.FAILURE, 'a block to commit is not at head + 1'),
  [StorageErrorCode.PARENT_MISMATCH]: spec(409, EXIT.FAILURE, 'a block to commit does not extend the head'),
  [StorageErrorCode.WRONG_CHAIN]: spec(409, EXIT.FAILURE, 'a block to commit names another chain'),
  [StorageErrorCode.CERTIFICATE_MISMATCH]: spec(409, EXIT.FAILURE, 'a certificate is not for the block committed with it'),
  [StorageErrorCode.GUARD_REGRESSION]: spec(500, EXIT.FAILURE, 'the double-sign guard would move backwards'),
  [StorageErrorCode.RESERVED_KEY]: spec(500, EXIT.FAILURE, 'a metadata key the store owns was written'),
  [StorageErrorCode.CLOSED]: spec(503, EXIT.FAILURE, 'the store is closed (the node is stopping)')
}

export class StorageError extends MedledgerError {
  constructor (code: StorageErrorCode, message: string, meta: Record<string, unknown> = {}) {
    super(code, message, meta, PeerAction.IGNORE)
    this.name = 'StorageError'
  }
}

export function isStorageError (err: unknown, code?: StorageErrorCode): err is StorageError {
  return err instanceof StorageError && (code === undefined || err.code === code)
}

/**
 * A fault of the disk or the database itself (I/O error, corruption), as opposed to a refusal of
 * what the caller asked. A node that meets one cannot keep its chain whole and must stop
 * (docs/storage.md, "Storage faults").
 */
export function isStorageFault (err: unknown): err is StorageError {
  return isStorageError(err, StorageErrorCode.IO_ERROR) || isStorageError(err, StorageErrorCode.CORRUPT)
}
