import test from 'ava'
import { RecordProofs } from '../../../src/api/proof.ts'
import { verifyRecordProof } from '../../../src/audit/proof-verify.ts'
import { ChainVerifier, genesisTip } from '../../../src/chain/verifier.ts'
import { VerifyPool } from '../../../src/crypto/verify-pool.ts'
import { isMedledgerError } from '../../../src/errors.ts'
import { GovernanceSchedule } from '../../../src/governance/schedule.ts'
import { readGenesis, verifyProof, type Trust } from '../../../src/api/explorer/verify.js'
import { makeGovernedChain } from '../../helpers/governed-chain.ts'
import { testKey, testValidators } from '../../helpers/fixtures.ts'

/*
 * Record proofs across validator-set changes: a proof carries the governance chain (each change
 * in force at the record's height, proved in its own certified block), so the genesis file alone
 * verifies records written before and after additions and removals. Checked with the node's
 * verifier (the CLI's) and with the explorer's verify.js, on a chain built with the real codec
 * and signers: genesis {v0..v3}; add v4 at 5 (effective 7); remove one genesis validator at 12
 * (effective 14); add it back at 20 (effective 22).
 */

const initial = testValidators(4)
const newcomer = testKey(50)
const removed = initial[1]
const chain = makeGovernedChain({
  initial,
  length: 30,
  changes: [
    { at: 5, action: 'add', key: newcomer, name: 'newcomer' },
    { at: 12, action: 'remove', key: removed, name: 'validator-1' },
    { at: 20, action: 'add', key: removed, name: 'validator-1' }
  ]
})
const store = { getFinalized: async (h: number) => chain.blocks[h - 1] }
const proofs = new RecordProofs({ chainId: chain.genesis.chainId, genesisHash: chain.genesis.hash, schedule: chain.schedule, store })

async function proofAt (height: number, which: 'record' | 'governance' = 'record'): Promise<Record<string, any>> {
  const fb = chain.blocks[height - 1]
  const at = which === 'record' ? chain.recordAt(height) : { batchIndex: 0, recordIndex: 0 }
  const record = fb.block.body.batches[at.batchIndex].records[at.recordIndex]
  return await proofs.proof({ record, location: { height, ...at }, block: fb.block, certificate: fb.certificate }) as Record<string, any>
}

const jsGenesis = await readGenesis(chain.genesis.toJson())
const trust: Trust = { chainId: jsGenesis.chainId, genesisHash: jsGenesis.hash, validators: jsGenesis.validators, governanceDelay: jsGenesis.params.governanceDelay, source: 'genesis' }

function refused (t: import('ava').ExecutionContext, proof: unknown, what: string): void {
  const err = t.throws(() => verifyRecordProof(proof, chain.genesis), undefined, what)
  t.true(isMedledgerError(err, 'PROOF_INVALID'), what)
}

test('the synthetic chain is valid by the node\'s own rules (the auditor\'s verifier follows its set changes)', async t => {
  const schedule = new GovernanceSchedule(chain.genesis.validators, chain.genesis.params.governanceDelay)
  const verifier = new ChainVerifier(chain.genesis.chainId, schedule, new VerifyPool({ inlineBelow: Number.MAX_SAFE_INTEGER }))
  const tip = await verifier.verifyRun(genesisTip(chain.genesis.hash, chain.genesis.genesisTime), chain.blocks)
  t.is(tip.link.height, 30)
  t.deepEqual(schedule.changes().map(c => [c.includedAt, c.effective, c.change.action]), [[5, 7, 'add'], [12, 14, 'remove'], [20, 22, 'add']])
})

test('proofs of records before and after each addition and removal verify against the genesis file alone, with both verifiers', async t => {
  // [height, changes in force, set size]
  const expected: Array<[number, number, number]> = [[1, 0, 4], [5, 0, 4], [6, 0, 4], [7, 1, 5], [12, 1, 5], [13, 1, 5], [14, 2, 4], [21, 2, 4], [22, 3, 5], [30, 3, 5]]
  for (const [h, changes, size] of expected) {
    const proof = await proofAt(h)
    t.is(proof.governance.length, changes, `height ${h}`)
    const r = verifyRecordProof(proof, chain.genesis)
    t.is(r.height, h)
    t.is(r.validators, size, `height ${h}`)
    t.is(r.governanceChanges, changes)
    const js = await verifyProof(proof, trust)
    t.true(js.ok, `height ${h}: ${JSON.stringify(js.steps.filter(s => !s.ok))}`)
    t.is(js.total, size)
    t.is(js.steps.length, 7)
  }
  // A governance record's own proof: its change is not yet in force in its own block.
  for (const h of [5, 12, 20]) {
    const proof = await proofAt(h, 'governance')
    t.is(verifyRecordProof(proof, chain.genesis).height, h)
    t.true((await verifyProof(proof, trust)).ok)
  }
})

test('without its governance chain a proof after a change is refused (what proofs were before), and so is a chain cut, reordered, padded or missing the genesis delay', async t => {
  const proof = await proofAt(25)
  const cases: Array<[string, (p: Record<string, any>) => void]> = [
    ['no governance chain', p => { delete p.governance }],
    ['the last change left out', p => { p.governance.pop() }],
    ['the first change left out', p => { p.governance.shift() }],
    ['two changes swapped', p => { [p.governance[0], p.governance[1]] = [p.governance[1], p.governance[0]] }],
    ['a change listed twice', p => { p.governance.splice(1, 0, structuredClone(p.governance[0])) }],
    ['a link that is a plain record', p => { p.governance[2].record = p.record; p.governance[2].recordId = p.recordId }],
    ['not a list', p => { p.governance = {} }]
  ]
  for (const [what, change] of cases) {
    const copy = structuredClone(proof)
    change(copy)
    refused(t, copy, what)
    t.false((await verifyProof(copy, trust)).ok, what)
  }
  // A change not yet in force at the record's height is not part of its chain.
  const early = await proofAt(21)
  early.governance.push((await proofAt(22)).governance[2])
  refused(t, early, 'a change not yet in force')
  t.false((await verifyProof(early, trust)).ok)
  t.false((await verifyProof(proof, { ...trust, governanceDelay: undefined })).ok, 'the delay is needed to follow changes')
  t.false((await verifyProof(await proofAt(7), { ...trust, governanceDelay: 3 })).ok, 'with another delay the change at 5 is not in force at 7')
})

test('tampering with any string of a governance link is refused by both verifiers', async t => {
  const proof = await proofAt(25)
  const leaves = (v: unknown, path: string[] = []): string[][] => {
    if (typeof v === 'string') return v.length > 0 ? [path] : []
    if (v === null || typeof v !== 'object') return []
    return Object.entries(v as Record<string, unknown>).flatMap(([k, c]) => leaves(c, [...path, k]))
  }
  const paths = leaves(proof.governance, ['governance'])
  t.true(paths.length > 60, String(paths.length))
  for (const path of paths) {
    const copy = structuredClone(proof)
    let o: any = copy
    for (const k of path.slice(0, -1)) o = o[k]
    const last = path.at(-1)!
    const s = o[last] as string
    o[last] = (/[0-9a-f]/.test(s[0]) ? (s[0] === 'a' ? 'b' : 'a') : s[0] === 'A' ? 'B' : 'A') + s.slice(1)
    refused(t, copy, path.join('.'))
    t.false((await verifyProof(copy, trust)).ok, path.join('.'))
  }
})
