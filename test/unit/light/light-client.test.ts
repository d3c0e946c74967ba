import test from 'ava'
import { appendFile, mkdtemp, rm, stat, truncate } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { encodeBlock } from '../../../src/chain/codec.ts'
import { blockHash } from '../../../src/chain/hashing.ts'
import { toHex } from '../../../src/encoding/bytes.ts'
import { isMedledgerError } from '../../../src/errors.ts'
import { headerPage, MAX_HEADER_PAGE } from '../../../src/api/headers.ts'
import { certificateJson, headerJson } from '../../../src/api/json.ts'
import { RecordProofs } from '../../../src/api/proof.ts'
import { LightClient, LightForkError, LightStore, setAt, stateFromCheckpoint, stateFromGenesis, type HeaderSource } from '../../../src/light/index.ts'
import { makeGovernedChain, type GovernedChain } from '../../helpers/governed-chain.ts'
import { makeBlock, makeCertificate, makeChain, testKey, testValidators } from '../../helpers/fixtures.ts'
import { GovernanceSchedule } from '../../../src/governance/schedule.ts'

/*
 * The light client against pages built by the node's own GET /v1/headers code (headerPage) over
 * chains built with the real codec and Ed25519 signers.
 */

const initial = testValidators(4)
const newcomer = testKey(60)

function proofsOf (chain: GovernedChain): RecordProofs {
  return new RecordProofs({ chainId: chain.genesis.chainId, genesisHash: chain.genesis.hash, schedule: chain.schedule, store: { getFinalized: async h => chain.blocks[h - 1] } })
}

/** A node serving `chain` (up to `upTo`) the way GET /v1/headers does; `edit` may change a page's JSON. */
function nodeOf (chain: GovernedChain, name: string, o: { upTo?: number, edit?: (page: any) => void } = {}): HeaderSource & { calls: number } {
  const blocks = chain.blocks.slice(0, o.upTo ?? chain.blocks.length)
  const store = {
    head: { height: blocks.length },
    getBlockBytes: async (h: number) => blocks[h - 1] === undefined ? undefined : encodeBlock(blocks[h - 1].block),
    getCertificate: async (h: number) => blocks[h - 1]?.certificate
  }
  const proofs = proofsOf(chain)
  const heights = new Set(chain.schedule.changes().map(c => c.includedAt))
  const source = {
    name,
    calls: 0,
    headers: async (from: number, limit: number) => {
      source.calls++
      // Through JSON, as over HTTP.
      const page = JSON.parse(JSON.stringify(await headerPage(store, proofs, heights, from, Math.min(limit, MAX_HEADER_PAGE))))
      o.edit?.(page)
      return page
    }
  }
  return source
}

async function tempDir (t: import('ava').ExecutionContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'medledger-light-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  return join(dir, 'light')
}

test('follows 10,000 blocks with a validator added and another removed inside, keeps its checkpoint on disk, and checks record proofs against its own headers', async t => {
  t.timeout(600_000)
  const built = Date.now()
  const chain = makeGovernedChain({
    initial,
    length: 10_000,
    changes: [{ at: 3000, action: 'add', key: newcomer, name: 'newcomer' }, { at: 7000, action: 'remove', key: initial[2], name: 'validator-2' }],
    withRecords: h => h % 500 === 0
  })
  t.log(`built 10,000 blocks in ${Date.now() - built} ms`)
  const dir = await tempDir(t)
  const store = await LightStore.create(dir, stateFromGenesis(chain.genesis))
  const node = nodeOf(chain, 'node-a')
  const started = Date.now()
  // Half way, as if the client had been stopped, then reopened from disk.
  const first = await new LightClient(store, node).sync({ until: 5000 })
  t.is(first.height, 5000)
  const reopened = await LightStore.open(dir)
  t.is(reopened.state.height, 5000)
  t.deepEqual(reopened.state.changes.map(c => [c.includedAt, c.effective, c.action]), [[3000, 3002, 'add']])
  const client = new LightClient(reopened, node)
  const r = await client.sync()
  t.log(`verified 10,000 headers in ${Date.now() - started} ms (${node.calls} pages)`)
  t.is(r.height, 10_000)
  t.is(client.state.height, 10_000)
  t.is(toHex(client.state.hash), toHex(blockHash(chain.blocks[9999].block.header)))
  t.deepEqual(client.state.changes.map(c => [c.includedAt, c.effective, c.action]), [[3000, 3002, 'add'], [7000, 7002, 'remove']])
  t.is(setAt(client.state, 3001).size, 4)
  t.is(setAt(client.state, 3002).size, 5)
  t.is(setAt(client.state, 7002).size, 4)
  t.is((await stat(join(dir, 'headers.bin'))).size, 10_000 * 32)

  // Record proofs before, between and after the changes, against the client's own headers.
  const proofs = proofsOf(chain)
  for (const h of [500, 3000, 3500, 7000, 9500]) {
    const fb = chain.blocks[h - 1]
    const at = chain.recordAt(h)
    const proof = await proofs.proof({ record: fb.block.body.batches[at.batchIndex].records[0], location: { height: h, ...at }, block: fb.block, certificate: fb.certificate })
    t.is((await client.verifyRecordProof(proof)).height, h)
    // A proof whose block is not the one the client verified is refused.
    const other = structuredClone(proof) as any
    other.block.header.time += 1
    const err = await t.throwsAsync(client.verifyRecordProof(other))
    t.true(isMedledgerError(err, 'PROOF_INVALID'), h.toString())
  }
  // A client that has not verified that far says so.
  const fresh = new LightClient(await LightStore.create(`${dir}-fresh`, stateFromGenesis(chain.genesis)), node)
  const fb = chain.blocks[499]
  const early = await proofs.proof({ record: fb.block.body.batches[chain.recordAt(500).batchIndex].records[0], location: { height: 500, ...chain.recordAt(500) }, block: fb.block, certificate: fb.certificate })
  t.true(isMedledgerError(await t.throwsAsync(fresh.verifyRecordProof(early)), 'LIGHT_NOT_SYNCED'))
})

