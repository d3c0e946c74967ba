import { type Buckets, MetaKey, openBuckets, SCHEMA_VERSION } from './buckets.ts'
import { schemaMismatch, storedSchemaVersion } from './identity.ts'
import { openLevel } from './open.ts'
import { encodeRecordCount, encodeSchemaVersion } from './values.ts'
import { StorageError, StorageErrorCode } from './errors.ts'

/**
 * One step from a layout version to the next. `run` reads what it needs and returns the batch of
 * writes that moves the database; the step's new version is stamped in the same flushed batch, so
 * a crash during a migration leaves the database at the old version or the new one, never between,
 * and running `medledger migrate` again finishes it.
 */
interface Migration {
  from: number
  to: number
  /** What the step changes, for the operator. */
  what: string
  run: (b: Buckets, progress: (done: number) => void) => Promise<Array<{ key: string, value: Uint8Array }>>
}

const PROGRESS_EVERY = 100_000

const MIGRATIONS: readonly Migration[] = [
  {
    from: 1,
    to: 2,
    what: 'count the final records (meta recordCount: /v1/status and the explorer show the total)',
    run: async (b, progress) => {
      // One record-index entry per final record (block validation refuses duplicates).
      let n = 0
      for await (const key of b.recordIndex.keys()) {
        void key
        if (++n % PROGRESS_EVERY === 0) progress(n)
      }
      return [{ key: MetaKey.recordCount, value: encodeRecordCount(n) }]
    }
  }
]

export interface MigrationReport {
  /** The version found, and the one the database is at now. Undefined `from`: a new, empty database (nothing to do). */
  from: number | undefined
  to: number
  steps: string[]
}

/**
 * Brings the database under `dir` to SCHEMA_VERSION, step by step. The node must be stopped (the
 * database lock says so otherwise). A database of a newer layout is refused: it needs a newer medledger.
 */
export async function migrateDatabase (dir: string, home: string, onProgress: (step: string, done: number) => void = () => {}): Promise<MigrationReport> {
  const db = await openLevel(dir, home)
  try {
    const b = openBuckets(db)
    const from = await storedSchemaVersion(b)
    if (from === undefined) return { from, to: SCHEMA_VERSION, steps: [] }
    const newer = schemaMismatch(dir, home, from)
    if (from > SCHEMA_VERSION && newer !== undefined) throw newer
    const steps: string[] = []
    let version = from
    while (version < SCHEMA_VERSION) {
      const step = MIGRATIONS.find(m => m.from === version)
      if (step === undefined) throw new StorageError(StorageErrorCode.UNSUPPORTED_SCHEMA, `no migration from database schema v${version}: this medledger cannot read ${dir}`, { dir, version })
      const label = `v${step.from} -> v${step.to}: ${step.what}`
      const writes = await step.run(b, done => { onProgress(label, done) })
      const batch = b.meta.batch()
      for (const w of writes) batch.put(w.key, w.value)
      batch.put(MetaKey.schema, encodeSchemaVersion(step.to))
      await batch.write({ sync: true })
      steps.push(label)
      version = step.to
    }
    return { from, to: version, steps }
  } finally {
    await db.close()
  }
}
