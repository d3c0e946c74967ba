import test from 'ava'
import { RecordProofs } from '../../../src/api/proof.ts'
import { verifyRecordProof, type VerifiedProof } from '../../../src/audit/proof-verify.ts'
import { Genesis } from '../../../src/chain/genesis.ts'
import { blockHash } from '../../../src/chain/hashing.ts'
import { toHex } from '../../../src/encoding/bytes.ts'
import { isMedledgerError } from '../../../src/errors.ts'
import { GovernanceSchedule } from '../../../src/governance/schedule.ts'
import { readGenesis, verifyProof, type Trust } from '../../../src/api/explorer/verify.js'
import { makeGovernedChain, type GovernedChain } from '../../helpers/governed-chain.ts'
import { makeCertificate, makeChain, sampleBatch, sampleRecord, signBatch, signVote, testKey, testValidators, TEST_CHAIN_ID, TEST_TIME } from '../../helpers/fixtures.ts'
import { buildBlock } from '../../../src/chain/block-builder.ts'
import { VoteType, type FinalizedBlock } from '../../../src/chain/types.ts'

/*
 * The binding gaps of protocol version 1 (docs/protocol.md 12.3), attacked: what a proof binds and
 * what it does not. A batch's position in its block (block.batchIndex, block.batchCount) is not
 * committed by the header: relabelling it is accepted, and changes nothing the verifier reports;
 * a record's position in its batch is bound by the signed count. The genesis hash is bound only
 * through the block at height 1 (parentHash): a proof of another chain is refused when its chain
 * id or validator set differs, and at height 1; a chain with the same id and the same genesis
 * validator keys but another genesis file is the documented gap. The member set is carried by
 * the proof's governance links, not committed by the header: a left-out member change goes
 * unnoticed, which matters only for a block a quorum certified against the rules. Both
 * verifiers: the node's (the CLI's) and the explorer's verify.js.
 */

const keys = testValidators(4)

async function trustOf (g: Genesis, members?: Array<{ name: string, publicKey: Uint8Array }>): Promise<Trust> {
  const j = await readGenesis(g.toJson())
  return { chainId: j.chainId, genesisHash: j.hash, validators: j.validators, members: members ?? j.members, governanceDelay: j.params.governanceDelay, source: 'genesis' }
}

async function proofOf (chain: { genesis: Genesis, blocks: FinalizedBlock[], schedule: GovernanceSchedule }, height: number, batchIndex: number, recordIndex = 0): Promise<Record<string, any>> {
  const proofs = new RecordProofs({ chainId: chain.genesis.chainId, genesisHash: chain.genesis.hash, schedule: chain.schedule, store: { getFinalized: async h => chain.blocks[h - 1] } })
  const fb = chain.blocks[height - 1]
  const record = fb.block.body.batches[batchIndex].records[recordIndex]
  return JSON.parse(JSON.stringify(await proofs.proof({ record, location: { height, batchIndex, recordIndex }, block: fb.block, certificate: fb.certificate })))
}

/** Both verifiers' verdicts: the node's result (or its PROOF_INVALID message) and verify.js's ok. */
async function verdicts (proof: unknown, genesis: Genesis, trust: Trust): Promise<{ node: VerifiedProof | string, js: boolean }> {
  let node: VerifiedProof | string
  try {
    node = verifyRecordProof(proof, genesis)
  } catch (err) {
    if (!isMedledgerError(err, 'PROOF_INVALID')) throw err
    node = err.message
  }
  return { node, js: (await verifyProof(proof, trust)).ok }
}

// A chain of one static set whose block 2 holds three batches, the last of three records.
const genesis = new Genesis({ chainId: TEST_CHAIN_ID, genesisTime: TEST_TIME, validators: keys.map((k, i) => ({ name: `validator-${i}`, publicKey: k.publicKey })), observers: [], params: { heartbeatMs: 10_000, governanceDelay: 2 } })
const blocks = makeChain(keys, 3, { genesisHash: genesis.hash, batchesAt: (h, p) => h === 2 ? [sampleBatch(keys[0], 1, 100), sampleBatch(keys[1], 1, 200), sampleBatch(keys[2], 3, 300)] : [sampleBatch(p, 1, h)] })
const flat = { genesis, blocks, schedule: new GovernanceSchedule(genesis.validators, 2) }

