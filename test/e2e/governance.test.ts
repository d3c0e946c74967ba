import test from 'ava'
import { execFile } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { join, dirname } from 'node:path'
import { promisify } from 'node:util'
import { BIN } from '../../src/devnet/daemon.ts'
import { readKeyFile } from '../../src/keys/key-file.ts'
import { protocols } from '../../src/network/index.ts'
import { encodeStatus } from '../../src/network/reqresp/status.ts'
import { sampleRecord, startDevnet, waitFor, waitForHeight } from '../helpers/devnet.ts'
import { probe, startHostilePeer } from '../helpers/hostile-peer.ts'

const exec = promisify(execFile)
const cli = async (args: string[]): Promise<string> => (await exec(process.execPath, [BIN, ...args])).stdout

test.serial('a quorum adds a validator by governance: it takes effect at a fixed later height, the new validator votes, and verify follows the change', async t => {
  const daemons = await startDevnet(t, { validators: ['hospital-a', 'hospital-b', 'hospital-c', 'ministry'], observers: ['hospital-d'], heartbeatMs: 1000 }, async (layout) => {
    // hospital-d runs as a validator that genesis lists only as an admitted observer.
    const file = join(layout.nodes[4].home, 'config.toml')
    await writeFile(file, (await readFile(file, 'utf8')).replace('role = "observer"', 'role = "validator"'))
  })
  const [a, b, c, ministry, newcomer] = daemons
  await waitForHeight(daemons, 1, 60_000)
  const dir = dirname(a.node.home)
  const change = join(dir, 'add-hospital-d.json')
  await cli(['governance', 'propose', '--genesis', join(dir, 'genesis.json'), '--action', 'add', '--name', 'hospital-d', '--peer-id', newcomer.node.peerId, '--out', change])
  // Two approvals are not a quorum of four: refused at the door with a clear error.
  for (const d of [a, b]) await cli(['governance', 'approve', '--home', d.node.home, change])
  const early = await exec(process.execPath, [BIN, 'governance', 'submit', '--api', a.api, '--token-file', join(a.node.home, 'api.token'), change]).then(() => 0, (e: { code: number, stderr: string }) => { t.regex(e.stderr, /quorum/); return e.code })
  t.not(early, 0)
  await cli(['governance', 'approve', '--home', c.node.home, change])
  const submitted = JSON.parse(await cli(['governance', 'submit', '--api', a.api, '--token-file', join(a.node.home, 'api.token'), change])) as { height: number }
  const v = await (await fetch(`${a.api}/v1/validators`)).json() as { changes: Array<{ includedAt: number, effective: number, name: string }> }
  t.is(v.changes.length, 1)
  t.is(v.changes[0].includedAt, submitted.height)
  t.is(v.changes[0].effective, submitted.height + 2, 'effective governanceDelay (2) blocks after inclusion')

  await waitForHeight(daemons, v.changes[0].effective + 1, 60_000)
  const now = await (await fetch(`${newcomer.api}/v1/validators`)).json() as { validators: unknown[], quorum: number }
  t.is(now.validators.length, 5)
  t.is(now.quorum, 4)

  // With ministry stopped, 4 of 5 remain: finality now needs the newcomer's votes.
  await ministry.stop('SIGKILL')
  const res = await b.submit([sampleRecord(7)])
  t.is(res.status, 200, JSON.stringify(res.body))
  const block = await (await fetch(`${b.api}/v1/blocks/${res.body.height!}`)).json() as { certificate: { signatures: Array<{ validator: string }> }, header: { validatorSetHash: string } }
  const newcomerKey = JSON.parse(await readFile(join(newcomer.node.home, 'node.key'), 'utf8')).publicKey as string
  t.true(block.certificate.signatures.some(s => s.validator === newcomerKey), 'the new validator signed the certificate')

  // An auditor's offline verification follows the change from genesis.
  await waitFor('newcomer has the block', async () => ((await newcomer.status())?.height ?? 0) >= res.body.height!)
  await newcomer.stop('SIGTERM')
  const report = JSON.parse(await cli(['verify', '--home', newcomer.node.home, '--json'])) as { ok: boolean, height: number }
  t.true(report.ok)
  t.true(report.height >= res.body.height!)
})

