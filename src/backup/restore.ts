import { cp, readFile, rename, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { Level } from 'level'
import { auditStore, type AuditReport } from '../audit/audit.ts'
import { loadConfig, resolvePath } from '../config/load.ts'
import { VerifyPool } from '../crypto/verify-pool.ts'
import { toHex } from '../encoding/bytes.ts'
import { MedledgerError } from '../errors.ts'
import { hasDatabase, loadHome, openStoppedStore } from '../export/open-home.ts'
import { Bucket } from '../storage/index.ts'
import { migrateDatabase } from '../storage/migrations.ts'
import { BackupErrorCode } from './errors.ts'
import { MANIFEST_FILE, type SnapshotManifest } from './manifest.ts'

export interface RestoreReport {
  manifest: SnapshotManifest
  audit: AuditReport
  /** Where the home's previous database went (kept, never deleted), if it had one. */
  previous?: string
  /**
   * Where the restored double-sign guard and consensus state come from: the home's own database
   * when it can still be read (its guard is the newest this key has), else the snapshot when it
   * was taken of this same node, else none (another node's must never become this one's).
   */
  consensusState: 'home' | 'snapshot' | 'none'
  migrated: string[]
}

/**
 * Restores a snapshot into a stopped node's home. The snapshot is copied (never opened in place),
 * brought to this release's layout, and re-verified from genesis as an auditor would
 * (src/audit); only a copy that verifies, and holds what its manifest says, replaces the home's
 * database, which is moved aside to `data.before-restore-<time>`. Anything else changes nothing.
 */
export async function restoreSnapshot (home: string, from: string, progress?: (done: number, total: number) => void): Promise<RestoreReport> {
  const manifest = await readManifest(from)
  const { genesis, dataDir } = await loadHome(home)
  if (manifest.chainId !== genesis.chainId || manifest.genesisHash !== toHex(genesis.hash)) {
    throw new MedledgerError(BackupErrorCode.WRONG_CHAIN, `the snapshot in ${from} is of chain ${manifest.chainId} (genesis ${manifest.genesisHash}), the home ${home} is of ${genesis.chainId} (genesis ${toHex(genesis.hash)})`)
  }
  // A running node holds its database's lock: say so before copying anything.
  if (await hasDatabase(dataDir)) await (await openStoppedStore(home, dataDir, genesis, 'restore').catch(async (err: unknown) => await rethrowUnlessLayout(err))).close()

  const stamp = new Date().toISOString().replace(/[:.]/g, '-')
  const staging = `${dataDir}.restoring-${stamp}`
  await cp(join(from, 'data'), staging, { recursive: true, errorOnExist: true })
  try {
    const own = await hasDatabase(dataDir) ? await readConsensusState(dataDir) : undefined
    const sameNode = manifest.peerId === await homePeerId(home)
    if (own !== undefined || !sameNode) await replaceConsensusState(staging, own ?? [])
    const consensusState = own !== undefined ? 'home' : sameNode ? 'snapshot' : 'none'
    const { steps } = await migrateDatabase(staging, home)
    const store = await openStoppedStore(home, staging, genesis, 'restore')
    const pool = new VerifyPool()
    let audit: AuditReport
    try {
      audit = await auditStore(store, genesis, pool, progress)
    } finally {
      await pool.close()
      await store.close()
    }
    if (!audit.ok) throw new MedledgerError(BackupErrorCode.VERIFY_FAILED, `the snapshot in ${from} does not verify, at height ${audit.firstBrokenHeight}: ${audit.error}. Nothing was restored`)
    if (audit.height !== manifest.height || audit.records !== manifest.records) {
      throw new MedledgerError(BackupErrorCode.VERIFY_FAILED, `the snapshot in ${from} holds ${audit.height} blocks and ${audit.records} records, its manifest says ${manifest.height} and ${manifest.records}. Nothing was restored`)
    }
    let previous: string | undefined
    if (await hasDatabase(dataDir)) {
      previous = `${dataDir}.before-restore-${stamp}`
      await rename(dataDir, previous)
    } else {
      await rm(dataDir, { recursive: true, force: true })
    }
    await rename(staging, dataDir)
    return { manifest, audit, previous, consensusState, migrated: steps }
  } catch (err) {
    await rm(staging, { recursive: true, force: true })
    throw err
  }
}

async function readManifest (from: string): Promise<SnapshotManifest> {
  let json: SnapshotManifest
  try {
    json = JSON.parse(await readFile(join(from, MANIFEST_FILE), 'utf8')) as SnapshotManifest
  } catch (err) {
    throw new MedledgerError(BackupErrorCode.NOT_A_SNAPSHOT, `${from} is not a whole snapshot (${join(from, MANIFEST_FILE)}: ${(err as Error).message}); \`medledger snapshot\` writes the manifest last`)
  }
  if (json.format !== 'medledger-snapshot/1' || !(await hasDatabase(join(from, 'data')))) throw new MedledgerError(BackupErrorCode.NOT_A_SNAPSHOT, `${from} is not a medledger snapshot (format ${String(json.format)})`)
  return json
}

/** The home's current database may be of an older layout: restore replaces it, so that is no reason to stop. */
async function rethrowUnlessLayout (err: unknown): Promise<{ close: () => Promise<void> }> {
  const code = (err as { code?: string }).code
  if (code === 'STORAGE_OLD_SCHEMA' || code === 'STORAGE_UNSUPPORTED_SCHEMA' || code === 'STORAGE_CORRUPT') return { close: async () => {} }
  throw err
}

async function homePeerId (home: string): Promise<string | undefined> {
  const config = await loadConfig(home)
  try {
    return (JSON.parse(await readFile(resolvePath(home, config.key), 'utf8')) as { peerId?: string }).peerId
  } catch {
    return undefined
  }
}

type Entries = Array<[string, Uint8Array]>

/** The consensus bucket of a stopped node's database (guard, kept votes, snapshot); undefined if it cannot be read. */
async function readConsensusState (dir: string): Promise<Entries | undefined> {
  const db = new Level<string, Uint8Array>(dir, { valueEncoding: 'view', createIfMissing: false })
  try {
    return await db.sublevel<string, Uint8Array>(Bucket.consensus, { valueEncoding: 'view' }).iterator().all()
  } catch {
    return undefined
  } finally {
    await db.close().catch(() => {})
  }
}

/** Replaces the consensus bucket of the staged copy (guard and state are per key, never per chain copy). */
async function replaceConsensusState (dir: string, entries: Entries): Promise<void> {
  const db = new Level<string, Uint8Array>(dir, { valueEncoding: 'view' })
  try {
    await db.open()
    const consensus = db.sublevel<string, Uint8Array>(Bucket.consensus, { valueEncoding: 'view' })
    await consensus.clear()
    const batch = consensus.batch()
    for (const [key, value] of entries) batch.put(key, value)
    await batch.write({ sync: true })
  } finally {
    await db.close()
  }
}