test('a batch\'s position in its block is informative: every (batchIndex, batchCount) that verifies proves the same record in the same certified block; a record\'s position in its batch is bound', async t => {
  const trust = await trustOf(genesis)
  const proof = await proofOf(flat, 2, 2, 1)
  const real = await verdicts(proof, genesis, trust)
  t.true(real.js)
  if (typeof real.node === 'string') return t.fail(real.node)
  t.deepEqual([proof.block.batchIndex, proof.block.batchCount, proof.batch.index, proof.batch.count], [2, 3, 1, 3])

  // Every label up to 40 batches: what verifies shares the real path's shape (the sibling on the left, one level).
  const accepted: Array<[number, number]> = []
  for (let n = 1; n <= 40; n++) {
    for (let i = 0; i < n; i++) {
      const p = structuredClone(proof)
      p.block.batchIndex = i
      p.block.batchCount = n
      const v = await verdicts(p, genesis, trust)
      t.is(typeof v.node !== 'string', v.js, `both verifiers agree on (${i}, ${n})`)
      if (typeof v.node === 'string') continue
      accepted.push([i, n])
      // Nothing the verifier reports moves: the record, its height and its certified block.
      t.deepEqual(v.node, real.node)
    }
  }
  t.deepEqual(accepted, [[1, 2], [2, 3], [4, 5], [8, 9], [16, 17], [32, 33]])

  // The record's index in its batch is bound by the signed count: every other index, and another count, is refused.
  for (let i = 0; i < 3; i++) {
    if (i === 1) continue
    const p = structuredClone(proof)
    p.batch.index = i
    const v = await verdicts(p, genesis, trust)
    t.regex(String(v.node), /the record is not in the batch/, `record index ${i}`)
    t.false(v.js)
  }
  for (const count of [2, 4]) {
    const p = structuredClone(proof)
    p.batch.count = count
    t.false((await verdicts(p, genesis, trust)).js, `count ${count}`)
    t.is(typeof (await verdicts(p, genesis, trust)).node, 'string', `count ${count}`)
  }
  // Another batch's summary under this block's path, or this batch under another block's header: refused.
  const other = await proofOf(flat, 2, 0)
  const swapped = { ...structuredClone(proof), batch: { ...other.batch, index: proof.batch.index, path: proof.batch.path } }
  t.false((await verdicts(swapped, genesis, trust)).js)
  const moved = { ...structuredClone(proof), block: (await proofOf(flat, 3, 0)).block, certificate: (await proofOf(flat, 3, 0)).certificate }
  const m = await verdicts(moved, genesis, trust)
  t.regex(String(m.node), /the batch is not in the block/)
  t.false(m.js)
})

test('another genesis under the same chain id: refused when the validator set or the chain id differs, and at height 1; accepted with a rewritten genesisHash only when the same genesis validator keys certified it (the documented gap)', async t => {
  const ours = makeGovernedChain({ initial: keys, length: 6, changes: [] })
  const trust = await trustOf(ours.genesis)
  const rewritten = (p: Record<string, any>, g: Genesis = ours.genesis): Record<string, any> => ({ ...structuredClone(p), chainId: g.chainId, genesisHash: toHex(g.hash) })
  const check = async (chain: GovernedChain, height: number, edit: (p: Record<string, any>) => Record<string, any> = rewritten): Promise<{ node: VerifiedProof | string, js: boolean }> =>
    await verdicts(edit(await proofOf(chain, height, chain.recordAt(height).batchIndex)), ours.genesis, trust)

  // Another genesis file (one hour later), same chain id, same validator keys.
  const twin = makeGovernedChain({ initial: keys, length: 6, changes: [], genesisTime: TEST_TIME + 3_600_000 })
  t.notDeepEqual(toHex(twin.genesis.hash), toHex(ours.genesis.hash))
  const asServed = await check(twin, 4, p => p)
  t.regex(String(asServed.node), /another chain or genesis/, 'the proof names its own genesis')
  t.false(asServed.js)
  const first = await check(twin, 1)
  t.regex(String(first.node), /the block at height 1 does not follow this genesis file/)
  t.false(first.js)
  // The gap: past height 1 nothing signed names the genesis, so the twin's block verifies here.
  // It takes a quorum of this chain's genesis validators signing another chain with the same id
  // (operators MUST NOT reuse a chain id: docs/protocol.md 12.3); a light client that follows
  // this chain from its genesis file is not fooled (its header at 4 hashes differently).
  const gap = await check(twin, 4)
  t.is(typeof gap.node, 'object', String(gap.node))
  t.true(gap.js)
  t.notDeepEqual((gap.node as VerifiedProof).blockHash, toHex(blockHash(ours.blocks[3].block.header)))

  // Same chain id, other validators: the header names another set, at every height.
  const strangers = makeGovernedChain({ initial: [80, 81, 82, 83].map(testKey), length: 6, changes: [] })
  for (const h of [1, 4]) {
    const v = await check(strangers, h)
    t.regex(String(v.node), h === 1 ? /does not follow this genesis/ : /the batch author is not a validator/)
    t.false(v.js)
  }
  // Same keys, another chain id: every signature binds the chain id, so relabelling breaks them.
  const otherId = makeGovernedChain({ initial: keys, length: 6, changes: [], chainId: 'medledger-other', genesisTime: TEST_TIME })
  const relabelled = await check(otherId, 4, p => { const q = rewritten(p); q.block.header.chainId = TEST_CHAIN_ID; return q })
  t.regex(String(relabelled.node), /signature does not verify|certificate/)
  t.false(relabelled.js)
})

