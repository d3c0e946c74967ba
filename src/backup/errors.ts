import { EXIT, spec, type ErrorTable } from '../errors.ts'

/** Snapshots of a running node and their restore (docs/operations.md, "Backups"). */
export enum BackupErrorCode {
  STREAM_INVALID = 'SNAPSHOT_STREAM_INVALID',
  WRONG_NODE = 'SNAPSHOT_WRONG_NODE',
  REFUSED = 'SNAPSHOT_REFUSED',
  RUNNING = 'SNAPSHOT_RUNNING',
  UNREACHABLE = 'NODE_UNREACHABLE',
  NOT_A_SNAPSHOT = 'RESTORE_NOT_A_SNAPSHOT',
  WRONG_CHAIN = 'RESTORE_WRONG_CHAIN',
  VERIFY_FAILED = 'RESTORE_VERIFY_FAILED'
}

export const BACKUP_ERRORS: ErrorTable<BackupErrorCode> = {
  [BackupErrorCode.STREAM_INVALID]: spec(500, EXIT.FAILURE, 'the snapshot stream is cut short, altered or not a snapshot (the copy is removed)'),
  [BackupErrorCode.WRONG_NODE]: spec(500, EXIT.FAILURE, 'the node at the API runs another chain than the home names'),
  [BackupErrorCode.REFUSED]: spec(500, EXIT.FAILURE, 'the node refused the snapshot (token, or a status it answered)'),
  [BackupErrorCode.RUNNING]: spec(409, EXIT.FAILURE, 'a snapshot of this node is being taken; one at a time'),
  [BackupErrorCode.UNREACHABLE]: spec(503, EXIT.FAILURE, 'the node\'s API cannot be reached (snapshot copies a running node)'),
  [BackupErrorCode.NOT_A_SNAPSHOT]: spec(500, EXIT.FAILURE, 'the directory is not a whole snapshot (no snapshot.json or no data)'),
  [BackupErrorCode.WRONG_CHAIN]: spec(500, EXIT.FAILURE, 'the snapshot is of another chain than the home\'s'),
  [BackupErrorCode.VERIFY_FAILED]: spec(500, EXIT.FAILURE, 'the snapshot does not verify from genesis, or not as its manifest says; nothing was restored')
}
