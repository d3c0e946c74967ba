import { bytesEqual, toHex } from '../encoding/bytes.ts'
import { encodeBlock, encodeCertificate } from '../chain/codec.ts'
import type { Genesis } from '../chain/genesis.ts'
import type { FinalizedBlock } from '../chain/types.ts'
import { checkCertificate } from '../chain/validate.ts'
import { GovernanceSchedule } from '../governance/schedule.ts'
import { ChainVerifier, genesisTip, type VerifiedTip } from '../chain/verifier.ts'
import type { VerifyPool } from '../crypto/verify-pool.ts'
import { isMedledgerError, MedledgerError } from '../errors.ts'
import type { ChainStore } from '../storage/index.ts'
import type { ExportHeader, ExportReader } from './format.ts'
import { ExportErrorCode } from './errors.ts'
import { StorageErrorCode } from '../storage/errors.ts'
import { ChainErrorCode } from '../chain/errors.ts'

export interface ImportReport {
  ok: boolean
  file: string
  chainId: string
  /** The file's range. */
  from: number
  to: number
  /** Blocks verified and written by this run. */
  imported: number
  /** Blocks the database already held (checked to be the same blocks, then skipped). */
  skipped: number
  /** The database's last block after this run, and its hash. */
  height: number
  headHash: string | null
  ms: number
  /** On failure: the first height that did not hold, why, and the error code. */
  firstBadHeight?: number
  error?: string
  code?: string
}

export const DEFAULT_RUN = 64

/** Refuses a file of another chain or genesis before anything is opened for writing. */
export function checkExportHeader (header: ExportHeader, genesis: Genesis, file: string): void {
  if (header.chainId !== genesis.chainId || !bytesEqual(header.genesisHash, genesis.hash)) {
    throw new MedledgerError(ExportErrorCode.WRONG_CHAIN,
      `${file} is an export of chain ${header.chainId} (genesis ${toHex(header.genesisHash)}), but this home is set up for chain ${genesis.chainId} (genesis ${toHex(genesis.hash)}). ` +
      'Import it into a home initialised with that chain\'s genesis file')
  }
}

class ImportError extends Error {
  constructor (readonly height: number, message: string, readonly code: string) { super(message) }
}

/**
 * Imports an export into a store, trusting only the genesis: each run of `runSize` blocks is
 * verified as an auditor would (ChainVerifier.verifyRun: links, header fields, certificates,
 * batch signatures, evidence, no replayed batch; all cores) and only then written, as one atomic
 * commit. Blocks at or below the store's head are not written again: each must be byte for byte
 * the stored block (its certificate, when it differs from the stored one, must verify), so a
 * resumed import checks the file's block at the head against the stored head. On the first
 * failure the blocks before it are written and nothing from it on; the report names its height.
 */
