/**
 * The key replacement runbook (docs/operations.md, "Replace a hospital's validator key"), end to
 * end with real daemons and the operator's CLI: hospital-a makes a new key; the validators add it
 * by governance; the new node starts from a snapshot of the old one restored after the addition;
 * the validators remove the old key; the old node is stopped; the chain goes on, signed by the new
 * key, and takes records written through the new node.
 */
import test from 'ava'
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { BIN, Daemon } from '../../src/devnet/daemon.ts'
import { freePort } from '../../src/devnet/ports.ts'
import { publicKeyOfPeerId } from '../../src/chain/genesis.ts'
import { toHex } from '../../src/encoding/bytes.ts'
import { Devnet, sampleRecord, waitFor } from '../../src/testkit/index.ts'

const exec = promisify(execFile)

async function cli (...args: string[]): Promise<string> {
  const r = await exec(process.execPath, [BIN, ...args], { timeout: 180_000 }).catch((e: { stdout: string, stderr: string }) => { throw new Error(`medledger ${args.join(' ')}: ${e.stdout}${e.stderr}`) })
  return r.stdout
}

test.serial('replace hospital-a\'s validator key: add the new key by governance, start it from a restored snapshot, remove the old key, stop the old node', async t => {
  const net = await Devnet.start({ validators: ['hospital-a', 'hospital-b', 'hospital-c', 'ministry'], observers: [], heartbeatMs: 500, relays: false })
  t.teardown(async () => { await net.stop() })
  await net.waitForHeight(2, { timeoutMs: 60_000 })
  const [a, b, c, m] = ['hospital-a', 'hospital-b', 'hospital-c', 'ministry'].map(n => net.node(n))

  // 1. hospital-a makes the new key and a home for it (init takes an unlisted validator key).
  const keyFile = join(net.dir, 'hospital-a-new.key')
  const { peerId: newPeerId } = JSON.parse(await cli('keys', 'generate', '--out', keyFile)) as { peerId: string }
  const newHome = join(net.dir, 'hospital-a-new')
  const [p2pPort, apiPort] = [await freePort(), await freePort()]
  const init = JSON.parse(await cli('init', '--home', newHome, '--genesis', net.genesisFile, '--key', keyFile, '--role', 'validator',
    '--p2p-listen', `/ip4/127.0.0.1/tcp/${p2pPort}`, '--api-listen', `127.0.0.1:${apiPort}`,
    ...[b, c, m].flatMap(n => ['--bootstrap', `/ip4/127.0.0.1/tcp/${n.p2pPort}/p2p/${n.peerId}`]))) as { note?: string }
  t.regex(init.note ?? '', /not a validator in the genesis file/)

  // 2. A quorum of the validators adds the new key (propose, approve x3, submit).
  const governance = async (action: 'add' | 'remove', name: string, peerId: string, approvers: string[], nonce: number): Promise<number> => {
    const file = join(net.dir, `${action}-${nonce}.json`)
    await cli('governance', 'propose', '--genesis', net.genesisFile, '--action', action, '--name', name, '--peer-id', peerId, '--nonce', String(nonce), '--out', file)
    for (const home of approvers) await cli('governance', 'approve', '--home', home, file)
    const out = JSON.parse(await cli('governance', 'submit', '--api', b.api, '--token-file', join(b.home, 'api.token'), file)) as { height: number }
    const change = (await b.validators()).changes.find(x => x.includedAt === out.height && x.action === action)
    t.truthy(change, `${action} ${name} recorded`)
    return change!.effective
  }
  const added = await governance('add', 'hospital-a-2', newPeerId, [a.home, b.home, c.home], 1)
  await net.waitForHeight(added, { timeoutMs: 60_000 })

  // 3. The new node starts from a snapshot of the old one taken after the addition, restored and verified.
  const snap = join(net.dir, 'snap')
  await cli('snapshot', '--home', a.home, '--out', snap)
  const restored = JSON.parse(await cli('restore', '--home', newHome, '--from', snap, '--json')) as { audit: { ok: boolean, height: number }, consensusState: string }
  t.true(restored.audit.ok && restored.audit.height >= added)
  t.is(restored.consensusState, 'none', 'the old key\'s double-sign guard does not come along')
  const newNode = new Daemon({ name: 'hospital-a-2', role: 'validator', home: newHome, peerId: newPeerId, p2pPort, apiPort, token: '' }, [], { lifeline: true })
  newNode.start()
  t.teardown(async () => { await newNode.stop('SIGKILL') })
  const newKeyHex = toHex(publicKeyOfPeerId(newPeerId))
  const signedBy = async (api: string, height: number): Promise<string[]> => ((await (await fetch(`${api}/v1/blocks/${height}`)).json()) as { certificate: { signatures: Array<{ validator: string }> } }).certificate.signatures.map(s => s.validator)
  await waitFor('the new key signing blocks', async () => {
    const s = await b.status()
    return s.height > added && (await signedBy(b.api, s.height)).includes(newKeyHex) ? true : undefined
  }, 120_000)

  // 4. The validators (the new key among them) remove the old key; then the old node stops.
  const removed = await governance('remove', 'hospital-a', a.peerId, [b.home, c.home, m.home, newHome], 2)
  await waitFor('the removal in force on the new node', async () => {
    const s = await (await fetch(`http://127.0.0.1:${apiPort}/v1/status`)).json() as { height: number }
    return s.height >= removed ? true : undefined
  }, 60_000)
  await a.stop()
  const set = await b.validators()
  t.deepEqual(set.validators.map(v => v.name).sort(), ['hospital-a-2', 'hospital-b', 'hospital-c', 'ministry'])
  t.is(set.quorum, 3)

  // 5. The chain goes on without the old node, signed by the new key, and takes records through the new node.
  const token = (await import('node:fs/promises')).readFile(join(newHome, 'api.token'), 'utf8')
  const res = await fetch(`http://127.0.0.1:${apiPort}/v1/records?wait=final`, { method: 'POST', headers: { authorization: `Bearer ${(await token).trim()}`, 'content-type': 'application/json' }, body: JSON.stringify({ records: [sampleRecord(7)] }) })
  t.is(res.status, 200, await res.clone().text())
  const { height } = await res.json() as { height: number }
  t.true(height > removed)
  // A certificate holds a quorum of precommits (3 of the 4), the first three to arrive: the new
  // key signs blocks after the removal, though not necessarily the record's own; the old key none.
  const oldKeyHex = toHex(publicKeyOfPeerId(a.peerId))
  let scanned = removed
  await waitFor('a block after the removal certified with the new key', async () => {
    const head = (await b.status()).height
    for (; scanned <= head; scanned++) {
      const signers = await signedBy(b.api, scanned)
      t.false(signers.includes(oldKeyHex), `block ${scanned}, after the removal, is certified with the old key`)
      if (signers.includes(newKeyHex)) return true
    }
    return undefined
  }, 60_000)
})
