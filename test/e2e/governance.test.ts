import test from 'ava'
import { execFile } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { join, dirname } from 'node:path'
import { promisify } from 'node:util'
import { BIN } from '../../src/devnet/daemon.ts'
import { sampleRecord, startDevnet, waitFor, waitForHeight } from '../helpers/devnet.ts'

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
