/**
 * The node's two doors into the mempool, as a hostile insider meets them (docs/network.md,
 * "Bounds"; docs/protocol.md section 9): gossiped batches of one author fill only that author's
 * share, so the node's own client is still served while another validator floods; the client gets
 * MEMPOOL_AUTHOR_QUOTA (a 503, like MEMPOOL_FULL) only for its own share; and a gossiped batch
 * holding a final record in any place is not admitted. A real MedledgerNode over a real store;
 * the network is a stand-in that records what would be published.
 */
import test, { type ExecutionContext } from 'ava'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MedledgerNode } from '../../../src/node/node.ts'
import { ConfigSchema } from '../../../src/config/schema.ts'
import { Genesis, DEFAULT_PARAMS } from '../../../src/chain/genesis.ts'
import { batchId } from '../../../src/chain/hashing.ts'
import type { FinalizedBlock, RecordBatch } from '../../../src/chain/types.ts'
import type { Verdict } from '../../../src/network/interface.ts'
import type { Network } from '../../../src/network/index.ts'
import { ChainStore } from '../../../src/storage/index.ts'
import { silentLogger } from '../../../src/logger.ts'
import { TEST_CHAIN_ID, TEST_TIME, makeChain, sampleRecord, signBatch, testValidators } from '../../helpers/fixtures.ts'

const keys = testValidators(4)
const [self, flooder, other] = keys
const genesis = new Genesis({ chainId: TEST_CHAIN_ID, genesisTime: TEST_TIME, validators: keys.map((k, i) => ({ name: `validator-${i}`, publicKey: k.publicKey })), observers: [], params: DEFAULT_PARAMS })

interface Door { node: MedledgerNode, gossip: (batches: RecordBatch[]) => Promise<Verdict>, published: Uint8Array[] }

/** `self`'s node (validator role) with these mempool settings, over a store holding `chain`. */
async function nodeOf (t: ExecutionContext, mempool: Record<string, number>, chain: FinalizedBlock[] = []): Promise<Door> {
  const home = await mkdtemp(join(tmpdir(), 'medledger-node-'))
  const node = new MedledgerNode({ config: ConfigSchema.parse({ mempool }), home, genesis, key: self, logger: silentLogger })
  node.store = await ChainStore.open(join(home, 'data'), { chainId: genesis.chainId, genesisHash: genesis.hash })
  if (chain.length > 0) await node.store.commitMany(chain)
  const published: Uint8Array[] = []
  node.network = { publishBatch: (bytes: Uint8Array) => { published.push(bytes); return true } } as unknown as Network
  t.teardown(async () => {
    await node.store.close()
    await node.pool.close()
    await rm(home, { recursive: true, force: true })
  })
  // The gossip handler, as the network calls it for one message.
  const gossip = async (batches: RecordBatch[]): Promise<Verdict> => await node.admission.admitGossip(batches)
  return { node, gossip, published }
}

let n = 0
const fresh = (author = flooder): RecordBatch => signBatch(author, [sampleRecord(author.publicKey, 10_000 + n++)])
const clientRecord = () => ({ type: 'consultation', subject: new Uint8Array(32).fill(7), contentType: 'application/octet-stream', payload: new TextEncoder().encode(`p-${n++}`), timestamp: Date.now() + n })

test('the node\'s own client is served while another validator has filled its share by gossip', async t => {
  const { node, gossip, published } = await nodeOf(t, { max_batches_per_author: 3 })
  const verdicts: Verdict[] = []
  for (let i = 0; i < 6; i++) verdicts.push(await gossip([fresh()]))
  t.deepEqual(verdicts, ['accept', 'accept', 'accept', 'ignore', 'ignore', 'ignore'], 'the flood stops at its share and is not forwarded')
  t.deepEqual(node.mempool.authorUsage(flooder.publicKey).batches, 3)
  t.is(await gossip([fresh(other)]), 'accept', 'another validator\'s batch is still admitted')
  const { ids } = await node.submitRecords([clientRecord()])
  t.is(ids.length, 1)
  t.is(published.length, 1)
  t.is(node.mempool.size, 5)
})

test('a client over its own node\'s share gets MEMPOOL_AUTHOR_QUOTA', async t => {
  const { node, gossip } = await nodeOf(t, { max_batches_per_author: 1 })
  await node.submitRecords([clientRecord()])
  await t.throwsAsync(node.submitRecords([clientRecord()]), { code: 'MEMPOOL_AUTHOR_QUOTA' })
  // Other authors are not refused on its account.
  t.is(await gossip([fresh(other)]), 'accept')
})

test('a gossiped batch holding a final record behind a new one is not admitted', async t => {
  const chain = makeChain(keys, 1, { genesisHash: genesis.hash, batchesAt: () => [signBatch(flooder, [1, 2, 3].map(i => sampleRecord(flooder.publicKey, i)))] })
  const final = chain[0].block.body.batches[0]
  const { node, gossip } = await nodeOf(t, {}, chain)
  const replay = signBatch(flooder, [sampleRecord(flooder.publicKey, 99), final.records[2]])
  t.is(await gossip([replay]), 'ignore')
  t.false(node.mempool.hasBatch(batchId(replay)))
  // The same author's fresh batch is admitted: the refusal is for the replay alone.
  t.is(await gossip([fresh()]), 'accept')
})
