import test from 'ava'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { RecordProofs } from '../../../src/api/proof.ts'
import { blockJson, evidenceJson } from '../../../src/api/json.ts'
import { makeGovernedChain } from '../../helpers/governed-chain.ts'
import { schemaChecker } from '../../helpers/schemas.ts'
import { makeChain, proposalEquivocation, sampleBatch, testKey, testValidators, voteEquivocation } from '../../helpers/fixtures.ts'
import { VoteType } from '../../../src/chain/types.ts'

/*
 * docs/schemas: the JSON Schemas of a record proof, the genesis file, a block's JSON and the
 * evidence list hold for what the node writes (real proofs with governance chains, the genesis
 * files it makes, block and evidence JSON of real signed blocks and equivocations, the samples of
 * docs/protocol.md) and refuse malformed documents. Checked with fastify's own schema validator
 * (Ajv, no type coercion). test/e2e/proof-governance.test.ts holds a live node's answers to them too.
 */

const DOC = readFileSync(fileURLToPath(new URL('../../../docs/protocol.md', import.meta.url)), 'utf8')
const sample = (name: string): any => JSON.parse(new RegExp('^```json ' + name + '\\n([\\s\\S]*?)^```$', 'm').exec(DOC)![1])

const check = schemaChecker()
const valid = async (url: '/proof' | '/genesis' | '/block' | '/evidence', body: unknown): Promise<boolean> => await check(url.slice(1) as 'proof', body) === undefined

const chain = makeGovernedChain({ initial: testValidators(4), length: 12, changes: [{ at: 3, action: 'add', key: testKey(70), name: 'newcomer' }, { at: 6, action: 'remove', key: testValidators(4)[0], name: 'validator-0' }] })
const proofs = new RecordProofs({ chainId: chain.genesis.chainId, genesisHash: chain.genesis.hash, schedule: chain.schedule, store: { getFinalized: async h => chain.blocks[h - 1] } })

test('proofs the node writes, with and without governance chains, and the document\'s sample match proof.schema.json; malformed ones do not', async t => {
  t.true(await valid('/proof', sample('proof-sample')))
  t.true(await valid('/proof', sample('proof-governance-sample')))
  for (const h of [1, 5, 12]) {
    const fb = chain.blocks[h - 1]
    const at = chain.recordAt(h)
    const proof = JSON.parse(JSON.stringify(await proofs.proof({ record: fb.block.body.batches[at.batchIndex].records[0], location: { height: h, ...at }, block: fb.block, certificate: fb.certificate })))
    t.true(await valid('/proof', proof), `height ${h}`)
    if (h === 12) t.is(proof.governance.length, 2)
  }
  const bad: Array<[string, (p: any) => void]> = [
    ['no certificate', p => { delete p.certificate }],
    ['a short hash', p => { p.recordId = p.recordId.slice(2) }],
    ['a height as text', p => { p.block.header.height = String(p.block.header.height) }],
    ['unpadded base64', p => { p.record.payload = p.record.payload.replace(/=+$/, '') }],
    ['another version', p => { p.version = 2 }],
    ['a governance link without its block', p => { p.governance = [{ ...p, block: undefined }] }]
  ]
  for (const [what, change] of bad) {
    const p = structuredClone(sample('proof-sample'))
    change(p)
    t.false(await valid('/proof', p), what)
  }
})

test('genesis files the node writes and the document\'s sample match genesis.schema.json; malformed ones do not', async t => {
  t.true(await valid('/genesis', sample('genesis-sample')))
  t.true(await valid('/genesis', sample('genesis-multi-sample')))
  t.true(await valid('/genesis', chain.genesis.toJson()))
  const byPeerId = { ...sample('genesis-sample'), validators: [{ name: 'example', peerId: sample('genesis-sample').validators[0].peerId }] }
  t.true(await valid('/genesis', byPeerId))
  t.false(await valid('/genesis', { ...sample('genesis-sample'), validators: [] }))
  t.false(await valid('/genesis', { ...sample('genesis-sample'), validators: [{ name: 'x' }] }), 'a member needs a key')
  t.false(await valid('/genesis', { ...sample('genesis-sample'), chainId: 'bad chain id' }))
  t.false(await valid('/genesis', { ...sample('genesis-sample'), params: { governanceDelay: 0 } }))
})

