import { encodeBatch } from '../chain/codec.ts'
import { batchId, recordId } from '../chain/hashing.ts'
import { LIMITS } from '../chain/limits.ts'
import type { MedRecord, RecordBatch } from '../chain/types.ts'
import { checkBatch } from '../chain/validate.ts'
import { authorsAt } from '../chain/validator-schedule.ts'
import { finalPerBatch, type RecordLookup } from '../chain/verifier.ts'
import type { SignatureCheck } from '../crypto/verify-pool.ts'
import { toHex } from '../encoding/bytes.ts'
import { isMedledgerError, MedledgerError } from '../errors.ts'
import { checkGovernanceRecords } from '../governance/admission.ts'
import type { GovernanceSchedule } from '../governance/schedule.ts'
import type { Verdict } from '../network/interface.ts'
import { MempoolErrorCode } from './errors.ts'
import type { Mempool } from './mempool.ts'

export interface AdmissionDeps {
  chainId: string
  schedule: GovernanceSchedule
  mempool: Mempool
  /** Verifies signatures in bulk (the VerifyPool). */
  verifier: { verifyEvery: (checks: SignatureCheck[]) => Promise<boolean> }
  /** The chain as it is now: its head and which records are final (the store opens after this is built). */
  chain: () => RecordLookup & { readonly head: { height: number } | null }
  /** consensus.max_block_bytes: a batch must leave room in a block for the rest. */
  maxBlockBytes: number
}

/**
 * The two doors into the mempool (docs/network.md, "Bounds"; docs/protocol.md section 9): the
 * node's own client's batch, refused with a clear error the client can act on, and gossiped
 * batches, checked and verified together and judged for the peer that sent them.
 */
export class BatchAdmission {
  constructor (private readonly d: AdmissionDeps) {}

  /** The largest batch a block built by this node's rules can carry (block limit less room for the rest). */
  get maxBatchBytes (): number {
    return Math.min(LIMITS.batchBytes, this.d.maxBlockBytes - 64 * 1024)
  }

  /**
   * This node's own records: checked for governance, sealed (signed) into one batch by `seal`,
   * and admitted; a refusal throws the registered error (src/mempool/errors.ts). Returns the
   * batch's bytes (to gossip), its id and the record ids in order. `turn`: the batch is added to
   * the mempool only once it settles (the batches of one request are admitted in their order,
   * while their store look-ups run together).
   */
  async admitOwn (records: MedRecord[], seal: (records: MedRecord[]) => { batch: RecordBatch, bytes: Uint8Array }, turn?: Promise<unknown>): Promise<{ bytes: Uint8Array, batchId: string, ids: string[] }> {
    const { mempool } = this.d
    checkGovernanceRecords(this.d.chainId, records, this.d.schedule)
    const { batch, bytes } = seal(records)
    // A batch no block could carry would wait for ever: refuse it while the client can split it.
    if (bytes.length > this.maxBatchBytes) throw new MedledgerError(MempoolErrorCode.BATCH_TOO_LARGE, `these records encode to ${bytes.length} bytes, more than one block carries (${this.maxBatchBytes}); submit them in smaller requests`, {})
    // Every record, not only the first: a batch holding a final record could never be written.
    if ((await this.d.chain().hasRecords(records.map(recordId))).includes(true)) throw new MedledgerError(MempoolErrorCode.RECORD_DUPLICATE, 'one of these records is already on the chain', {})
    await turn
    const id = toHex(batchId(batch))
    const added = mempool.add(batch, bytes.length, id)
    if (added === 'full') throw new MedledgerError(MempoolErrorCode.FULL, 'the node has too many records waiting; retry shortly', {})
    if (added === 'author-quota') throw new MedledgerError(MempoolErrorCode.AUTHOR_QUOTA, 'this node\'s own records fill its share of the mempool (mempool.max_bytes_per_author, max_batches_per_author); retry once some are final', {})
    if (added === 'duplicate') throw new MedledgerError(MempoolErrorCode.RECORD_DUPLICATE, 'one of these records is already waiting for a block', {})
    return { bytes, batchId: id, ids: mempool.recordIdsOf(id) ?? records.map(r => toHex(recordId(r))) }
  }

  /**
   * Gossiped batches (one message of one author): checked, their signatures verified together in
   * the worker pool, and the new ones admitted to the mempool. One bad batch rejects the message.
   */
  async admitGossip (batches: RecordBatch[]): Promise<Verdict> {
    const { chainId, schedule, mempool } = this.d
    const chain = this.d.chain()
    const authors = authorsAt(schedule, (chain.head?.height ?? 0) + 1)
    const fresh: Array<{ batch: RecordBatch, id: string }> = []
    const checks: SignatureCheck[] = []
    try {
      for (const batch of batches) {
        const id = toHex(batchId(batch))
        if (mempool.hasBatch(id)) continue
        checks.push(checkBatch(chainId, batch, authors))
        checkGovernanceRecords(chainId, batch.records, schedule)
        fresh.push({ batch, id })
      }
    } catch (err) {
      if (isMedledgerError(err)) return 'reject'
      throw err
    }
    if (fresh.length === 0) return 'ignore'
    if (!(await this.d.verifier.verifyEvery(checks))) return 'reject'
    const head = chain.head?.height
    // A batch holding any final record is a replay, whichever of its records that is.
    const final = await finalPerBatch(chain, fresh.map(f => f.batch.records.map(recordId)))
    const added = fresh.filter(({ batch, id }, i) => {
      const size = encodeBatch(batch).length
      return !final[i] && size <= this.maxBatchBytes && mempool.add(batch, size, id) === 'added'
    })
    // A block carrying one of them may have been committed while we looked: its clean-up found
    // nothing to remove, and the batch would wait for ever (seen on an observer, simulation 4).
    if (added.length > 0 && chain.head?.height !== head) {
      const nowFinal = await finalPerBatch(chain, added.map(f => f.batch.records.map(recordId)))
      mempool.removeBatches(added.filter((_, i) => nowFinal[i]).map(f => f.id))
    }
    return added.length > 0 ? 'accept' : 'ignore'
  }
}