test('verify.js counts only validators toward a governance link\'s certificate, never members (it counted members before)', async t => {
  const changed = makeGovernedChain({ initial: keys, length: 8, changes: [{ at: 3, action: 'add', key: testKey(90), name: 'newcomer' }] })
  const member = testKey(91)
  const trust = await trustOf(changed.genesis, [{ name: 'clinic', publicKey: member.publicKey }])
  const proof = await proofOf(changed, 7, changed.recordAt(7).batchIndex)
  t.true((await verifyProof(proof, trust)).ok)
  // The link's certificate: one validator's precommit replaced by the member's, for the same block.
  const link = proof.governance[0]
  const c = link.certificate
  const vote = signVote(member, { type: VoteType.PRECOMMIT, height: c.height, round: c.round, blockHash: Buffer.from(c.blockHash, 'hex') })
  c.signatures[0] = { validator: toHex(vote.validator), signature: toHex(vote.signature) }
  const r = await verifyProof(proof, trust)
  t.false(r.ok)
  t.regex(JSON.stringify(r.steps.filter(s => !s.ok)), /a certificate signature is not a valid one of a distinct validator/)
})

test('the member set is carried by the proof, not committed by the header: a left-out member change goes unnoticed, and matters only for a block a quorum of validators certified against the rules', async t => {
  const member = testKey(95)
  const chain = makeGovernedChain({ initial: keys, length: 9, members: [member], changes: [{ at: 4, action: 'remove-member', key: member, name: 'member-0' }], memberRecordAt: h => h === 3 ? member : undefined })
  const trust = await trustOf(chain.genesis)
  // The member's record at 3, before its removal (included at 4) takes effect at 6.
  const mine = await verdicts(await proofOf(chain, 3, 1), chain.genesis, trust)
  t.true(mine.js)
  t.is((mine.node as VerifiedProof).governanceChanges, 0, String(mine.node))
  // A validator's record at 8: its proof carries the removal as a governance link.
  const later = await proofOf(chain, 8, chain.recordAt(8).batchIndex)
  t.is(later.governance.length, 1)
  t.is(((await verdicts(later, chain.genesis, trust)).node as VerifiedProof).governanceChanges, 1)
  // Left out, the removal is not missed: no header names the member set in version 1.
  const cut = await verdicts({ ...later, governance: [] }, chain.genesis, trust)
  t.true(cut.js)
  t.is((cut.node as VerifiedProof).governanceChanges, 0, String(cut.node))

  // The case it would matter for: a batch of the removed member in a block after the removal took
  // effect. Nodes refuse such a block (section 9.1); only a quorum of validators that certifies it
  // anyway can make one, and that quorum could certify any record of its own just as well.
  const parent = chain.blocks[8]
  const forged = buildBlock({ chainId: TEST_CHAIN_ID, parent: { height: 9, hash: blockHash(parent.block.header), time: parent.block.header.time }, round: 0, proposer: keys[0].publicKey, validators: chain.schedule.at(10), batches: [signBatch(member, [sampleRecord(member.publicKey, 10)])], lastCommit: parent.certificate, evidence: [], now: parent.block.header.time + 1000 })
  const certified = { ...chain, blocks: [...chain.blocks, { block: forged, certificate: makeCertificate(keys, { height: 10, round: 0, blockHash: blockHash(forged.header) }) }] }
  const proof = await proofOf(certified, 10, 0)
  t.is(proof.governance.length, 1)
  const withLink = await verdicts(proof, chain.genesis, trust)
  t.regex(String(withLink.node), /the batch author is not a validator or member/)
  t.false(withLink.js)
  const withoutLink = await verdicts({ ...proof, governance: [] }, chain.genesis, trust)
  t.is(typeof withoutLink.node, 'object', String(withoutLink.node))
  t.true(withoutLink.js)
})
