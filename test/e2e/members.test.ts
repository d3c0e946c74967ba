/**
 * Members end to end, as real daemons: 4 validators and 2 members in genesis, and a third member
 * node that governance admits later. Members write records that become final (with proofs served
 * by every node), never propose or sign a block; a member added by governance writes from its
 * effect height; a member removed by governance is cut off at its effect height and its records
 * never reach the chain.
 */
import test, { type ExecutionContext } from 'ava'
import { execFile } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { join, dirname } from 'node:path'
import { promisify } from 'node:util'
import { BIN, type Daemon } from '../../src/devnet/daemon.ts'
import { sampleRecord, startDevnet, waitFor, waitForHeight } from '../helpers/devnet.ts'
import { HostileValidator } from '../helpers/hostile-peer.ts'
import { encodeConsensusMessage } from '../../src/chain/codec.ts'
import { VoteType } from '../../src/chain/types.ts'

const exec = promisify(execFile)
const cli = async (args: string[]): Promise<string> => (await exec(process.execPath, [BIN, ...args])).stdout

interface Proof { batch: { author: string }, block: { header: { proposer: string, height: number } }, certificate: { signatures: Array<{ validator: string }> } }

const publicKeyOf = async (d: Daemon): Promise<string> => JSON.parse(await readFile(join(d.node.home, 'node.key'), 'utf8')).publicKey as string
const statusOf = async (d: Daemon): Promise<{ height: number, peers: number, role: string, members: number }> => await (await fetch(`${d.api}/v1/status`)).json() as { height: number, peers: number, role: string, members: number }

/**
 * Checks a record's proof as anyone holding the genesis file would: `medledger proof verify
 * --genesis` over the proof a node serves, and the same proof with its batch author changed.
 */
async function verifyOffline (t: ExecutionContext, node: Daemon, id: string, governanceChanges: number): Promise<void> {
  const dir = dirname(node.node.home)
  const genesis = join(dir, 'genesis.json')
  const proof = await (await fetch(`${node.api}/v1/records/${id}/proof`)).json() as Record<string, any>
  const file = join(dir, `member-proof-${id.slice(0, 8)}.json`)
  await writeFile(file, JSON.stringify(proof))
  const out = JSON.parse(await cli(['proof', 'verify', '--genesis', genesis, file])) as { valid: boolean, recordId: string, governanceChanges: number }
  t.true(out.valid)
  t.is(out.recordId, id)
  t.is(out.governanceChanges, governanceChanges, 'the proof carries the member-set changes up to its block')
  // Another author (a validator's key) breaks the batch signature: refused.
  proof.batch.author = await publicKeyOf(node)
  await writeFile(file, JSON.stringify(proof))
  await t.throwsAsync(cli(['proof', 'verify', '--genesis', genesis, file]), undefined, 'a proof with another author is refused')
}

/** Proposes, has three of four validators approve, and submits a member-set change; returns its effect height. */
async function governance (validators: Daemon[], action: 'add-member' | 'remove-member', member: Daemon, nonce: number): Promise<number> {
  const [a] = validators
  const dir = dirname(a.node.home)
  const file = join(dir, `${action}-${member.node.name}-${nonce}.json`)
  await cli(['governance', 'propose', '--genesis', join(dir, 'genesis.json'), '--action', action, '--name', member.node.name, '--peer-id', member.node.peerId, '--nonce', String(nonce), '--out', file])
  for (const v of validators.slice(0, 3)) await cli(['governance', 'approve', '--home', v.node.home, file])
  const submitted = JSON.parse(await cli(['governance', 'submit', '--api', a.api, '--token-file', join(a.node.home, 'api.token'), file])) as { height: number }
  const m = await (await fetch(`${a.api}/v1/members`)).json() as { changes: Array<{ includedAt: number, effective: number, action: string, publicKey: string }> }
  const change = m.changes.find(c => c.includedAt === submitted.height)
  if (change === undefined || change.action !== action) throw new Error(`the ${action} change is not listed at ${submitted.height}: ${JSON.stringify(m)}`)
  return change.effective
}

