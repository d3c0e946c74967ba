import { EXIT, spec, type ErrorTable } from '../errors.ts'

/** Export files and their import (docs/export.md). */
export enum ExportErrorCode {
  EMPTY = 'EXPORT_EMPTY',
  VERSION = 'EXPORT_VERSION',
  UNREADABLE = 'EXPORT_UNREADABLE',
  FORMAT = 'EXPORT_FORMAT',
  WRONG_CHAIN = 'IMPORT_WRONG_CHAIN',
  /** In an import report: a block in the file does not verify. */
  IMPORT_INVALID = 'IMPORT_INVALID',
  /** In an import report: the file starts above this database's head + 1. */
  IMPORT_GAP = 'IMPORT_GAP',
  /** In an import report: a block in the file differs from the one this database holds. */
  IMPORT_MISMATCH = 'IMPORT_MISMATCH'
}

export const EXPORT_ERRORS: ErrorTable<ExportErrorCode> = {
  [ExportErrorCode.EMPTY]: spec(500, EXIT.FAILURE, 'nothing to export (no final block in the range)'),
  [ExportErrorCode.VERSION]: spec(500, EXIT.FAILURE, 'the export file has a version this medledger does not read'),
  [ExportErrorCode.UNREADABLE]: spec(500, EXIT.FAILURE, 'the export file cannot be read'),
  [ExportErrorCode.FORMAT]: spec(500, EXIT.FAILURE, 'the export file is truncated or malformed'),
  [ExportErrorCode.WRONG_CHAIN]: spec(500, EXIT.FAILURE, 'the export is of another chain than this home\'s'),
  [ExportErrorCode.IMPORT_INVALID]: spec(500, EXIT.FAILURE, 'a block in the file does not verify (the import stops before it)'),
  [ExportErrorCode.IMPORT_GAP]: spec(500, EXIT.FAILURE, 'the file starts above this database\'s head + 1'),
  [ExportErrorCode.IMPORT_MISMATCH]: spec(500, EXIT.FAILURE, 'a block in the file differs from the one this database holds')
}
