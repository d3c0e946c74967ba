/**
 * The driver's gossip intake (issue 13): what it forwards, what it keeps for the next height and
 * within which bounds, and whom it blames. A real ConsensusDriver on a real store.
 */
import test from 'ava'
import { encodeConsensusMessage, type ConsensusMessage } from '../../../src/chain/codec.ts'
import { blockHash } from '../../../src/chain/hashing.ts'
import { VoteType, type Block } from '../../../src/chain/types.ts'
import { bytesEqual } from '../../../src/encoding/bytes.ts'
import type { NodeKey } from '../../../src/crypto/ed25519.ts'
import { makeBlock, makeProposal, sampleBatch, sampleRecord, signBatch, signVote } from '../../helpers/fixtures.ts'
import { genesis, keys, startDriver } from './driver-harness.ts'

const set = genesis.validators
const byKey = (pk: Uint8Array): NodeKey => keys.find(k => bytesEqual(k.publicKey, pk)) as NodeKey
const P1 = byKey(set.proposer(1, 0))
const P2 = byKey(set.proposer(2, 0))
const N = keys.find(k => k !== P1 && k !== P2) as NodeKey
const X = keys.find(k => k !== P1 && k !== P2 && k !== N) as NodeKey

const validBlock = (): Block => makeBlock({ height: 1, round: 0, proposer: P1, parentHash: genesis.hash, validatorSetHash: set.hash, batches: [sampleBatch(P1)] })
const proposalOf = (signer: NodeKey, block: Block): ConsensusMessage => ({ kind: 'proposal', proposal: makeProposal(signer, block) })
/** A next-height (2) block of `payloadKiB` KiB by `proposer` in `round`. */
const nextBlock = (proposer: NodeKey, round: number, payloadKiB = 1): Block => makeBlock({
  height: 2,
  round,
  proposer,
  parentHash: genesis.hash,
  validatorSetHash: set.hash,
  batches: [signBatch(proposer, Array.from({ length: Math.max(1, Math.ceil(payloadKiB / 60)) }, (_, i) => sampleRecord(proposer.publicKey, round * 1000 + i, { payload: new Uint8Array(Math.min(60, payloadKiB) * 1024).fill(i) })))]
})
const roundsOf = (signer: NodeKey, height: number): number[] => [0, 1, 2, 3].filter(r => set.isProposer(signer.publicKey, height, r))

test('a proposal of the current height is forwarded only once its block is valid; an invalid block is rejected', async t => {
  const { driver } = await startDriver(t, genesis, N)
  const bad = makeBlock({ height: 1, round: 0, proposer: P1, parentHash: new Uint8Array(32).fill(7), validatorSetHash: set.hash, batches: [sampleBatch(P1)] })
  t.is(await driver.onMessage(proposalOf(P1, bad), 'peer-a'), 'reject')
  t.is(await driver.onMessage(proposalOf(P1, validBlock()), 'peer-a'), 'accept')
})

test('a relay that pairs a signed proposal with another body is rejected, and the genuine copy still counts', async t => {
  const { driver, published } = await startDriver(t, genesis, N)
  const genuine = proposalOf(P1, validBlock())
  if (genuine.kind !== 'proposal') throw new Error('unreachable')
  const forged: ConsensusMessage = { kind: 'proposal', proposal: { ...genuine.proposal, block: { ...genuine.proposal.block, body: { ...genuine.proposal.block.body, batches: [sampleBatch(X)] } } } }
  t.is(await driver.onMessage(forged, 'liar'), 'reject')
  t.is(await driver.onMessage(genuine, 'honest'), 'accept')
  const prevote = published().find(m => m.kind === 'vote' && m.vote.type === VoteType.PREVOTE)
  t.truthy(prevote)
  if (prevote?.kind !== 'vote') return
  t.not(prevote.vote.blockHash, null, 'N prevotes the genuine block, not nil')
  t.true(bytesEqual(prevote.vote.blockHash as Uint8Array, blockHash(genuine.proposal.block.header)))
})

test('a next-height proposal is kept but not forwarded; copies in fresh envelopes (other seq) are kept once', async t => {
  const { driver } = await startDriver(t, genesis, N)
  const p = proposalOf(P2, nextBlock(P2, roundsOf(P2, 2)[0], 200))
  const size = encodeConsensusMessage(p).length
  for (let seq = 0; seq < 100; seq++) {
    // From many peers, so the flood rule (same peer) stays out of this test.
    t.is(await driver.onMessage({ ...p, seq }, `peer-${seq}`), 'ignore', `copy ${seq} is not forwarded`)
  }
  t.is(driver.futureBuffer.messages, 1)
  t.true(driver.futureBuffer.bytes <= size + 16, `${driver.futureBuffer.bytes} bytes held for one ${size}-byte proposal`)
})

