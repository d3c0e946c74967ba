import { bytesEqual, toHex } from '../encoding/bytes.ts'
import type { RootedCheck, SignatureCheck, VerifyPool } from '../crypto/verify-pool.ts'
import { ChainError, ChainErrorCode } from './errors.ts'
import { batchSignTemplate, blockHash, certificateHash, recordId } from './hashing.ts'
import { batchRoots, recordBytes, recordIds } from './memo.ts'
import { checkBatch, checkBatchRules, checkBlock, checkCertificate, checkEvidence, type ParentLink } from './validate.ts'
import { RecordIdMap } from './record-id-map.ts'
import { authorsAt, type ValidatorSchedule } from './validator-schedule.ts'
import type { BlockHeader, Certificate, FinalizedBlock, RecordBatch } from './types.ts'

export interface VerifiedTip {
  link: ParentLink
  /** Header and certificate of the tip (null at genesis): the next block's lastCommit is checked against them. */
  header: BlockHeader | null
  certificate: Certificate | null
}

/** Batched lookup of records already final: one answer per id, in order (ChainStore is one). */
export interface RecordLookup {
  hasRecords: (ids: Uint8Array[]) => Promise<boolean[]>
}

/**
 * Signature checks are handed to the pool in chunks of about this many as the run is walked, so
 * the workers verify while the main thread builds the next ones.
 */
export const VERIFY_CHUNK = 2048

/**
 * Batches whose records root is not known yet go to the pool's verifyRooted in chunks of whole
 * blocks of at least this many records (at most 4 times as many, or VERIFY_CHUNK batches): the
 * workers compute the roots beside the batch signatures, and the walk over the run waits only for
 * the roots of the block in hand.
 */
export const ROOT_CHUNK_RECORDS = 8192

interface Owner { height: number, code: ChainErrorCode, what: string }
interface Chunk { results: Promise<boolean[]>, owners: Owner[] }

/** The pool's answer to one chunk of rooted batch checks; `okNow` once `ok` is in. */
interface RootedChunk { head: Promise<{ roots: Uint8Array[], ids: Array<Uint8Array[] | undefined> }>, ok: Promise<boolean[]>, okNow?: boolean[] }
/** Where a batch's root and signature verdict are: its chunk and its place in it. */
interface Rooted { chunk: RootedChunk, index: number }

export type VerifierPool = Pick<VerifyPool, 'verifyAll'> & Partial<Pick<VerifyPool, 'verifyRooted'>>

/**
 * Verifies runs of finalized blocks the way an auditor would: every link, header field,
 * certificate (against the set in force at its height), batch signature and piece of evidence.
 * The signatures of a run go to the worker pool in chunks while the run is still being walked;
 * the first failure in chain order is reported once all of them are in. With a pool that has
 * verifyRooted, the records root of every batch whose root is not known yet is computed by the
 * pool's workers beside its signature, before the walk: the main thread does not hash records.
 */
export class ChainVerifier {
  readonly #hasRecords: ((ids: Uint8Array[]) => Promise<boolean[]>) | undefined

  constructor (
    private readonly chainId: string,
    private readonly schedule: ValidatorSchedule,
    private readonly pool: VerifierPool,
    /** Optional lookup of records already final (refuses replays of a batch): one lookup per block. */
    records?: RecordLookup
  ) {
    if (records !== undefined) this.#hasRecords = async (ids) => await records.hasRecords(ids)
  }

