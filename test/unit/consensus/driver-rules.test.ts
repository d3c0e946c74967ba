/**
 * The insider rules of docs/protocol.md section 9 as a real ConsensusDriver applies them to
 * proposals (valid(v)) and to the blocks it builds: a new block from beyond the clock's drift is
 * not prevoted, so one proposer cannot move chain time to 2100; a block repeating a final record
 * (in any place of a batch) or carrying one record twice is not prevoted; a final block drops the
 * waiting batches it makes replays, so the record index keeps a record's one place; heartbeats
 * keep coming.
 */
import test, { type ExecutionContext } from 'ava'
import { Genesis, DEFAULT_PARAMS } from '../../../src/chain/genesis.ts'
import { batchId, blockHash, recordId } from '../../../src/chain/hashing.ts'
import { encodeBatch } from '../../../src/chain/codec.ts'
import { VoteType, type Block, type FinalizedBlock, type RecordBatch, type Vote } from '../../../src/chain/types.ts'
import { bytesEqual } from '../../../src/encoding/bytes.ts'
import type { NodeKey } from '../../../src/crypto/ed25519.ts'
import { TEST_CHAIN_ID, TEST_TIME, makeBlock, makeChain, makeProposal, sampleRecord, signBatch, testValidators } from '../../helpers/fixtures.ts'
import { startDriver, type DriverHarnessOptions, type StartedDriver } from './driver-harness.ts'

const DRIFT = 5000
const YEAR_2100 = Date.UTC(2100, 0, 1)

function genesisOf (keys: NodeKey[]): Genesis {
  return new Genesis({ chainId: TEST_CHAIN_ID, genesisTime: TEST_TIME, validators: keys.map((k, i) => ({ name: `validator-${i}`, publicKey: k.publicKey })), observers: [], params: DEFAULT_PARAMS })
}

/** `self`'s driver over a fresh store holding `chain` (final blocks), with the drift of these tests. */
async function startOn (t: ExecutionContext, keys: NodeKey[], self: NodeKey, chain: FinalizedBlock[], o: DriverHarnessOptions = {}): Promise<StartedDriver> {
  return await startDriver(t, genesisOf(keys), self, { ...o, chain, maxClockDriftMs: DRIFT })
}

async function until (what: string, cond: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}

// Four validators; N judges the proposals of the round's proposer P.
const keys = testValidators(4)
const genesis4 = genesisOf(keys)
const byKey = (pk: Uint8Array): NodeKey => keys.find(k => bytesEqual(k.publicKey, pk)) as NodeKey

/**
 * N's round-0 prevote on P's new proposal of `block` (at block's height, on top of `chain`), and
 * the gossip verdict N gives it: 'accept' (forwarded) only for a valid, timely block; 'reject'
 * (not forwarded, the sender penalised) for an invalid one; 'ignore' (not forwarded, no penalty)
 * for one beyond N's clock, which may be the wrong one.
 */
async function prevoteOn (t: ExecutionContext, chain: FinalizedBlock[], block: Block, verdict: 'accept' | 'ignore' | 'reject' = 'accept'): Promise<Vote> {
  const h = block.header.height
  const P = byKey(genesis4.validators.proposer(h, 0))
  const N = keys.find(k => k !== P) as NodeKey
  const { driver, votes } = await startOn(t, keys, N, chain)
  t.is(await driver.onMessage({ kind: 'proposal', proposal: makeProposal(P, block) }), verdict)
  const prevotes = (): Vote[] => votes().filter(v => v.type === VoteType.PREVOTE && v.height === h && v.round === 0)
  await until('N\'s prevote', () => prevotes().length > 0)
  return prevotes()[0]
}

/** Block `height` by its round-0 proposer on top of `chain`, carrying `batches`, at `time`. */
function nextBlock (chain: FinalizedBlock[], batches: RecordBatch[], time = Date.now()): Block {
  const height = chain.length + 1
  const parent = chain.at(-1)
  return makeBlock({
    height,
    time,
    proposer: byKey(genesis4.validators.proposer(height, 0)),
    parentHash: parent === undefined ? genesis4.hash : blockHash(parent.block.header),
    validatorSetHash: genesis4.validators.hash,
    lastCommit: parent?.certificate ?? null,
    batches
  })
}

test('a new proposal timed in 2100 gets a nil prevote: one proposer cannot move chain time there', async t => {
  const vote = await prevoteOn(t, [], nextBlock([], [], YEAR_2100), 'ignore')
  t.is(vote.blockHash, null)
})