test.serial('a validator removed by governance is cut off on every node when the removal takes effect: no connection, redials refused, no block or batch made after it', async t => {
  // Four daemons, a governance round and three waits for new blocks: minutes on a loaded machine.
  t.timeout(6 * 60_000)
  const daemons = await startDevnet(t, { validators: ['hospital-a', 'hospital-b', 'hospital-c', 'ministry'], observers: [], heartbeatMs: 1000 })
  const [a, removed, c, ministry] = daemons
  const honest = [a, c, ministry]
  await waitForHeight(daemons, 1, 60_000)
  const dir = dirname(a.node.home)
  const change = join(dir, 'remove-hospital-b.json')
  await cli(['governance', 'propose', '--genesis', join(dir, 'genesis.json'), '--action', 'remove', '--name', 'hospital-b', '--peer-id', removed.node.peerId, '--out', change])
  for (const d of honest) await cli(['governance', 'approve', '--home', d.node.home, change])
  const submitted = JSON.parse(await cli(['governance', 'submit', '--api', a.api, '--token-file', join(a.node.home, 'api.token'), change])) as { height: number }
  const v = await (await fetch(`${a.api}/v1/validators`)).json() as { changes: Array<{ includedAt: number, effective: number }> }
  const effect = v.changes[0].effective
  t.is(effect, submitted.height + 2)

  // The three left finalize on; the removed one heard nothing of height `effect` or later.
  await waitForHeight(honest, effect + 3, 60_000)
  const lastSeen = async (): Promise<{ height: number, peers: number, mempool: number }> => {
    const s = await (await fetch(`${removed.api}/v1/status`)).json() as { height: number, peers: number, mempool: { batches: number } }
    return { height: s.height, peers: s.peers, mempool: s.mempool.batches }
  }
  t.true((await lastSeen()).height <= effect - 1, `removed node's head ${(await lastSeen()).height} must stay below the effect height ${effect}`)
  await waitFor('the removed node holds no connection', async () => (await lastSeen()).peers === 0, 60_000)
  for (const d of honest) await waitFor(`${d.node.name} keeps the other two members`, async () => (await d.status())?.peers === 2, 30_000)

  // A record written after the removal reaches neither the removed node's chain nor its mempool
  // (which may still hold the governance batch, if it never got the block carrying it).
  const before = await lastSeen()
  const res = await a.submit([sampleRecord(11)])
  t.is(res.status, 200, JSON.stringify(res.body))
  t.true(res.body.height! >= effect)
  await waitForHeight(honest, res.body.height! + 2, 60_000)
  const after = await lastSeen()
  t.true(after.height <= effect - 1, `removed node's head ${after.height} must stay below ${effect}`)
  t.true(after.mempool <= before.mempool, 'no batch made after the removal reached it')
  t.is((await fetch(`${removed.api}/v1/records/${res.body.ids![0]}`)).status, 404)

  // Its redials are refused: with its key, no honest node answers a request or keeps a connection.
  await removed.stop('SIGKILL')
  const key = await readKeyFile(join(removed.node.home, 'node.key'))
  const peer = await startHostilePeer(key)
  t.teardown(async () => { await peer.stop() })
  const status = encodeStatus({ chainId: 'medledger-devnet', genesisHash: new Uint8Array(32), height: effect - 1, headHash: new Uint8Array(32) })
  for (const d of honest) {
    const out = await probe(peer, `/ip4/127.0.0.1/tcp/${d.node.p2pPort}/p2p/${d.node.peerId}`, protocols('medledger-devnet').status, status)
    t.not(out.answered, true, `${d.node.name} answered the removed validator: ${JSON.stringify(out)}`)
    t.false(out.connected, `${d.node.name} kept a connection to the removed validator`)
  }
  await peer.stop()

  // Restarted, it either refuses to run (its own chain already says it is no validator) or runs
  // and still gets nothing, while the others go on.
  removed.start()
  const outcome = await waitFor('removed node up or gone', async () => !removed.running ? 'exited' : (await removed.status()) !== undefined ? 'up' : undefined, 60_000)
  const base = Math.max(...(await Promise.all(honest.map(async d => (await d.status())!.height))))
  await waitForHeight(honest, base + 3, 60_000)
  if (outcome === 'exited') {
    t.regex(await readFile(join(removed.node.home, 'node.log'), 'utf8'), /neither a validator nor a listed observer/)
  } else {
    const restarted = await lastSeen()
    t.true(restarted.height <= effect - 1, `restarted removed node's head ${restarted.height} must stay below ${effect}`)
    t.is(restarted.peers, 0)
  }
})
