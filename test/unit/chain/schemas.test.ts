import test from 'ava'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import Fastify from 'fastify'
import { RecordProofs } from '../../../src/api/proof.ts'
import { makeGovernedChain } from '../../helpers/governed-chain.ts'
import { testKey, testValidators } from '../../helpers/fixtures.ts'

/*
 * docs/schemas: the JSON Schemas of a record proof and of the genesis file hold for what the node
 * writes (real proofs with governance chains, the genesis files it makes, the samples of
 * docs/protocol.md) and refuse malformed documents. Checked with fastify's own schema validator
 * (Ajv, no type coercion).
 */

const read = (f: string): any => JSON.parse(readFileSync(fileURLToPath(new URL(`../../../docs/${f}`, import.meta.url)), 'utf8'))
const DOC = readFileSync(fileURLToPath(new URL('../../../docs/protocol.md', import.meta.url)), 'utf8')
const sample = (name: string): any => JSON.parse(new RegExp('^```json ' + name + '\\n([\\s\\S]*?)^```$', 'm').exec(DOC)![1])

const app = Fastify({ ajv: { customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false } } })
app.post('/proof', { schema: { body: read('schemas/proof.schema.json') } }, async () => ({ ok: true }))
app.post('/genesis', { schema: { body: read('schemas/genesis.schema.json') } }, async () => ({ ok: true }))
const valid = async (url: string, body: unknown): Promise<boolean> => (await app.inject({ method: 'POST', url, payload: body as object })).statusCode === 200

const chain = makeGovernedChain({ initial: testValidators(4), length: 12, changes: [{ at: 3, action: 'add', key: testKey(70), name: 'newcomer' }, { at: 6, action: 'remove', key: testValidators(4)[0], name: 'validator-0' }] })
const proofs = new RecordProofs({ chainId: chain.genesis.chainId, genesisHash: chain.genesis.hash, schedule: chain.schedule, store: { getFinalized: async h => chain.blocks[h - 1] } })

test('proofs the node writes, with and without governance chains, and the document\'s sample match proof.schema.json; malformed ones do not', async t => {
  t.true(await valid('/proof', sample('proof-sample')))
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
  t.true(await valid('/genesis', chain.genesis.toJson()))
  const byPeerId = { ...sample('genesis-sample'), validators: [{ name: 'example', peerId: sample('genesis-sample').validators[0].peerId }] }
  t.true(await valid('/genesis', byPeerId))
  t.false(await valid('/genesis', { ...sample('genesis-sample'), validators: [] }))
  t.false(await valid('/genesis', { ...sample('genesis-sample'), validators: [{ name: 'x' }] }), 'a member needs a key')
  t.false(await valid('/genesis', { ...sample('genesis-sample'), chainId: 'bad chain id' }))
  t.false(await valid('/genesis', { ...sample('genesis-sample'), params: { governanceDelay: 0 } }))
})
