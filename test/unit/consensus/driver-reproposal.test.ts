/**
 * Regression test for docs/simulation.md Finding 6, through a real ConsensusDriver: a validator N
 * that missed block B0 (built and proposed in round 0 by P = proposer(1, 0)) prevotes B0 when Q =
 * proposer(1, 1) re-proposes it in round 1 with validRound 0, the block unchanged (its header still
 * names P and round 0). valid(v) used to require block.header.proposer === the proposal's proposer,
 * so N prevoted nil on every re-proposal and the chain stalled. The second test holds N to the
 * rule's other side: a re-proposed block must have been built by its round's proposer.
 */
import test, { type ExecutionContext } from 'ava'
import type { ConsensusDriver } from '../../../src/consensus/driver.ts'
import type { ChainStore } from '../../../src/storage/index.ts'
import { blockHash, voteSignBytes } from '../../../src/chain/hashing.ts'
import { SignStep } from '../../../src/consensus/guard.ts'
import type { ConsensusMessage } from '../../../src/chain/codec.ts'
import { VoteType, type Block, type Vote } from '../../../src/chain/types.ts'
import { bytesEqual } from '../../../src/encoding/bytes.ts'
import { verifySignature, type NodeKey } from '../../../src/crypto/ed25519.ts'
import { makeBlock, sampleBatch, signProposalHeader, signVote } from '../../helpers/fixtures.ts'
import { genesis, keys, startDriver } from './driver-harness.ts'

const set = genesis.validators
const byKey = (pk: Uint8Array): NodeKey => keys.find(k => bytesEqual(k.publicKey, pk)) as NodeKey
const P = byKey(set.proposer(1, 0))
const Q = byKey(set.proposer(1, 1))
const [N, X] = keys.filter(k => k !== P && k !== Q)

const prevote = (signer: NodeKey, round: number, hash: Uint8Array | null): ConsensusMessage =>
  ({ kind: 'vote', vote: signVote(signer, { type: VoteType.PREVOTE, height: 1, round, blockHash: hash }) })

/** A height-1 block built in round 0, carrying one batch signed by its builder. */
const blockBy = (builder: NodeKey): Block =>
  makeBlock({ height: 1, round: 0, proposer: builder, parentHash: genesis.hash, validatorSetHash: set.hash, batches: [sampleBatch(builder)] })

/** N's driver on a fresh store, and the votes it publishes (decoded). */
async function startN (t: ExecutionContext, before?: (store: ChainStore) => Promise<void>): Promise<{ driver: ConsensusDriver, prevotesOfN: (round: number) => Vote[], votesOfN: () => Vote[] }> {
  const { driver, votes } = await startDriver(t, genesis, N, { before })
  const prevotesOfN = (round: number): Vote[] => votes().filter(v => v.type === VoteType.PREVOTE && v.height === 1 && v.round === round)
  return { driver, prevotesOfN, votesOfN: votes }
}

/**
 * Delivers to N the round-0 polka for `block` (P, Q and X prevote it; N missed P's proposal),
 * then Q's round-1 re-proposal of it with validRound 0 and round-1 prevotes of Q and X (f+1 = 2
 * senders of round 1: N skips to round 1, L55). Returns N's round-1 prevote.
 */
async function reproposeTo (t: ExecutionContext, block: Block, proposalVerdict: 'accept' | 'reject'): Promise<Vote> {
  const { driver, prevotesOfN } = await startN(t)
  const hash = blockHash(block.header)
  const deliver = async (msg: ConsensusMessage, verdict: 'accept' | 'reject' = 'accept'): Promise<void> => { t.is(await driver.onMessage(msg), verdict) }
  for (const v of [P, Q, X]) await deliver(prevote(v, 0, hash))
  // Gossip forwards a proposal only when its block is valid (issue 13: validate before forwarding).
  await deliver({ kind: 'proposal', proposal: { header: signProposalHeader(Q, { height: 1, round: 1, validRound: 0, blockHash: hash }), block } }, proposalVerdict)
  await deliver(prevote(Q, 1, hash))
  await deliver(prevote(X, 1, hash))
  const deadline = Date.now() + 5000
  while (prevotesOfN(1).length === 0 && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 20))
  const votes = prevotesOfN(1)
  t.is(votes.length, 1, 'N prevotes exactly once in round 1')
  t.is(driver.currentRound, 1)
  t.deepEqual(prevotesOfN(0), [], 'N never prevoted in round 0 (it missed the proposal)')
  return votes[0]
}

test('a validator that missed B0 prevotes its re-proposal by the next round\'s proposer', async t => {
  const b0 = blockBy(P)
  t.true(bytesEqual(b0.header.proposer, P.publicKey))
  const vote = await reproposeTo(t, b0, 'accept')
  t.not(vote.blockHash, null, 'N must not prevote nil on a valid re-proposal')
  t.true(bytesEqual(vote.blockHash as Uint8Array, blockHash(b0.header)))
})

test('a re-proposed block not built by its round\'s proposer gets a nil prevote', async t => {
  // Built by Q in round 0, where P was the proposer. The old rule (builder = re-proposer) accepted it.
  const forged = blockBy(Q)
  t.false(set.isProposer(forged.header.proposer, 1, forged.header.round))
  const vote = await reproposeTo(t, forged, 'reject')
  t.is(vote.blockHash, null)
})

test('after a crash between the guard and the kept messages, the vote the guard names is sent again', async t => {
  // Found by simulation 3 in CI: a validator killed right after signing its precommit (the guard
  // flushed, the kept messages not yet written) came back unable to precommit anything else, and the
  // round never reached 2f+1 precommits. Its precommit must be re-sent, identical.
  const hash = blockHash(blockBy(P).header)
  const unsigned = { type: VoteType.PRECOMMIT, height: 1, round: 0, blockHash: hash }
  const { votesOfN } = await startN(t, async store => {
    await store.putLastSigned({ height: 1, round: 0, step: SignStep.PRECOMMIT }, voteSignBytes(genesis.chainId, unsigned))
  })
  const deadline = Date.now() + 5000
  while (votesOfN().length === 0 && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 20))
  const precommits = votesOfN().filter(v => v.type === VoteType.PRECOMMIT)
  t.true(precommits.length >= 1, 'the precommit is published at start')
  const v = precommits[0]
  t.deepEqual({ type: v.type, height: v.height, round: v.round, blockHash: v.blockHash }, unsigned)
  t.true(verifySignature(N.publicKey, voteSignBytes(genesis.chainId, unsigned), v.signature))
})