test('a new proposal within the allowed drift of the clock is prevoted', async t => {
  const block = nextBlock([], [], Date.now() + DRIFT / 2)
  const vote = await prevoteOn(t, [], block)
  t.true(bytesEqual(vote.blockHash as Uint8Array, blockHash(block.header)))
})

/** Block 1 on the chain, with one batch of three records by its proposer. */
function chainWithRecords (): { chain: FinalizedBlock[], final: RecordBatch } {
  const chain = makeChain(keys, 1, { genesisHash: genesis4.hash, batchesAt: (_h, proposer) => [signBatch(proposer, [1, 2, 3].map(i => sampleRecord(proposer.publicKey, i)))] })
  return { chain, final: chain[0].block.body.batches[0] }
}

test('a proposal replaying a final record that is not its batch\'s first gets a nil prevote', async t => {
  const { chain, final } = chainWithRecords()
  const author = byKey(final.author)
  const replay = signBatch(author, [sampleRecord(author.publicKey, 50), final.records[1]])
  t.is((await prevoteOn(t, chain, nextBlock(chain, [replay]), 'reject')).blockHash, null)
})

test('a proposal carrying one record in two batches gets a nil prevote', async t => {
  const { chain } = chainWithRecords()
  const a = keys[0]
  const r = sampleRecord(a.publicKey, 60)
  const block = nextBlock(chain, [signBatch(a, [r]), signBatch(a, [sampleRecord(a.publicKey, 61), r])])
  t.is((await prevoteOn(t, chain, block, 'reject')).blockHash, null)
  // The same block without the repeat is prevoted: the nil above is for the repeat alone.
  const fine = nextBlock(chain, [signBatch(a, [r]), signBatch(a, [sampleRecord(a.publicKey, 61)])])
  t.true(bytesEqual((await prevoteOn(t, chain, fine)).blockHash as Uint8Array, blockHash(fine.header)))
})

test('a block made final drops the waiting batches that would replay its records; the next proposal leaves them out', async t => {
  // N holds [new, r] (admitted while r was not final) and a fresh batch; block 1, carrying r in
  // another batch, becomes final through sync. N proposes block 2 (it is proposer(2, 0)).
  const N = byKey(genesis4.validators.proposer(2, 0))
  const author = keys[0]
  const r = sampleRecord(author.publicKey, 80)
  const chain = makeChain(keys, 1, { genesisHash: genesis4.hash, batchesAt: () => [signBatch(author, [sampleRecord(author.publicKey, 81), r])] })
  const waiting = signBatch(author, [sampleRecord(author.publicKey, 82), r])
  const fresh = signBatch(author, [sampleRecord(author.publicKey, 83)])
  const { driver, store, mempool, proposals } = await startOn(t, keys, N, [], {
    fill: m => { for (const b of [waiting, fresh]) t.is(m.add(b, encodeBatch(b).length), 'added') }
  })
  await driver.applySynced(chain)
  t.is(store.head?.height, 1)
  t.false(mempool.hasBatch(batchId(waiting)), 'the batch that would replay r left the mempool')
  t.true(mempool.hasBatch(batchId(fresh)))
  await until('N\'s proposal for block 2', () => proposals().some(p => p.header.height === 2))
  const block2 = proposals().find(p => p.header.height === 2)!.block
  t.deepEqual(block2.body.batches.map(b => Buffer.from(batchId(b)).toString('hex')), [Buffer.from(batchId(fresh)).toString('hex')])
  t.like(await store.getRecordLocation(recordId(r)), { height: 1, batchIndex: 0, recordIndex: 1 })
})

test('heartbeats keep coming when the tip is as far ahead of the clock as the drift allows', async t => {
  const solo = testValidators(1)
  const K = solo[0]
  const ahead = Date.now() + DRIFT - 1000
  const chain = makeChain(solo, 1, { genesisHash: genesisOf(solo).hash, timeAt: () => ahead, batchesAt: () => [signBatch(K, [sampleRecord(K.publicKey, 1)])] })
  const { store } = await startOn(t, solo, K, chain, { heartbeatMs: 200 })
  // The heartbeat is due at the tip's time + 200 ms: within the drift and the heartbeat of now.
  await until('two heartbeat blocks', () => (store.head?.height ?? 0) >= 3, 60_000)
  const times = await Promise.all([1, 2, 3].map(async h => (await store.getFinalized(h))!.block.header.time))
  t.true(times[1] > times[0] && times[2] > times[1], 'each block is after its parent')
  t.true(times[2] <= Date.now() + DRIFT, 'and never beyond the clock plus the drift')
})
