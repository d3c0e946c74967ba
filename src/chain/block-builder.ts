import { ZERO_HASH } from '../crypto/hash.ts'
import { blockRecordsRoot, certificateHash, evidenceRoot } from './hashing.ts'
import type { Block, Certificate, Evidence, RecordBatch } from './types.ts'
import type { ParentLink } from './validate.ts'
import type { ValidatorSet } from './validator-set.ts'

/** Assembles the proposer's block for (parent.height + 1, round). */
export function buildBlock (args: {
  chainId: string
  parent: ParentLink
  round: number
  proposer: Uint8Array
  validators: ValidatorSet
  batches: RecordBatch[]
  lastCommit: Certificate | null
  evidence: Evidence[]
  now: number
}): Block {
  const height = args.parent.height + 1
  return {
    header: {
      chainId: args.chainId,
      height,
      round: args.round,
      // Time moves forward (strictly after the parent's), even when the proposer's clock does not.
      time: Math.max(args.now, args.parent.time + 1),
      proposer: args.proposer,
      parentHash: args.parent.hash,
      recordsRoot: blockRecordsRoot(args.batches),
      validatorSetHash: args.validators.hash,
      lastCommitHash: height === 1 ? ZERO_HASH : certificateHash(args.lastCommit),
      evidenceHash: evidenceRoot(args.evidence)
    },
    body: { batches: args.batches, lastCommit: height === 1 ? null : args.lastCommit, evidence: args.evidence }
  }
}