  /** Throws the first failure; returns the new tip. */
  async verifyRun (tip: VerifiedTip, run: FinalizedBlock[]): Promise<VerifiedTip> {
    // The batches' roots and signatures, when the pool computes them: sent before the walk.
    const rooted = this.#sendRooted(run)
    let checks: SignatureCheck[] = []
    let owners: Owner[] = []
    // Per owner, in order: undefined for the next of `checks`, else the batch whose verdict the
    // rooted chunks give. Empty while no owner is a rooted batch.
    let refs: Array<Rooted | undefined> = []
    const inFlight: Chunk[] = []
    const add = (height: number, code: ChainErrorCode, what: string, cs: SignatureCheck[]): void => {
      if (cs.length === 0) return
      const owner = { height, code, what }
      for (const c of cs) {
        checks.push(c)
        owners.push(owner)
        if (refs.length > 0) refs.push(undefined)
      }
    }
    const addRooted = (height: number, code: ChainErrorCode, what: string, r: Rooted): void => {
      if (refs.length < owners.length) refs = owners.map(() => undefined)
      owners.push({ height, code, what })
      refs.push(r)
    }
    // Hands the checks built so far to the pool without waiting for them.
    const send = (): void => {
      if (owners.length === 0) return
      const verified = checks.length === 0 ? Promise.resolve([]) : this.pool.verifyAll(checks)
      const results = refs.length === 0 ? verified : merged(verified, refs)
      // Observed by settle; a run that fails before then leaves it behind, which must not count
      // as an unhandled rejection.
      results.catch(() => {})
      inFlight.push({ results, owners })
      checks = []
      owners = []
      refs = []
    }
    // Record ids are refused twice across the whole run, not just within one block: every record
    // id checked so far, with the height of the block that holds it.
    const seen = new RecordIdMap<number>()
    let cur = tip
    // The schedule learns a block's validator-set change only once every signature up to and
    // including that block verified; a forged change never enters it.
    let unobserved: FinalizedBlock[] = []
    const settle = async (): Promise<void> => {
      send()
      // In chain order: the first failing check of the earliest chunk is the first failure.
      for (const { results, owners } of inFlight.splice(0)) {
        const ok = await results
        const bad = ok.indexOf(false)
        if (bad >= 0) {
          const o = owners[bad]
          throw new ChainError(o.code, `block ${o.height}: ${o.what} does not verify`, { height: o.height })
        }
      }
      for (const fb of unobserved) this.schedule.observe?.(fb.block)
      unobserved = []
    }
    for (const fb of run) {
      const { block, certificate } = fb
      const h = block.header.height
      const batches = block.body.batches
      // The block's batch roots and record ids, where the pool computes them.
      if (rooted !== undefined) await rootsOf(batches, rooted)
      // The replay lookup of every record of the block runs in LevelDB's threads while the block is checked.
      const ids = batches.map(b => b.records.map(recordId))
      const known = this.#lookup(ids)
      const validators = this.schedule.at(h)
      const authors = authorsAt(this.schedule, h, validators)
      checkBlock(this.chainId, block, cur.link, validators)
      const lc = block.body.lastCommit
      if (lc !== null && cur.header !== null && !(cur.certificate !== null && bytesEqual(certificateHash(lc), certificateHash(cur.certificate)))) {
        add(h, ChainErrorCode.CERT_SIGNATURE, 'the previous block\'s certificate', checkCertificate(this.chainId, lc, cur.header, this.schedule.at(h - 1)))
      }
      // Batch by batch, a batch's own rules fail before the question whether it repeats a record,
      // and a repeat before any later batch: walk until the first failure of either kind, then ask
      // the lookup about the records of the batches before it (a record already final comes first).
      let stop = batches.length
      let failure: unknown
      for (let i = 0; i < batches.length && stop === batches.length; i++) {
        try {
          const r = rooted?.get(batches[i])
          if (r === undefined) add(h, ChainErrorCode.BATCH_SIGNATURE, 'a batch signature', [checkBatch(this.chainId, batches[i], authors)])
          else {
            checkBatchRules(batches[i], authors)
            addRooted(h, ChainErrorCode.BATCH_SIGNATURE, 'a batch signature', r)
          }
        } catch (err) {
          stop = i
          failure = err
          break
        }
        for (const id of ids[i]) {
          const at = seen.get(id)
          if (at !== undefined) {
            stop = i
            // [REJECT] A record id appears once on the chain: not twice in one block, nor again in a later one.
            failure = at === h
              ? new ChainError(ChainErrorCode.RECORD_DUPLICATE, `block ${h} carries record ${toHex(id).slice(0, 16)} twice`, { height: h })
              : replay(h)
            break
          }
          seen.set(id, h)
        }
      }
      if (known !== undefined && stop > 0) {
        const k = await known
        for (let i = 0; i < stop; i++) if (k[i]) throw replay(h)
      }
      if (stop < batches.length) throw failure
      for (const e of block.body.evidence) add(h, ChainErrorCode.EVIDENCE_INVALID, 'an evidence signature', checkEvidence(this.chainId, e, this.schedule.at(e.a.height)))
      add(h, ChainErrorCode.CERT_SIGNATURE, 'its commit certificate', checkCertificate(this.chainId, certificate, block.header, validators))
      const governance = this.schedule.checkBlock?.(this.chainId, block) ?? []
      add(h, ChainErrorCode.GOVERNANCE_INVALID, 'a governance approval', governance)
      cur = { link: { height: h, hash: blockHash(block.header), time: block.header.time }, header: block.header, certificate }
      unobserved.push(fb)
      if (governance.length > 0) await settle()
      else if (checks.length >= VERIFY_CHUNK) send()
    }
    await settle()
    return cur
  }

