/**
 * Members in a real ConsensusDriver: a block carrying a member's batch is prevoted; a member's
 * votes and proposals are rejected (it never votes or proposes); a batch whose author is neither
 * a validator nor a member is refused even when it sits in the validator's own mempool, and a
 * proposer leaves such a batch out and drops it.
 */
import test from 'ava'
import { Genesis, DEFAULT_PARAMS } from '../../../src/chain/genesis.ts'
import { batchId, blockHash } from '../../../src/chain/hashing.ts'
import { encodeBatch } from '../../../src/chain/codec.ts'
import { VoteType, type Block, type RecordBatch } from '../../../src/chain/types.ts'
import { bytesEqual } from '../../../src/encoding/bytes.ts'
import type { NodeKey } from '../../../src/crypto/ed25519.ts'
import { makeBlock, makeProposal, sampleBatch, signVote, testKey, TEST_CHAIN_ID, TEST_TIME } from '../../helpers/fixtures.ts'
import { keys, startDriver, until } from './driver-harness.ts'

const MEMBER = testKey(70)
const STRANGER = testKey(71)
const genesis = new Genesis({ chainId: TEST_CHAIN_ID, genesisTime: TEST_TIME, validators: keys.map((k, i) => ({ name: `validator-${i}`, publicKey: k.publicKey })), observers: [], members: [{ name: 'clinic', publicKey: MEMBER.publicKey }], params: DEFAULT_PARAMS })
const set = genesis.validators
const byKey = (pk: Uint8Array): NodeKey => keys.find(k => bytesEqual(k.publicKey, pk)) as NodeKey
const P1 = byKey(set.proposer(1, 0))
const N = keys.find(k => k !== P1) as NodeKey

const blockWith = (batches: RecordBatch[]): Block => makeBlock({ height: 1, round: 0, time: Date.now(), proposer: P1, parentHash: genesis.hash, validatorSetHash: set.hash, batches })

test('a block carrying a member\'s batch is prevoted', async t => {
  const { driver, votes } = await startDriver(t, genesis, N)
  const block = blockWith([sampleBatch(MEMBER, 2), sampleBatch(P1, 1, 10)])
  t.is(await driver.onMessage({ kind: 'proposal', proposal: makeProposal(P1, block) }, 'peer'), 'accept')
  await until('N\'s prevote', () => votes().some(v => v.type === VoteType.PREVOTE))
  const prevote = votes().find(v => v.type === VoteType.PREVOTE)
  t.true(prevote?.blockHash !== null && bytesEqual(prevote?.blockHash as Uint8Array, blockHash(block.header)))
})

test('a member\'s vote and proposal are rejected: members never vote or propose', async t => {
  const { driver } = await startDriver(t, genesis, N)
  const block = blockWith([sampleBatch(MEMBER)])
  t.is(await driver.onMessage({ kind: 'vote', vote: signVote(MEMBER, { type: VoteType.PREVOTE, height: 1, round: 0, blockHash: blockHash(block.header) }) }, 'member'), 'reject')
  const byMember = makeBlock({ height: 1, round: 0, time: Date.now(), proposer: MEMBER, parentHash: genesis.hash, validatorSetHash: set.hash, batches: [sampleBatch(MEMBER)] })
  t.is(await driver.onMessage({ kind: 'proposal', proposal: makeProposal(MEMBER, byMember) }, 'member'), 'reject')
})

test('a stranger\'s batch in the validator\'s own mempool does not make a block carrying it valid', async t => {
  const stranger = sampleBatch(STRANGER, 1, 50)
  // The mempool admitted it earlier (as when its author was removed since): valid(v) must still check the author.
  const { driver, votes } = await startDriver(t, genesis, N, { fill: m => { t.is(m.add(stranger, encodeBatch(stranger).length), 'added') } })
  const block = blockWith([stranger])
  await driver.onMessage({ kind: 'proposal', proposal: makeProposal(P1, block) }, 'peer')
  await until('N\'s prevote', () => votes().some(v => v.type === VoteType.PREVOTE))
  t.is(votes().find(v => v.type === VoteType.PREVOTE)?.blockHash, null, 'a nil prevote')
})

test('a proposer leaves out, and drops, a waiting batch whose author is not in force', async t => {
  const stranger = sampleBatch(STRANGER, 1, 60)
  const member = sampleBatch(MEMBER, 1, 61)
  const { proposals, mempool } = await startDriver(t, genesis, P1, { heartbeatMs: 200, fill: m => { for (const b of [stranger, member]) t.is(m.add(b, encodeBatch(b).length), 'added') } })
  await until('P1\'s proposal', () => proposals().length > 0)
  const authors = proposals()[0].block.body.batches.map(b => b.author)
  t.true(authors.some(a => bytesEqual(a, MEMBER.publicKey)), 'the member\'s batch is proposed')
  t.false(authors.some(a => bytesEqual(a, STRANGER.publicKey)), 'the stranger\'s batch is not')
  t.false(mempool.hasBatch(batchId(stranger)), 'and it left the mempool')
})