/** JSON as a client receives it. */
const overHttp = (x: unknown): any => JSON.parse(JSON.stringify(x))

test('block JSON (GET /v1/blocks/:height) of real blocks matches block.schema.json: empty, with batches of several authors, with both kinds of evidence; malformed ones do not', async t => {
  const keys = testValidators(4)
  const evidence = [voteEquivocation(keys[1], 3, 0, VoteType.PREVOTE), { ...voteEquivocation(keys[2], 3, 1, VoteType.PRECOMMIT) }, proposalEquivocation(keys[3], 4, 2)]
  // The nil side of a vote equivocation is written as null.
  if (evidence[1].kind === 'vote') evidence[1] = { ...evidence[1], b: { ...evidence[1].b, blockHash: null } }
  const blocks = makeChain(keys, 6, {
    batchesAt: (h, proposer) => h === 2 ? [] : h === 5 ? [sampleBatch(keys[0], 3, 10), sampleBatch(keys[1], 1, 20)] : [sampleBatch(proposer, 1, h)]
  })
  blocks[5] = { ...blocks[5], block: { ...blocks[5].block, body: { ...blocks[5].block.body, evidence } } }
  for (const fb of blocks) {
    const json = overHttp(blockJson(fb.block, fb.certificate))
    t.is(await check('block', json), undefined, `height ${fb.block.header.height}`)
  }
  const withEvidence = overHttp(blockJson(blocks[5].block, blocks[5].certificate))
  t.deepEqual(withEvidence.evidence.map((e: any) => e.kind), ['vote', 'vote', 'proposal'])
  t.is(withEvidence.evidence[1].b.blockHash, null)
  t.is(withEvidence.evidence[2].a.validRound, -1)
  const bad: Array<[string, (b: any) => void]> = [
    ['no certificate', b => { delete b.certificate }],
    ['a batch of no records', b => { b.batches[0].records = 0 }],
    ['a hash in base64', b => { b.hash = Buffer.from(b.hash, 'hex').toString('base64') }],
    ['a vote of another type', b => { b.evidence[0].a.type = 'commit' }],
    ['a proposal as vote evidence', b => { b.evidence[0].a = b.evidence[2].a }],
    ['a validRound below -1', b => { b.evidence[2].a.validRound = -2 }],
    ['a header without evidenceHash', b => { delete b.header.evidenceHash }]
  ]
  for (const [what, change] of bad) {
    const b = structuredClone(withEvidence)
    change(b)
    t.not(await check('block', b), undefined, what)
  }
})

test('the evidence list (GET /v1/evidence) of real equivocations matches evidence.schema.json; malformed ones do not', async t => {
  const keys = testValidators(4)
  const items = [voteEquivocation(keys[0], 7, 0), proposalEquivocation(keys[1], 8, 1)]
  // The route's shape: committed items carry the height of the block that included them.
  const list = overHttp({ committed: items.map((e, i) => ({ includedAt: 10 + i, ...evidenceJson(e) })), pending: items.map(evidenceJson), next: null })
  t.is(await check('evidence', list), undefined)
  t.is(await check('evidence', { committed: [], pending: [], next: null }), undefined)
  t.is(await check('evidence', { ...list, next: 100 }), undefined)
  const bad: Array<[string, (l: any) => void]> = [
    ['committed without includedAt', l => { delete l.committed[0].includedAt }],
    ['no next', l => { delete l.next }],
    ['a peer id that is not one', l => { l.pending[0].peerId = 'hospital-a' }],
    ['a short signature', l => { l.pending[1].b.signature = l.pending[1].b.signature.slice(2) }],
    ['another kind', l => { l.pending[0].kind = 'block' }]
  ]
  for (const [what, change] of bad) {
    const l = structuredClone(list)
    change(l)
    t.not(await check('evidence', l), undefined, what)
  }
})
