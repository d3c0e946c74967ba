/**
 * Members end to end, as real daemons: 4 validators and 2 members in genesis, and a third member
 * node that governance admits later. Members write records that become final (with proofs served
 * by every node), never propose or sign a block; a member added by governance writes from its
 * effect height; a member removed by governance is cut off at its effect height and its records
 * never reach the chain.
 */
import test from 'ava'
import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join, dirname } from 'node:path'
import { promisify } from 'node:util'
import { BIN, type Daemon } from '../../src/devnet/daemon.ts'
import { sampleRecord, startDevnet, waitFor, waitForHeight } from '../helpers/devnet.ts'

const exec = promisify(execFile)
const cli = async (args: string[]): Promise<string> => (await exec(process.execPath, [BIN, ...args])).stdout

interface Proof { batch: { author: string }, block: { header: { proposer: string, height: number } }, certificate: { signatures: Array<{ validator: string }> } }

const publicKeyOf = async (d: Daemon): Promise<string> => JSON.parse(await readFile(join(d.node.home, 'node.key'), 'utf8')).publicKey as string
const statusOf = async (d: Daemon): Promise<{ height: number, peers: number, role: string, members: number }> => await (await fetch(`${d.api}/v1/status`)).json() as { height: number, peers: number, role: string, members: number }

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
  t.is((await (await fetch(`${validators[2].api}/v1/records/${late.body.ids![0]}`)).json() as Proof).batch.author, await publicKeyOf(clinic3))

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
})