  /**
   * Sends every batch of the run whose records root is not known yet to the pool's verifyRooted,
   * in chunks, in chain order: where each one's root and verdict will be. Undefined when the pool
   * has no verifyRooted (the walk computes roots and checks signatures as before).
   */
  #sendRooted (run: FinalizedBlock[]): Map<RecordBatch, Rooted> | undefined {
    const pool = this.pool
    if (pool.verifyRooted === undefined) return undefined
    const verifyRooted = pool.verifyRooted.bind(pool)
    const out = new Map<RecordBatch, Rooted>()
    let chunk = {} as RootedChunk
    let checks: RootedCheck[] = []
    let records = 0
    const send = (): void => {
      if (checks.length === 0) return
      const { roots, ids, ok } = verifyRooted(checks)
      const sent = chunk
      sent.head = Promise.all([roots, ids]).then(([roots, ids]) => ({ roots, ids }))
      sent.ok = ok
      // Awaited by the walk and by settle; a run that fails first leaves them behind.
      sent.head.catch(() => {})
      ok.then(v => { sent.okNow = v }, () => {})
      chunk = {} as RootedChunk
      checks = []
      records = 0
    }
    for (const fb of run) {
      for (const b of fb.block.body.batches) {
        if (batchRoots.has(b) || out.has(b)) continue
        const { message, rootAt } = batchSignTemplate(this.chainId, b.author, b.records.length)
        out.set(b, { chunk, index: checks.length })
        // Records decoded and not hashed yet go as their bytes: the workers compute their ids too.
        const bytes = b.records.map(r => recordIds.has(r) ? undefined : recordBytes.get(r))
        const hashLeaves = bytes.every(x => x !== undefined)
        const leaves = hashLeaves ? bytes as Uint8Array[] : b.records.map(recordId)
        checks.push({ publicKey: b.author, message, rootAt, leaves, hashLeaves, signature: b.signature })
        records += b.records.length
        if (records >= 4 * ROOT_CHUNK_RECORDS || checks.length >= VERIFY_CHUNK) send()
      }
      // Chunks end with a block where they can: the walk waits for the roots of one block, not of
      // the chunk that also holds the start of the next.
      if (records >= ROOT_CHUNK_RECORDS) send()
    }
    send()
    return out
  }

  /** Starts the replay lookup of a block's record ids: per batch, whether any of its records is final. */
  #lookup (ids: Uint8Array[][]): Promise<boolean[]> | undefined {
    if (this.#hasRecords === undefined || ids.length === 0) return undefined
    const answers = finalPerBatch({ hasRecords: this.#hasRecords }, ids)
    // Awaited only when a batch before the block's first failure needs it.
    answers.catch(() => {})
    return answers
  }
}

/**
 * Per batch (given as its record ids), whether any of its records is final already: one lookup
 * for all of them. A batch holding a final record is a replay, whichever of its records that is.
 */
export async function finalPerBatch (records: RecordLookup, ids: Uint8Array[][]): Promise<boolean[]> {
  const found = await records.hasRecords(ids.flat())
  let j = 0
  return ids.map(batch => {
    let any = false
    for (let n = 0; n < batch.length; n++) if (found[j++]) any = true
    return any
  })
}

function replay (height: number): ChainError {
  return new ChainError(ChainErrorCode.BATCH_DUPLICATE, `block ${height} repeats a record that is already on the chain`, { height })
}

export function genesisTip (genesisHash: Uint8Array, genesisTime: number): VerifiedTip {
  return { link: { height: 0, hash: genesisHash, time: genesisTime }, header: null, certificate: null }
}

/** Waits for the roots (and record ids) of the given batches that the pool computes, and remembers them (memo.ts). */
async function rootsOf (batches: RecordBatch[], rooted: Map<RecordBatch, Rooted>): Promise<void> {
  let chunk: RootedChunk | undefined
  let got: Awaited<RootedChunk['head']> | undefined
  for (const b of batches) {
    const r = rooted.get(b)
    if (r === undefined || batchRoots.has(b)) continue
    if (r.chunk !== chunk || got === undefined) {
      chunk = r.chunk
      got = await chunk.head
    }
    const ids = got.ids[r.index]
    if (ids !== undefined) for (let i = 0; i < ids.length; i++) recordIds.set(b.records[i], ids[i])
    batchRoots.set(b, got.roots[r.index])
  }
}

/** The verdicts of a chunk of owners: the pool's for its own checks, the rooted chunks' for the batches in `refs`. */
async function merged (verified: Promise<boolean[]>, refs: Array<Rooted | undefined>): Promise<boolean[]> {
  const ok = await verified
  const out = new Array<boolean>(refs.length)
  let j = 0
  for (let k = 0; k < refs.length; k++) {
    const r = refs[k]
    if (r === undefined) out[k] = ok[j++]
    else out[k] = (r.chunk.okNow ?? await r.chunk.ok)[r.index]
  }
  return out
}