test.serial('members write records that become final on every node; governance adds a member, then removes one, which is cut off and whose records never reach the chain', async t => {
  // Seven daemons and two governance rounds: minutes on a loaded machine.
  t.timeout(10 * 60_000)
  const daemons = await startDevnet(t, { validators: ['hospital-a', 'hospital-b', 'hospital-c', 'ministry'], observers: [], members: ['clinic-1', 'clinic-2'], joiningMembers: ['clinic-3'], heartbeatMs: 1000 })
  const validators = daemons.slice(0, 4)
  const [clinic1, clinic2, clinic3] = daemons.slice(4)
  const validatorKeys = await Promise.all(validators.map(publicKeyOf))
  await waitForHeight([...validators, clinic1, clinic2], 1, 120_000)
  t.is((await statusOf(clinic1)).role, 'member')

  // A member writes: its records become final, signed by it, in a block proposed and certified by validators only.
  const res = await clinic1.submit([sampleRecord(1), sampleRecord(2)])
  t.is(res.status, 200, JSON.stringify(res.body))
  const clinic1Key = await publicKeyOf(clinic1)
  for (const d of [validators[1], clinic2, clinic1]) {
    const proof = await waitFor(`${d.node.name} serves the proof`, async () => {
      const r = await fetch(`${d.api}/v1/records/${res.body.ids![0]}`)
      return r.status === 200 ? await r.json() as Proof : undefined
    }, 180_000)
    t.is(proof.batch.author, clinic1Key)
    t.true(validatorKeys.includes(proof.block.header.proposer))
    t.true(proof.certificate.signatures.every(s => validatorKeys.includes(s.validator)), 'only validators sign certificates')
  }
  // Its proof checks offline from the genesis file alone (the member is in genesis).
  await verifyOffline(t, validators[1], res.body.ids![0], 0)
  const members = await (await fetch(`${validators[0].api}/v1/members`)).json() as { members: Array<{ name: string }> }
  t.deepEqual(members.members.map(m => m.name).sort(), ['clinic-1', 'clinic-2'])

  // A member node that genesis does not list may not write.
  const early = await clinic3.submit([sampleRecord(3)], false).catch(() => undefined)
  if (early !== undefined) t.is(early.status, 403, JSON.stringify(early.body))

  // Governance admits clinic-3: from its effect height it follows the chain and writes.
  const added = await governance(validators, 'add-member', clinic3, 0)
  await waitForHeight([...validators, clinic3], added + 1, 120_000)
  // /v1/validators lists validator-set changes only (clients undo them to find the set at a height), and names the members.
  const vs = await (await fetch(`${validators[0].api}/v1/validators`)).json() as { changes: unknown[], validators: unknown[], members: Array<{ name: string }> }
  t.is(vs.changes.length, 0)
  t.is(vs.validators.length, 4)
  t.deepEqual(vs.members.map(m => m.name).sort(), ['clinic-1', 'clinic-2', 'clinic-3'])
  t.is((await statusOf(clinic3)).members, 3)
  const late = await waitFor('clinic-3 writes', async () => {
    const r = await clinic3.submit([sampleRecord(4)])
    return r.status === 200 ? r : undefined
  }, 120_000, 1000)
  t.true(late.body.height! >= added)
  // Final on clinic-3 when it answered; a validator may apply that block a moment later.
  const lateProof = await waitFor(`${validators[2].node.name} serves clinic-3's record`, async () => {
    const r = await fetch(`${validators[2].api}/v1/records/${late.body.ids![0]}`)
    return r.status === 200 ? await r.json() as Proof : undefined
  }, 120_000)
  t.is(lateProof.batch.author, await publicKeyOf(clinic3))
  // A member admitted by governance: its record's proof carries that change and checks from the genesis file.
  await verifyOffline(t, validators[2], late.body.ids![0], 1)

  // Governance removes clinic-2: from its effect height it is cut off, and what it writes never becomes final.
  const removed = await governance(validators, 'remove-member', clinic2, 1)
  await waitForHeight(validators, removed + 2, 120_000)
  await waitFor('clinic-2 holds no connection', async () => (await statusOf(clinic2)).peers === 0, 180_000)
  const head = (await statusOf(clinic2)).height
  t.true(head <= removed - 1, `the removed member's head ${head} stays below the effect height ${removed}`)
  const after = await clinic2.submit([sampleRecord(5)], false)
  // Refused at once when its own chain reached the removal; else accepted locally but never final.
  t.true(after.status === 403 || after.status === 200, JSON.stringify(after.body))
  const base = Math.max(...(await Promise.all(validators.map(async d => (await statusOf(d)).height))))
  await waitForHeight(validators, base + 3, 120_000)
  if (after.status === 200) {
    for (const d of validators) t.is((await fetch(`${d.api}/v1/records/${after.body.ids![0]}`)).status, 404, `${d.node.name} holds the removed member's record`)
  }
  const now = await (await fetch(`${validators[0].api}/v1/members`)).json() as { members: Array<{ name: string }> }
  t.deepEqual(now.members.map(m => m.name).sort(), ['clinic-1', 'clinic-3'])
  // The other members go on writing.
  t.is((await clinic1.submit([sampleRecord(6)])).status, 200)

  // A member cannot vote or propose. clinic-1's key, in a process of its own (its daemon stopped),
  // signs prevotes, precommits and proposals for the heights in progress: every validator refuses
  // each one and counts it against the member, and the chain goes on without it.
  await clinic1.stop()
  const insider = await HostileValidator.start(clinic1.node.home, join(dirname(clinic1.node.home), 'genesis.json'))
  t.teardown(async () => { await insider.stop() })
  const addrs = validators.map(v => `/ip4/127.0.0.1/tcp/${v.node.p2pPort}/p2p/${v.node.peerId}`)
  await waitFor('the member\'s key connected to every validator', async () => (await insider.connect(addrs)).length >= validators.length ? true : undefined, 60_000, 500)
  const offences = async (v: Daemon): Promise<number> => {
    const peers = await (await fetch(`${v.api}/v1/peers`)).json() as { penalised: Array<{ peerId: string, role: string, offences: number }> }
    return peers.penalised.find(p => p.peerId === clinic1.node.peerId)?.offences ?? 0
  }
  let round = 0
  let sent = 0
  await waitFor('every validator to refuse and count the member\'s votes and proposals', async () => {
    // The heights in progress and next (a message for a final height is ignored, not judged);
    // another round each time, so that no message is a copy of an earlier one.
    const head = Math.max(...(await Promise.all(validators.map(async v => (await statusOf(v)).height))))
    const tip = await insider.finalBlock(validators[0].node.peerId, head).catch(() => undefined)
    if (tip === undefined) return undefined
    round++
    for (const height of [head + 1, head + 2]) {
      for (const type of [VoteType.PREVOTE, VoteType.PRECOMMIT]) await insider.publishConsensus(encodeConsensusMessage({ kind: 'vote', vote: insider.vote(type, height, round, null) }))
    }
    await insider.publishProposal(insider.propose(insider.buildBlock(tip, round, []), round))
    sent += 5
    return (await Promise.all(validators.map(offences))).every(n => n >= 2) ? true : undefined
  }, 120_000, 1000)
  t.log(`the member's key sent ${sent} votes and proposals; offences counted by the validators: ${(await Promise.all(validators.map(offences))).join(', ')}`)
  const later = Math.max(...(await Promise.all(validators.map(async v => (await statusOf(v)).height))))
  await waitForHeight(validators, later + 2, 120_000)
  const memberKey = await publicKeyOf(clinic1)
  for (let h = later - 3; h <= later + 2; h++) {
    const b = await (await fetch(`${validators[0].api}/v1/blocks/${h}`)).json() as { header: { proposer: string } }
    t.not(b.header.proposer, memberKey, `block ${h} is proposed by a validator`)
  }
})