const small = makeGovernedChain({ initial, length: 120, changes: [{ at: 40, action: 'add', key: newcomer, name: 'newcomer' }] })

test('two certified headers at one height: the client stops with both as evidence and keeps its last good checkpoint', async t => {
  const dir = await tempDir(t)
  const store = await LightStore.create(dir, stateFromGenesis(small.genesis))
  await new LightClient(store, nodeOf(small, 'honest')).sync({ until: 20 })
  // A quorum of the set in force signed a second block at height 50.
  const original = small.blocks[49]
  const set = small.schedule.at(50)
  const forged = makeBlock({ height: 50, proposer: initial[0], parentHash: original.block.header.parentHash, validatorSetHash: set.hash, lastCommit: original.block.body.lastCommit, time: original.block.header.time + 1 })
  const signers = [...initial, newcomer].filter(k => set.has(k.publicKey)).slice(0, set.quorum)
  const cert = makeCertificate(signers, { height: 50, round: 0, blockHash: blockHash(forged.header) })
  const witness = nodeOf(small, 'liar', { edit: page => { for (const item of page.headers) if (item.header.height === 50) { item.header = headerJson(forged.header); item.certificate = certificateJson(cert); item.hash = toHex(blockHash(forged.header)) } } })
  const client = new LightClient(store, nodeOf(small, 'honest'), [witness], 25)
  const err = await t.throwsAsync(client.sync()) as LightForkError
  t.true(err instanceof LightForkError)
  t.is(err.evidence.height, 50)
  t.is(err.evidence.a.hash, toHex(blockHash(original.block.header)))
  t.is(err.evidence.b.hash, toHex(blockHash(forged.header)))
  t.deepEqual(err.evidence.b.header, headerJson(forged.header))
  t.is((await LightStore.open(dir)).state.height, 45, 'the page holding the fork was not accepted')

  // A witness whose different header has no valid certificate is not a fork: the client goes on.
  const noise = nodeOf(small, 'noise', { edit: page => { for (const item of page.headers) if (item.header.height === 60) item.header.time += 1 } })
  const r = await new LightClient(await LightStore.open(dir), nodeOf(small, 'honest'), [noise]).sync()
  t.is(r.height, 120)

  // After a restart, a node serving another certified header at the client's height is caught too.
  const forkAtHead = nodeOf(small, 'liar', { edit: page => { for (const item of page.headers) if (item.header.height === 120) { const b = makeBlock({ height: 120, proposer: initial[0], parentHash: small.blocks[119].block.header.parentHash, validatorSetHash: small.schedule.at(120).hash, lastCommit: small.blocks[119].block.body.lastCommit, time: 1 }); const s = small.schedule.at(120); item.header = headerJson(b.header); item.certificate = certificateJson(makeCertificate([...initial, newcomer].filter(k => s.has(k.publicKey)).slice(0, s.quorum), { height: 120, round: 0, blockHash: blockHash(b.header) })) } } })
  const again = await t.throwsAsync(new LightClient(await LightStore.open(dir), forkAtHead).sync()) as LightForkError
  t.true(again instanceof LightForkError)
  t.is(again.evidence.height, 120)
})

