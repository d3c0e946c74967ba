import type { NodeKey } from '../../src/crypto/ed25519.ts'
import { bytesEqual } from '../../src/encoding/bytes.ts'
import { blockHash } from '../../src/chain/hashing.ts'
import { buildBlock } from '../../src/chain/block-builder.ts'
import { Genesis } from '../../src/chain/genesis.ts'
import type { Certificate, FinalizedBlock, RecordBatch } from '../../src/chain/types.ts'
import { approveChange, encodeChange, GOVERNANCE_CONTENT_TYPE, GOVERNANCE_RECORD_TYPE, type GovernanceAction, type ValidatorSetChange } from '../../src/governance/change.ts'
import { GovernanceSchedule } from '../../src/governance/schedule.ts'
import { makeCertificate, sampleRecord, signBatch, TEST_CHAIN_ID, TEST_TIME } from './fixtures.ts'

export interface PlannedChange { at: number, action: GovernanceAction, key: NodeKey, name: string }

export interface GovernedChain {
  genesis: Genesis
  blocks: FinalizedBlock[]
  /** The schedule a node would hold after following every block. */
  schedule: GovernanceSchedule
  /** Where each record of `recordsAt` heights landed: a batch of one ordinary record by the proposer. */
  recordAt: (height: number) => { batchIndex: number, recordIndex: number }
}

/**
 * A valid chain of `length` finalized blocks with validator-set changes inside, built with the
 * real codec, hashing and Ed25519 signers: each change is a governance record approved by a
 * quorum of the set in force at its height and takes effect governanceDelay blocks later; every
 * block is proposed by V[h mod N] of the set in force, names that set, carries its parent's
 * certificate, and is certified by a quorum of that set. `withRecords(h)` decides which blocks
 * also carry one ordinary record (default: all). `members` are genesis members (`member-i`);
 * `memberRecordAt(h)` names a member whose batch of one record the block at h also carries;
 * `names` names the genesis validators (default `validator-i`).
 */
export function makeGovernedChain (o: { initial: NodeKey[], length: number, changes: PlannedChange[], withRecords?: (height: number) => boolean, governanceDelay?: number, chainId?: string, genesisTime?: number, heartbeatMs?: number, members?: NodeKey[], memberRecordAt?: (height: number) => NodeKey | undefined, names?: string[] }): GovernedChain {
  const chainId = o.chainId ?? TEST_CHAIN_ID
  const genesis = new Genesis({
    chainId,
    genesisTime: o.genesisTime ?? TEST_TIME,
    validators: o.initial.map((k, i) => ({ name: o.names?.[i] ?? `validator-${i}`, publicKey: k.publicKey })),
    observers: [],
    members: (o.members ?? []).map((k, i) => ({ name: `member-${i}`, publicKey: k.publicKey })),
    params: { heartbeatMs: o.heartbeatMs ?? 10_000, governanceDelay: o.governanceDelay ?? 2 }
  })
  const keys = [...o.initial, ...o.changes.map(c => c.key)]
  const signerOf = (pk: Uint8Array): NodeKey => {
    const k = keys.find(x => bytesEqual(x.publicKey, pk))
    if (k === undefined) throw new Error('no key for a validator')
    return k
  }
  const schedule = new GovernanceSchedule(genesis.validators, genesis.params.governanceDelay, genesis.members)
  const blocks: FinalizedBlock[] = []
  let parent = { height: 0, hash: genesis.hash, time: genesis.genesisTime }
  let lastCommit: Certificate | null = null
  for (let height = 1; height <= o.length; height++) {
    const set = schedule.at(height)
    const proposer = signerOf(set.proposer(height, 0))
    const batches: RecordBatch[] = []
    const planned = o.changes.find(c => c.at === height)
    if (planned !== undefined) {
      let change: ValidatorSetChange = { action: planned.action, name: planned.name, publicKey: planned.key.publicKey, nonce: height, approvals: [] }
      for (const pk of set.keys.slice(0, set.quorum)) change = approveChange(chainId, change, signerOf(pk))
      batches.push(signBatch(proposer, [sampleRecord(proposer.publicKey, height, { type: GOVERNANCE_RECORD_TYPE, contentType: GOVERNANCE_CONTENT_TYPE, subject: new Uint8Array(32), payload: encodeChange(change) })], chainId))
    }
    if (o.withRecords?.(height) ?? true) batches.push(signBatch(proposer, [sampleRecord(proposer.publicKey, height)], chainId))
    const member = o.memberRecordAt?.(height)
    if (member !== undefined) batches.push(signBatch(member, [sampleRecord(member.publicKey, height)], chainId))
    const block = buildBlock({ chainId, parent, round: 0, proposer: proposer.publicKey, validators: set, batches, lastCommit, evidence: [], now: genesis.genesisTime + height * 1000 })
    const hash = blockHash(block.header)
    const certificate = makeCertificate(set.keys.slice(0, set.quorum).map(signerOf), { height, round: 0, blockHash: hash }, chainId)
    blocks.push({ block, certificate })
    schedule.observe(block)
    parent = { height, hash, time: block.header.time }
    lastCommit = certificate
  }
  return {
    genesis,
    blocks,
    schedule,
    recordAt: (height) => {
      const batches = blocks[height - 1].block.body.batches
      const batchIndex = batches.findIndex(b => b.records[0].type !== GOVERNANCE_RECORD_TYPE)
      if (batchIndex < 0) throw new Error(`block ${height} has no ordinary record`)
      return { batchIndex, recordIndex: 0 }
    }
  }
}
