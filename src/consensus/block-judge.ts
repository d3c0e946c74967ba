import { encodeBlock } from '../chain/codec.ts'
import { batchId, certificateHash, recordId } from '../chain/hashing.ts'
import type { Block, ProposalHeader } from '../chain/types.ts'
import { blockRecordIds, checkBatch, checkBlock, checkBlockTime, checkCertificate, checkEvidence, checkProposedBlock } from '../chain/validate.ts'
import { authorsAt, type ValidatorSchedule } from '../chain/validator-schedule.ts'
import { finalPerBatch, type RecordLookup, type VerifiedTip } from '../chain/verifier.ts'
import type { SignatureCheck } from '../crypto/verify-pool.ts'
import { bytesEqual, toHex } from '../encoding/bytes.ts'
import { isMedledgerError } from '../errors.ts'
import type { Logger } from '../logger.ts'
import type { Mempool } from '../mempool/mempool.ts'
import type { SignatureVerifier } from './ports.ts'

export interface BlockJudgeDeps {
  chainId: string
  maxBlockBytes: number
  maxClockDriftMs: number
  schedule: ValidatorSchedule
  /** Batches verified on admission are not verified again. */
  mempool: Pick<Mempool, 'hasBatch'>
  /** Records already final (a replay). */
  store: RecordLookup
  pool: SignatureVerifier
  now: () => number
  log: Logger
}

/** Judges proposed blocks for the consensus driver: the paper's valid(v), and timeliness. */
export class BlockJudge {
  constructor (private readonly d: BlockJudgeDeps) {}

  /** The paper's valid(v): every rule a final block must satisfy, against our tip. */
  async isValid (block: Block, p: ProposalHeader, tip: VerifiedTip): Promise<boolean> {
    try {
      const validators = this.d.schedule.at(block.header.height)
      checkProposedBlock(block.header, p, validators)
      if (encodeBlock(block).length > this.d.maxBlockBytes) return false
      checkBlock(this.d.chainId, block, tip.link, validators)
      const checks: SignatureCheck[] = [...(this.d.schedule.checkBlock?.(this.d.chainId, block) ?? [])]
      const lc = block.body.lastCommit
      if (lc !== null && tip.header !== null && !bytesEqual(certificateHash(lc), certificateHash(tip.certificate))) {
        checks.push(...checkCertificate(this.d.chainId, lc, tip.header, this.d.schedule.at(block.header.height - 1)))
      }
      const seen = new Set<string>()
      const authors = authorsAt(this.d.schedule, block.header.height, validators)
      const unknown: Block['body']['batches'] = []
      for (const b of block.body.batches) {
        const id = toHex(batchId(b))
        if (seen.has(id)) return false
        seen.add(id)
        // [REJECT] Its author is a validator or member at this height, even for a batch in our
        // mempool: admitted earlier, its author may have been removed since.
        if (!authors.has(b.author)) return false
        // Each batch is verified once per node: one from our mempool already was.
        if (!this.d.mempool.hasBatch(id)) {
          checks.push(checkBatch(this.d.chainId, b, authors))
          unknown.push(b)
        }
      }
      // No record id twice in the block, and none already final (a replay), whichever batch holds
      // it. Batches from our mempool were looked up on admission and hold no final record.
      blockRecordIds(block.body.batches)
      if ((await finalPerBatch(this.d.store, unknown.map(b => b.records.map(recordId)))).includes(true)) return false
      for (const e of block.body.evidence) checks.push(...checkEvidence(this.d.chainId, e, this.d.schedule.at(e.a.height)))
      return await this.d.pool.verifyEvery(checks)
    } catch (err) {
      if (!isMedledgerError(err)) throw err
      this.d.log.warn({ code: err.code, height: block.header.height }, 'proposal refused: %s', err.message)
      return false
    }
  }

  /**
   * Local, not part of valid(v): a new block's time is at most the allowed drift past our clock
   * (docs/protocol.md, "Time").
   */
  isTimely (block: Block): boolean {
    try {
      checkBlockTime(block.header, this.d.now(), this.d.maxClockDriftMs)
      return true
    } catch (err) {
      if (!isMedledgerError(err)) throw err
      this.d.log.warn({ code: err.code, height: block.header.height }, 'proposal refused: %s', err.message)
      return false
    }
  }
}
