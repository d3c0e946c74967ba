import { readdir } from 'node:fs/promises'
import { Level } from 'level'
import type { RootDb } from './buckets.ts'
import { StorageError, StorageErrorCode } from './errors.ts'

/**
 * Opens the LevelDB under `dir`, turning every failure into a StorageError whose message tells an
 * operator what to do (the CLI prints the message, never a stack trace). `home` is the node home
 * named in the advice.
 */
export async function openLevel (dir: string, home: string): Promise<RootDb> {
  await refuseOrphanedData(dir, home)
  const db: RootDb = new Level<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' })
  try {
    await db.open()
  } catch (err) {
    throw openError(err, dir, home)
  }
  return db
}

export function corruptAdvice (dir: string, home: string): string {
  return `the ledger database in ${dir} is damaged. Run \`medledger verify --home ${home}\` to see what is wrong, ` +
    'then restore it from an export (`medledger import`) or move it away and resync from the network'
}

function openError (err: unknown, dir: string, home: string): StorageError {
  const cause = (err as { cause?: { code?: string, message?: string } }).cause
  const code = cause?.code ?? (err as { code?: string }).code
  const detail = cause?.message ?? (err as Error).message
  const meta = { dir, cause: detail, levelCode: code }
  if (code === 'LEVEL_LOCKED') {
    return new StorageError(StorageErrorCode.LOCKED,
      `another medledger process is using ${dir} (the database is locked). Stop that process first, ` +
      'or give this one its own --home', meta)
  }
  // LevelDB's own I/O failures, and Node's (classic-level creates the directory with fs.mkdir).
  if (code === 'LEVEL_IO_ERROR' || (code !== undefined && /^E[A-Z]+$/.test(code))) {
    return new StorageError(StorageErrorCode.IO_ERROR,
      `cannot open the ledger database in ${dir}: ${detail}. Check that the path is a directory this ` +
      'user can read and write and that the disk is not full', meta)
  }
  return new StorageError(StorageErrorCode.CORRUPT, `${corruptAdvice(dir, home)} (${detail})`, meta)
}

// LevelDB with createIfMissing treats a directory without CURRENT as new and garbage-collects the
// table and log files it finds: a lost CURRENT would silently empty the ledger. Refuse instead.
async function refuseOrphanedData (dir: string, home: string): Promise<void> {
  let names: string[]
  try {
    names = await readdir(dir)
  } catch {
    return // missing (created by LevelDB) or unreadable (LevelDB reports it)
  }
  const hasData = names.some(n => /^\d+\.(ldb|sst|log)$/.test(n))
  if (hasData && !names.includes('CURRENT')) {
    throw new StorageError(StorageErrorCode.CORRUPT, `${corruptAdvice(dir, home)} (CURRENT file missing)`, { dir, cause: 'CURRENT file missing' })
  }
}
