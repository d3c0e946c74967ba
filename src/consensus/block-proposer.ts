import { buildBlock } from '../chain/block-builder.ts'
import { recordId } from '../chain/hashing.ts'
import type { Block, Evidence } from '../chain/types.ts'
import { authorsAt, type ValidatorSchedule } from '../chain/validator-schedule.ts'
import type { RecordLookup, VerifiedTip } from '../chain/verifier.ts'
import { isMedledgerError } from '../errors.ts'
import type { Mempool } from '../mempool/mempool.ts'

export interface BlockProposerDeps {
  chainId: string
  /** Our public key, named as the block's proposer. */
  proposer: Uint8Array
  maxBlockBytes: number
  maxBatchesPerBlock: number
  schedule: ValidatorSchedule
  mempool: Pick<Mempool, 'reap' | 'removeBatches'>
  store: RecordLookup & { listPendingEvidence: () => Promise<Evidence[]> }
  now: () => number
}

/**
 * Builds the blocks a validator proposes: waiting batches from the mempool (none already final,
 * validator-set changes only as governance admits them, one at a time) and pending evidence.
 */
export class BlockProposer {
  constructor (private readonly d: BlockProposerDeps) {}

  /** A new block for the height after `tip`, built in `round` by us. */
  async build (round: number, tip: VerifiedTip): Promise<Block> {
    const pooled = this.d.mempool.reap(this.d.maxBlockBytes - 64 * 1024, this.d.maxBatchesPerBlock)
    const batches = []
    const changing: Block['body']['batches'] = []
    // A batch that became final meanwhile is left out, and leaves the mempool. (Waiting batches
    // hold no final record: every record was looked up on admission, and a final block drops the
    // batches it makes replays, Mempool.removeFinal. The first record is asked again, cheaply.)
    const final = await this.d.store.hasRecords(pooled.map(p => recordId(p.batch.records[0])))
    this.d.mempool.removeBatches(pooled.filter((_, i) => final[i]).map(p => p.id))
    // A batch whose author is no longer a validator or member at this height (governance removed it) never will be again: it leaves too.
    const authors = authorsAt(this.d.schedule, tip.link.height + 1)
    const stranger = pooled.map(p => !authors.has(p.batch.author))
    this.d.mempool.removeBatches(pooled.filter((_, i) => stranger[i] && !final[i]).map(p => p.id))
    for (const [i, p] of pooled.entries()) {
      if (final[i] || stranger[i]) continue
      // A validator-set change that is not admissible now (one at a time) waits for a later block.
      // Each batch is checked alone (linear in the block); one that carries a change is checked
      // again with the other changes taken so far.
      const alone = this.governanceCheck([p.batch], tip)
      if (alone === 'refused') continue
      if (alone === 'change') {
        if (this.governanceCheck([...changing, p.batch], tip) === 'refused') continue
        changing.push(p.batch)
      }
      batches.push(p.batch)
    }
    const evidence = (await this.d.store.listPendingEvidence()).slice(0, 100)
    return buildBlock({
      chainId: this.d.chainId,
      parent: tip.link,
      round,
      proposer: this.d.proposer,
      validators: this.d.schedule.at(tip.link.height + 1),
      batches,
      lastCommit: tip.certificate,
      evidence,
      now: this.d.now()
    })
  }

  /** Whether these batches, as the next block's body, carry no validator-set change, an admissible one, or are refused. */
  private governanceCheck (batches: Block['body']['batches'], tip: VerifiedTip): 'none' | 'change' | 'refused' {
    if (this.d.schedule.checkBlock === undefined) return 'none'
    try {
      const checks = this.d.schedule.checkBlock(this.d.chainId, { header: { ...(tip.header as Block['header']), height: tip.link.height + 1 }, body: { batches, lastCommit: null, evidence: [] } })
      return checks.length === 0 ? 'none' : 'change'
    } catch (err) {
      if (isMedledgerError(err)) return 'refused'
      throw err
    }
  }
}
