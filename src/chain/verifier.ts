import { bytesEqual } from '../encoding/bytes.ts'
import type { SignatureCheck, VerifyPool } from '../crypto/verify-pool.ts'
import { ChainError, ChainErrorCode } from './errors.ts'
import { blockHash, certificateHash, recordId } from './hashing.ts'
import { checkBatch, checkBlock, checkCertificate, checkEvidence, type ParentLink } from './validate.ts'
import type { ValidatorSchedule } from './validator-schedule.ts'
import type { BlockHeader, Certificate, FinalizedBlock } from './types.ts'

export interface VerifiedTip {
  link: ParentLink
  /** Header and certificate of the tip (null at genesis): the next block's lastCommit is checked against them. */
  header: BlockHeader | null
  certificate: Certificate | null
}

/**
 * Verifies runs of finalized blocks the way an auditor would: every link, header field,
 * certificate (against the set in force at its height), batch signature and piece of evidence.
 * All signatures of a run are verified together in the worker pool.
 */
export class ChainVerifier {
  constructor (
    private readonly chainId: string,
    private readonly schedule: ValidatorSchedule,
    private readonly pool: VerifyPool,
    /** Optional lookup of records already final (refuses replays of a batch). */
    private readonly hasRecord?: (id: Uint8Array) => Promise<boolean>
  ) {}

  /** Throws the first failure; returns the new tip. */
  async verifyRun (tip: VerifiedTip, run: FinalizedBlock[]): Promise<VerifiedTip> {
    const checks: SignatureCheck[] = []
    const owners: Array<{ height: number, code: ChainErrorCode, what: string }> = []
    const add = (height: number, code: ChainErrorCode, what: string, cs: SignatureCheck[]): void => {
      for (const c of cs) { checks.push(c); owners.push({ height, code, what }) }
    }
    // Replays are refused across the whole run, not just within one block.
    const seen = new Set<string>()
    let cur = tip
    // The schedule learns a block's validator-set change only once every signature up to and
    // including that block verified; a forged change never enters it.
    let unobserved: FinalizedBlock[] = []
    const settle = async (): Promise<void> => {
      const ok = await this.pool.verifyAll(checks)
      const bad = ok.indexOf(false)
      if (bad >= 0) {
        const o = owners[bad]
        throw new ChainError(o.code, `block ${o.height}: ${o.what} does not verify`, { height: o.height })
      }
      checks.length = 0
      owners.length = 0
      for (const fb of unobserved) this.schedule.observe?.(fb.block)
      unobserved = []
    }
    for (const fb of run) {
      const { block, certificate } = fb
      const h = block.header.height
      const validators = this.schedule.at(h)
      checkBlock(this.chainId, block, cur.link, validators)
      const lc = block.body.lastCommit
      if (lc !== null && cur.header !== null && !(cur.certificate !== null && bytesEqual(certificateHash(lc), certificateHash(cur.certificate)))) {
        add(h, ChainErrorCode.CERT_SIGNATURE, 'the previous block\'s certificate', checkCertificate(this.chainId, lc, cur.header, this.schedule.at(h - 1)))
      }
      for (const batch of block.body.batches) {
        add(h, ChainErrorCode.BATCH_SIGNATURE, 'a batch signature', [checkBatch(this.chainId, batch, validators)])
        const first = Buffer.from(recordId(batch.records[0])).toString('hex')
        if (seen.has(first) || (this.hasRecord !== undefined && await this.hasRecord(recordId(batch.records[0])))) {
          throw new ChainError(ChainErrorCode.BATCH_DUPLICATE, `block ${h} repeats a batch that is already on the chain`, { height: h })
        }
        seen.add(first)
      }
      for (const e of block.body.evidence) add(h, ChainErrorCode.EVIDENCE_INVALID, 'an evidence signature', checkEvidence(this.chainId, e, this.schedule.at(e.a.height)))
      add(h, ChainErrorCode.CERT_SIGNATURE, 'its commit certificate', checkCertificate(this.chainId, certificate, block.header, validators))
      const governance = this.schedule.checkBlock?.(this.chainId, block) ?? []
      add(h, ChainErrorCode.GOVERNANCE_INVALID, 'a governance approval', governance)
      cur = { link: { height: h, hash: blockHash(block.header), time: block.header.time }, header: block.header, certificate }
      unobserved.push(fb)
      if (governance.length > 0) await settle()
    }
    await settle()
    return cur
  }
}

export function genesisTip (genesisHash: Uint8Array, genesisTime: number): VerifiedTip {
  return { link: { height: 0, hash: genesisHash, time: genesisTime }, header: null, certificate: null }
}
