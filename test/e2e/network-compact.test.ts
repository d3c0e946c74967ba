import test from 'ava'
import { encodeBatch, encodeCompactProposalMessage } from '../../src/chain/codec.ts'
import { batchId, blockHash, blockRecordsRoot } from '../../src/chain/hashing.ts'
import type { Proposal, RecordBatch } from '../../src/chain/types.ts'
import { toHex } from '../../src/encoding/bytes.ts'
import { ZERO_HASH } from '../../src/crypto/hash.ts'
import type { Genesis } from '../../src/chain/genesis.ts'
import { topics } from '../../src/network/index.ts'
import { protocols } from '../../src/network/protocol-ids.ts'
import { decodeProposalBatchesRequest, encodeProposalBatchesResponse, PROPOSAL_BATCHES_REQUEST_MAX_BYTES } from '../../src/network/reqresp/proposal-batches.ts'
import { readRequest } from '../../src/network/reqresp/stream.ts'
import { fullyConnected, makeGenesis, makeKeys, sampleBatch, startMesh, waitFor, type TestNode } from './network/helpers.ts'

/**
 * Compact proposals over real libp2p (src/network/compact-proposals.ts): a proposal travels as batch
 * ids; each receiver fills it from its mempool (FakeChain.held here) and fetches the rest from the
 * peer that sent it. The application always sees the whole block.
 */

function proposalOf (genesis: Genesis, batches: RecordBatch[], round = 0): Proposal {
  const header = {
    chainId: genesis.chainId,
    height: 1,
    round,
    time: genesis.genesisTime + 1000,
    proposer: genesis.validators.keys[0],
    parentHash: genesis.hash,
    recordsRoot: blockRecordsRoot(batches),
    validatorSetHash: genesis.validators.hash,
    lastCommitHash: ZERO_HASH,
    evidenceHash: ZERO_HASH
  }
  return {
    header: { height: 1, round, validRound: -1, blockHash: blockHash(header), proposer: header.proposer, signature: new Uint8Array(64).fill(5) },
    block: { header, body: { batches, lastCommit: null, evidence: [] } }
  }
}

function subscribed (nodes: TestNode[], topic: string): boolean {
  return nodes.every(n => {
    const subs = new Set(n.net.host!.services.pubsub.getSubscribers(topic).map(String))
    return nodes.every(m => m === n || subs.has(m.net.peerId))
  })
}

async function mesh (t: Parameters<typeof startMesh>[0], n: number): Promise<{ nodes: TestNode[], genesis: Genesis }> {
  const keys = await makeKeys(n)
  const genesis = makeGenesis(`compact-${n}-${Date.now()}`, keys)
  const nodes = await startMesh(t, keys, genesis, keys.map(k => k.peerId))
  await waitFor('full mesh', () => fullyConnected(nodes))
  await waitFor('subscriptions', () => subscribed(nodes, topics(genesis.chainId).consensus))
  return { nodes, genesis }
}

function hold (node: TestNode, batches: RecordBatch[]): void {
  for (const b of batches) node.chain.held.set(toHex(batchId(b)), b)
}

test.serial('a compact proposal reaches every peer whole: held batches are reused, missing ones fetched from the sender', async t => {
  const { nodes, genesis } = await mesh(t, 3)
  const batches = Array.from({ length: 6 }, (_, i) => sampleBatch(40 + i, 2_000))
  const p = proposalOf(genesis, batches)
  // Node 1 holds every batch, node 2 only half: it must ask for the other three.
  hold(nodes[1], batches)
  hold(nodes[2], batches.slice(0, 3))
  const whole = batches.reduce((n, b) => n + encodeBatch(b).length, 0)
  const compact = encodeCompactProposalMessage(p, batches.map(batchId))
  t.true(compact.length < whole / 10, `compact ${compact.length} B against ${whole} B of batches`)

  t.true(nodes[0].net.publishProposal(p))
  await waitFor('the proposal at both peers', () => nodes.slice(1).every(n => n.chain.consensus.length >= 1))
  for (const n of nodes.slice(1)) {
    const got = n.chain.consensus[0].msg
    t.is(got.kind, 'proposal')
    if (got.kind !== 'proposal') continue
    t.deepEqual(got.proposal.header, p.header)
    t.deepEqual(got.proposal.block.header, p.block.header)
    t.deepEqual(got.proposal.block.body.batches.map(b => toHex(batchId(b))), batches.map(b => toHex(batchId(b))))
  }
  t.deepEqual({ ...nodes[1].net.assembly }, { assembled: 1, fetches: 0, batchesFetched: 0, failed: 0 })
  // Node 2 may have got it from node 0 or from node 1 first; either sender had all six.
  t.deepEqual({ ...nodes[2].net.assembly }, { assembled: 1, fetches: 1, batchesFetched: 3, failed: 0 })
  // What went over the consensus topic was the compact message, not the batches.
  const received = nodes[2].net.traffic.byTopic.consensus
  t.true(received.copies >= 1)
  t.true(received.copyBytes < whole / 10, `consensus bytes received ${received.copyBytes}`)
})

test.serial('a compact proposal whose ids do not give its recordsRoot is rejected and its sender penalised; one whose batches nobody has is ignored', async t => {
  const { nodes, genesis } = await mesh(t, 2)
  const batches = [sampleBatch(70), sampleBatch(71)]
  const p = proposalOf(genesis, batches)
  // Ids of other batches than the header commits to: no honest node sends that.
  nodes[0].net.publishConsensus(encodeCompactProposalMessage(p, [sampleBatch(72), sampleBatch(73)].map(batchId)))
  const offences = (): number => nodes[1].net.peerRecords().find(r => r.peer === nodes[0].net.peerId)?.offences ?? 0
  await waitFor('offence counted', () => offences() > 0)
  t.is(nodes[1].chain.consensus.length, 0)

  // The right ids, but the sender holds none of the batches (it never had them): ignored, no penalty.
  const before = offences()
  const q = proposalOf(genesis, batches, 1)
  nodes[0].net.publishConsensus(encodeCompactProposalMessage(q, batches.map(batchId)))
  await waitFor('given up', () => nodes[1].net.assembly.failed === 1)
  t.is(nodes[1].chain.consensus.length, 0)
  t.is(offences(), before)
})

test.serial('a peer that answers a fetch with another batch than the one asked for is penalised, and the proposal dropped', async t => {
  const { nodes, genesis } = await mesh(t, 2)
  const batches = [sampleBatch(80), sampleBatch(81)]
  const wrong = sampleBatch(82)
  // Node 0 answers every request with `wrong` in every slot.
  const protocol = protocols(genesis.chainId).proposalBatches
  await nodes[0].net.host!.unhandle(protocol)
  await nodes[0].net.host!.handle(protocol, async (stream) => {
    const { request, respond } = await readRequest(stream, PROPOSAL_BATCHES_REQUEST_MAX_BYTES, 5_000)
    await respond(encodeProposalBatchesResponse(decodeProposalBatchesRequest(request), () => wrong))
  })
  const offences = (): number => nodes[1].net.peerRecords().find(r => r.peer === nodes[0].net.peerId)?.offences ?? 0
  nodes[0].net.publishConsensus(encodeCompactProposalMessage(proposalOf(genesis, batches), batches.map(batchId)))
  await waitFor('offence counted', () => offences() > 0)
  t.is(nodes[1].chain.consensus.length, 0)
  t.is(nodes[1].net.assembly.assembled, 0)
})
