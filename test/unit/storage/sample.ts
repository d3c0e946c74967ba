import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ExecutionContext } from 'ava'
import { blockHash } from '../../../src/chain/hashing.ts'
import type { Certificate, FinalizedBlock, MedRecord } from '../../../src/chain/types.ts'
import { sha256 } from '../../../src/crypto/hash.ts'
import { ChainStore, type ChainStoreOptions } from '../../../src/storage/index.ts'
import {
  makeBlock, makeCertificate, sampleRecord, signBatch, TEST_CHAIN_ID, testValidators, validatorSetOf, voteEquivocation
} from '../../helpers/fixtures.ts'

/**
 * Storage-test chains built on the shared fixtures: deterministic, so a block is a function of
 * its height, its parent and the options. The crash test relies on that to rebuild the block a
 * killed child was writing.
 */

export const VALIDATORS = testValidators(4)
export const VALIDATOR_SET = validatorSetOf(VALIDATORS)
export const GENESIS_HASH = sha256(new TextEncoder().encode('medledger storage test genesis'))
export const CHAIN_ID = TEST_CHAIN_ID
export const STORE_OPTS = { chainId: CHAIN_ID, genesisHash: GENESIS_HASH }

/** The end of a chain: what the next block builds on. */
export interface Tip { height: number, hash: Uint8Array, certificate: Certificate | null }
export const GENESIS_TIP: Tip = { height: 0, hash: GENESIS_HASH, certificate: null }

export interface SampleOptions {
  records?: number
  recordsPerBatch?: number
  payloadBytes?: number
  /** Include one equivocation evidence item when height % evidenceEvery === 0. */
  evidenceEvery?: number
}

function recordAt (author: Uint8Array, height: number, j: number, payloadBytes: number): MedRecord {
  const payload = new Uint8Array(payloadBytes)
  new DataView(payload.buffer).setUint32(0, height)
  new DataView(payload.buffer).setUint32(4, j)
  payload.fill(0xab, 8)
  return sampleRecord(author, height * 1_000_000 + j, { payload })
}

export function nextFinalized (tip: Tip, o: SampleOptions = {}): FinalizedBlock {
  const height = tip.height + 1
  const records = o.records ?? 3
  const perBatch = o.recordsPerBatch ?? 100
  const proposer = VALIDATORS[height % VALIDATORS.length]
  const batches = []
  for (let start = 0; start < records; start += perBatch) {
    const rs = Array.from({ length: Math.min(perBatch, records - start) }, (_, k) => recordAt(proposer.publicKey, height, start + k, o.payloadBytes ?? 200))
    batches.push(signBatch(proposer, rs))
  }
  const evidence = o.evidenceEvery !== undefined && height % o.evidenceEvery === 0 ? [voteEquivocation(VALIDATORS[0], height)] : []
  const block = makeBlock({ height, proposer, parentHash: tip.hash, validatorSetHash: VALIDATOR_SET.hash, batches, lastCommit: tip.certificate, evidence })
  const certificate = makeCertificate(VALIDATORS.slice(0, 3), { height, round: 0, blockHash: blockHash(block.header) })
  return { block, certificate }
}

export function tipOf (fb: FinalizedBlock): Tip {
  return { height: fb.block.header.height, hash: fb.certificate.blockHash, certificate: fb.certificate }
}

/** `count` blocks after `tip`. */
export function sampleChain (count: number, o: SampleOptions = {}, tip: Tip = GENESIS_TIP): FinalizedBlock[] {
  const out: FinalizedBlock[] = []
  for (let i = 0; i < count; i++) {
    const fb = nextFinalized(tip, o)
    out.push(fb)
    tip = tipOf(fb)
  }
  return out
}

/** The tip of a store (what a restarted writer continues from). */
export async function storeTip (store: ChainStore): Promise<Tip> {
  const head = store.head
  if (head === null) return GENESIS_TIP
  return { height: head.height, hash: head.hash, certificate: (await store.getCertificate(head.height)) ?? null }
}

/** A fresh temp directory removed when the test ends. */
export async function tempDir (t: ExecutionContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'medledger-storage-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}

/** Opens a store closed when the test ends (before its directory is removed). */
export async function openStore (t: ExecutionContext, dir: string, opts: ChainStoreOptions = STORE_OPTS): Promise<ChainStore> {
  const store = await ChainStore.open(dir, opts)
  t.teardown(() => store.close())
  return store
}