export async function importExport (reader: ExportReader, store: ChainStore, genesis: Genesis, pool: VerifyPool, opts: { runSize?: number, progress?: (done: number, total: number) => void } = {}): Promise<ImportReport> {
  const started = Date.now()
  const { from, to } = reader.header
  const runSize = Math.max(1, opts.runSize ?? DEFAULT_RUN)
  // Validator-set and member-set changes are followed from genesis: first those of the blocks already stored.
  const schedule = GovernanceSchedule.fromGenesis(genesis)
  const verifier = new ChainVerifier(genesis.chainId, schedule, pool, store)
  const startHead = store.head?.height ?? 0
  const report: ImportReport = { ok: true, file: reader.file, chainId: genesis.chainId, from, to, imported: 0, skipped: 0, height: startHead, headHash: null, ms: 0 }
  const total = to - Math.max(from - 1, startHead)
  let run: FinalizedBlock[] = []
  let tip: VerifiedTip | undefined

  const commit = async (blocks: FinalizedBlock[]): Promise<void> => {
    await store.commitMany(blocks)
    report.imported += blocks.length
    opts.progress?.(report.imported, Math.max(total, 0))
  }
  // Verifies and writes the pending run. When the run fails, its blocks are verified one at a
  // time to find the first bad one: the good ones before it are written, it and later ones never.
  const flush = async (): Promise<void> => {
    if (run.length === 0) return
    const blocks = run
    run = []
    const start = tip as VerifiedTip
    try {
      tip = await verifier.verifyRun(start, blocks)
    } catch {
      tip = start
      for (const fb of blocks) {
        try {
          tip = await verifier.verifyRun(tip, [fb])
        } catch (err) {
          throw new ImportError(fb.block.header.height, (err as Error).message, isMedledgerError(err) ? err.code : ExportErrorCode.IMPORT_INVALID)
        }
        await commit([fb])
      }
      return
    }
    await commit(blocks)
  }

  try {
    if (from > startHead + 1) {
      throw new ImportError(from, `the file starts at block ${from}, but this database ends at block ${startHead}: import an export that starts at or below block ${startHead + 1} first`, ExportErrorCode.IMPORT_GAP)
    }
    for await (const fb of store.iterateFinalized(1, startHead)) schedule.observe(fb.block)
    if (startHead === 0 || from === startHead + 1) tip = await storedTip(store, genesis)
    for await (const { height, fb } of reader.frames()) {
      if (height <= startHead) {
        await checkSameBlock(store, genesis, pool, schedule, fb)
        report.skipped++
        if (height === startHead) tip = await storedTip(store, genesis)
        continue
      }
      run.push(fb)
      if (run.length >= runSize) await flush()
    }
    await flush()
  } catch (caught) {
    let err = caught
    // A frame that could not be read (cut short, not canonical ...): the blocks read before it
    // are sound, so verify and write them before reporting.
    if (!(err instanceof ImportError) && tip !== undefined) {
      try { await flush() } catch (flushErr) { err = flushErr }
    }
    report.ok = false
    if (err instanceof ImportError) {
      report.firstBadHeight = err.height
      report.error = err.message
      report.code = err.code
    } else if (isMedledgerError(err)) {
      report.firstBadHeight = typeof err.meta.height === 'number' ? err.meta.height : (store.head?.height ?? 0) + 1
      report.error = err.message
      report.code = err.code
    } else {
      throw err
    }
  }
  report.height = store.head?.height ?? 0
  report.headHash = store.head === null ? null : toHex(store.head.hash)
  report.ms = Date.now() - started
  return report
}

/** The verified tip the next block must extend: the stored head, or genesis. */
async function storedTip (store: ChainStore, genesis: Genesis): Promise<VerifiedTip> {
  const head = store.head
  if (head === null) return genesisTip(genesis.hash, genesis.genesisTime)
  const fb = await store.getFinalized(head.height)
  if (fb === undefined) throw new MedledgerError(StorageErrorCode.CORRUPT, `the database names head ${head.height} but holds no block there; run \`medledger verify\``)
  return { link: { height: head.height, hash: head.hash, time: fb.block.header.time }, header: fb.block.header, certificate: fb.certificate }
}

/**
 * A block the store already holds: the file's must be the same block, byte for byte. Another
 * certificate for it is fine (any quorum of precommits proves the block) once it verifies.
 */
async function checkSameBlock (store: ChainStore, genesis: Genesis, pool: VerifyPool, schedule: GovernanceSchedule, fb: FinalizedBlock): Promise<void> {
  const h = fb.block.header.height
  const stored = await store.getBlockBytes(h)
  if (stored === undefined || !bytesEqual(stored, encodeBlock(fb.block))) {
    throw new ImportError(h, `block ${h} in the file is not the block this database already holds at height ${h}: the file was altered, or it records another history`, ExportErrorCode.IMPORT_MISMATCH)
  }
  const cert = await store.getCertificate(h)
  if (cert !== undefined && bytesEqual(encodeCertificate(cert), encodeCertificate(fb.certificate))) return
  let ok: boolean
  try {
    ok = await pool.verifyEvery(checkCertificate(genesis.chainId, fb.certificate, fb.block.header, schedule.at(h)))
  } catch (err) {
    throw new ImportError(h, (err as Error).message, isMedledgerError(err) ? err.code : ExportErrorCode.IMPORT_INVALID)
  }
  if (!ok) throw new ImportError(h, `block ${h}: its commit certificate does not verify`, ChainErrorCode.CERT_SIGNATURE)
}