test('next-height votes are forwarded (fully validated by their signature); a forged one neither passes nor shadows the genuine vote', async t => {
  const { driver } = await startDriver(t, genesis, N)
  const genuine = signVote(X, { type: VoteType.PREVOTE, height: 2, round: 0, blockHash: null })
  const forged = { ...genuine, signature: new Uint8Array(64).fill(1) }
  t.is(await driver.onMessage({ kind: 'vote', vote: forged }, 'liar'), 'reject')
  t.is(await driver.onMessage({ kind: 'vote', vote: genuine }, 'honest'), 'accept')
  t.is(await driver.onMessage({ kind: 'vote', vote: genuine, seq: 5 }, 'honest-2'), 'ignore', 'held already: not forwarded again')
  t.is(driver.futureBuffer.messages, 1)
})

test('the next-height buffer stays within its byte bound; one validator signing proposals for many rounds fills only its share', async t => {
  const maxFutureBytes = 1024 * 1024
  const { driver } = await startDriver(t, genesis, N, { options: { maxFutureBytes, maxBlockBytes: 128 * 1024 } })
  // A validator may propose in every 4th round: each its own slot. ~100 KiB each.
  const attackerRounds = Array.from({ length: 40 }, (_, i) => roundsOf(X, 2)[0] + 4 * i)
  for (const [i, r] of attackerRounds.entries()) {
    t.is(await driver.onMessage(proposalOf(X, nextBlock(X, r, 100)), `attacker-conn-${i}`), 'ignore')
    t.true(driver.futureBuffer.bytes <= maxFutureBytes)
  }
  const share = 128 * 1024 + 256 * 1024
  t.true(driver.futureBuffer.bytes <= share, `${driver.futureBuffer.bytes} bytes held for one validator (share ${share})`)
  const before = driver.futureBuffer.messages
  t.true(before >= 2 && before <= 4)
  // The honest proposer of the next height still fits.
  await driver.onMessage(proposalOf(P2, nextBlock(P2, roundsOf(P2, 2)[0], 100)), 'honest')
  t.is(driver.futureBuffer.messages, before + 1)
})

test('one peer re-sending a signed message in fresh envelopes is rejected as a flood; other peers\' copies are only ignored', async t => {
  const { driver } = await startDriver(t, genesis, N)
  const v = signVote(X, { type: VoteType.PREVOTE, height: 1, round: 0, blockHash: null })
  const verdicts = []
  for (let seq = 0; seq < 6; seq++) verdicts.push(await driver.onMessage({ kind: 'vote', vote: v, seq }, 'flooder'))
  t.deepEqual(verdicts, ['accept', 'ignore', 'ignore', 'ignore', 'reject', 'reject'])
  t.is(await driver.onMessage({ kind: 'vote', vote: v, seq: 99 }, 'relay'), 'ignore')
  // A next-height proposal (the attack of issue 13): a proposal is never re-sent, so one more copy
  // is let through (a relay that restarted), and every copy after it is a flood.
  const p = proposalOf(P2, nextBlock(P2, roundsOf(P2, 2)[0], 10))
  const pv = []
  for (let seq = 0; seq < 5; seq++) pv.push(await driver.onMessage({ ...p, seq }, 'flooder-2'))
  t.deepEqual(pv, ['ignore', 'ignore', 'reject', 'reject', 'reject'])
  t.is(await driver.onMessage({ ...p, seq: 99 }, 'relay'), 'ignore')
})

test('a next-height proposal with a body its signed header does not commit to is rejected and does not take the slot', async t => {
  const { driver } = await startDriver(t, genesis, N)
  const genuine = proposalOf(P2, nextBlock(P2, roundsOf(P2, 2)[0], 10))
  if (genuine.kind !== 'proposal') throw new Error('unreachable')
  const forged: ConsensusMessage = { kind: 'proposal', proposal: { ...genuine.proposal, block: { ...genuine.proposal.block, body: { ...genuine.proposal.block.body, batches: [sampleBatch(X)] } } } }
  t.is(await driver.onMessage(forged, 'liar'), 'reject')
  t.is(driver.futureBuffer.messages, 0)
  t.is(await driver.onMessage(genuine, 'honest'), 'ignore')
  t.is(driver.futureBuffer.messages, 1)
})
