import test from 'ava'
import { decodeWireConsensusMessage, encodeCompactProposalMessage, type CompactProposal } from '../../../src/chain/codec.ts'
import { batchId, blockRecordsRoot } from '../../../src/chain/hashing.ts'
import type { Proposal, RecordBatch } from '../../../src/chain/types.ts'
import { toHex } from '../../../src/encoding/bytes.ts'
import { ZERO_HASH } from '../../../src/crypto/hash.ts'
import { silentLogger } from '../../../src/logger.ts'
import { MAX_CONCURRENT_FETCHES, ProposalAssembler, SERVED_PROPOSALS } from '../../../src/network/compact-proposals.ts'
import { NetworkError } from '../../../src/network/errors.ts'
import { sampleBatch } from '../../e2e/network/helpers.ts'

function proposal (batches: RecordBatch[], round = 0): Proposal {
  const proposer = new Uint8Array(32).fill(7)
  const header = { chainId: 'c', height: 5, round, time: 1, proposer, parentHash: ZERO_HASH, recordsRoot: blockRecordsRoot(batches), validatorSetHash: ZERO_HASH, lastCommitHash: ZERO_HASH, evidenceHash: ZERO_HASH }
  return { header: { height: 5, round, validRound: -1, blockHash: new Uint8Array(32).fill(1), proposer, signature: new Uint8Array(64) }, block: { header, body: { batches, lastCommit: null, evidence: [] } } }
}

function compactOf (p: Proposal, ids = p.block.body.batches.map(batchId)): CompactProposal {
  const m = decodeWireConsensusMessage(encodeCompactProposalMessage(p, ids))
  if (m.kind !== 'compact-proposal') throw new Error('not compact')
  return m.compact
}

function assembler (held: RecordBatch[], fetch: (peer: string, ids: Uint8Array[]) => Promise<Array<RecordBatch | null>>): ProposalAssembler {
  const byId = new Map(held.map(b => [toHex(batchId(b)), b]))
  return new ProposalAssembler({ logger: silentLogger, heldBatch: id => byId.get(id), fetch })
}

const batches = Array.from({ length: 5 }, (_, i) => sampleBatch(100 + i))

test('a proposal whose batches are all held is assembled without asking anyone, in block order', async t => {
  const a = assembler(batches, async () => { throw new Error('no fetch expected') })
  const p = proposal(batches)
  const got = await a.assemble(compactOf(p), 'peer')
  t.deepEqual(got?.block.body.batches.map(b => toHex(batchId(b))), batches.map(b => toHex(batchId(b))))
  t.deepEqual(got?.header, p.header)
  t.deepEqual({ ...a.stats }, { assembled: 1, fetches: 0, batchesFetched: 0, failed: 0 })
})

test('missing batches are asked of the sender, once, by id; a null answer gives the proposal up without blame', async t => {
  const asked: string[][] = []
  const a = assembler(batches.slice(0, 2), async (peer, ids) => {
    asked.push(ids.map(toHex))
    return ids.map(id => batches.find(b => toHex(batchId(b)) === toHex(id)) ?? null)
  })
  const got = await a.assemble(compactOf(proposal(batches)), 'sender')
  t.is(got?.block.body.batches.length, 5)
  t.deepEqual(asked, [batches.slice(2).map(b => toHex(batchId(b)))])
  t.deepEqual({ ...a.stats }, { assembled: 1, fetches: 1, batchesFetched: 3, failed: 0 })

  const stingy = assembler([], async (_peer, ids) => ids.map(() => null))
  t.is(await stingy.assemble(compactOf(proposal(batches)), 'sender'), undefined)
  t.is(stingy.stats.failed, 1)
  const silent = assembler([], async () => { throw new NetworkError('NETWORK_NO_RESPONSE' as never, 'timeout') })
  t.is(await silent.assemble(compactOf(proposal(batches)), 'sender'), undefined, 'a timeout is no proof of malice')
})

test('ids that do not give the header\'s recordsRoot are the sender\'s fault, before anything is fetched', async t => {
  let fetched = 0
  const a = assembler([], async (_p, ids) => { fetched++; return ids.map(() => null) })
  const err = await t.throwsAsync(a.assemble(compactOf(proposal(batches), batches.slice(1).map(batchId)), 'sender'))
  t.regex(err?.message ?? '', /recordsRoot/)
  t.is(fetched, 0)
})

test(`at most ${MAX_CONCURRENT_FETCHES} fetches run at once; the next compact proposal is ignored meanwhile`, async t => {
  const release: Array<() => void> = []
  const a = assembler([], async (_p, ids) => { await new Promise<void>(resolve => release.push(resolve)); return ids.map(id => batches.find(b => toHex(batchId(b)) === toHex(id))!) })
  const pending = Array.from({ length: MAX_CONCURRENT_FETCHES }, async (_, r) => await a.assemble(compactOf(proposal(batches, r)), 'sender'))
  t.is(await a.assemble(compactOf(proposal(batches, 99)), 'sender'), undefined)
  for (const r of release) r()
  t.true((await Promise.all(pending)).every(p => p !== undefined))
  t.is(a.stats.failed, 1)
})

test(`the batches of the last ${SERVED_PROPOSALS} proposals sent or accepted are served; older ones only while in the mempool`, t => {
  const mempool = [sampleBatch(200)]
  const a = assembler(mempool, async () => [])
  const each = Array.from({ length: SERVED_PROPOSALS + 1 }, (_, r) => [sampleBatch(300 + r), sampleBatch(400)])
  a.encode(proposal(each[0], 0))
  for (let r = 1; r <= SERVED_PROPOSALS; r++) a.serve(proposal(each[r], r))
  const has = (b: RecordBatch): boolean => a.batch(toHex(batchId(b))) !== undefined
  t.false(has(each[0][0]), 'the oldest proposal\'s own batch is forgotten')
  t.true(each.slice(1).every(bs => has(bs[0])))
  t.true(has(each[0][1]), 'a batch shared with a newer proposal stays')
  t.true(has(mempool[0]), 'a batch waiting in the mempool is served')
  // The same proposal again takes no second slot.
  a.serve(proposal(each[SERVED_PROPOSALS], SERVED_PROPOSALS))
  t.true(has(each[1][0]))
})