test('a node that leaves out a governance record cannot move the client past the change: it stops at the effect height', async t => {
  const dir = await tempDir(t)
  const store = await LightStore.create(dir, stateFromGenesis(small.genesis))
  const stripping = nodeOf(small, 'stripping', { edit: page => { for (const item of page.headers) delete item.governance } })
  const err = await t.throwsAsync(new LightClient(store, stripping, [], 10).sync())
  t.true(isMedledgerError(err, 'LIGHT_INVALID'))
  t.regex(err!.message, /header 42 names a validator set this client cannot derive/)
  t.is((await LightStore.open(dir)).state.height, 40)
  // A forged change (an approval re-signed by a non-member) is refused where it appears.
  const forging = nodeOf(small, 'forging', { edit: page => { for (const item of page.headers) if (item.governance !== undefined) item.governance.certificate.signatures[0].signature = 'ab'.repeat(64) } })
  const dir2 = await tempDir(t)
  const err2 = await t.throwsAsync(new LightClient(await LightStore.create(dir2, stateFromGenesis(small.genesis)), forging).sync())
  t.true(isMedledgerError(err2), String(err2))
  t.is((await LightStore.open(dir2)).state.height, 0)
})

test('a certified header no later than its parent breaks the chain\'s time rule and stops the client there, as it stops a full node', async t => {
  // Certified by all four, but block 3 has its parent's time (only a quorum breaking the rules signs that).
  const genesis = small.genesis
  const blocks = makeChain(initial, 5, { genesisHash: genesis.hash, timeAt: h => genesis.genesisTime + (h === 3 ? 2 : h) * 1000 })
  t.is(blocks[2].block.header.time, blocks[1].block.header.time)
  const flat: GovernedChain = { genesis, blocks, schedule: new GovernanceSchedule(genesis.validators, genesis.params.governanceDelay), recordAt: () => ({ batchIndex: 0, recordIndex: 0 }) }
  const dir = await tempDir(t)
  const err = await t.throwsAsync(new LightClient(await LightStore.create(dir, stateFromGenesis(genesis)), nodeOf(flat, 'stale-time'), [], 1).sync())
  t.true(isMedledgerError(err, 'LIGHT_INVALID'))
  t.regex(err!.message, /header 3 is not later than its parent/)
  t.is((await LightStore.open(dir)).state.height, 2)
})

test('starts from a trusted height and hash, taking the node\'s validator list only as far as it hashes to that header', async t => {
  const dir = await tempDir(t)
  const node = nodeOf(small, 'node')
  const current = small.schedule.at(121)
  const view = { validators: current.members.map(m => ({ name: m.name, publicKey: toHex(m.publicKey) })), changes: small.schedule.changes().map(c => ({ includedAt: c.includedAt, effective: c.effective, action: c.change.action, name: c.change.name, publicKey: toHex(c.change.publicKey) })) }
  const trusted = (h: number): string => toHex(blockHash(small.blocks[h - 1].block.header))
  for (const h of [30, 41, 80]) {
    const state = await stateFromCheckpoint({ height: h, hash: trusted(h), governanceDelay: 2, source: node, validators: view })
    const client = new LightClient(await LightStore.create(`${dir}-${h}`, state), node)
    t.is((await client.sync()).height, 120, `from ${h}`)
  }
  await t.throwsAsync(stateFromCheckpoint({ height: 30, hash: trusted(31), governanceDelay: 2, source: node, validators: view }), { message: /another header/ })
  await t.throwsAsync(stateFromCheckpoint({ height: 80, hash: trusted(80), governanceDelay: 2, source: node, validators: { ...view, validators: view.validators.slice(1) } }), { message: /does not hash/ })
})

test('the checkpoint survives a crash between appending header hashes and writing the state, and a damaged hash log is refused', async t => {
  const dir = await tempDir(t)
  const store = await LightStore.create(dir, stateFromGenesis(small.genesis))
  await new LightClient(store, nodeOf(small, 'node')).sync({ until: 30 })
  // A run that appended hashes and died before its state was written.
  await appendFile(join(dir, 'headers.bin'), new Uint8Array(32 * 5).fill(9))
  const reopened = await LightStore.open(dir)
  t.is(reopened.state.height, 30)
  t.is((await stat(join(dir, 'headers.bin'))).size, 30 * 32)
  t.is(toHex((await reopened.hashAt(30))!), toHex(blockHash(small.blocks[29].block.header)))
  t.is((await new LightClient(reopened, nodeOf(small, 'node')).sync()).height, 120)
  await truncate(join(dir, 'headers.bin'), 32 * 10)
  t.true(isMedledgerError(await t.throwsAsync(LightStore.open(dir)), 'LIGHT_STATE_CORRUPT'))
  t.true(isMedledgerError(await t.throwsAsync(LightStore.create(dir, stateFromGenesis(small.genesis))), 'LIGHT_EXISTS'))
})
