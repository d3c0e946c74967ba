import test from 'ava'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { BIN } from '../../src/devnet/daemon.ts'
import { sampleRecord, startDevnet, waitFor, waitForHeight } from '../helpers/devnet.ts'

const exec = promisify(execFile)

test.serial('4 validators and 1 observer as daemons: records final everywhere with proofs; SIGTERM stops cleanly; restart resumes from disk', async t => {
  const daemons = await startDevnet(t, { validators: ['hospital-a', 'hospital-b', 'hospital-c', 'ministry'], observers: ['regulator'], heartbeatMs: 2000 })
  await waitForHeight(daemons, 1, 60_000)

  const submitted: string[] = []
  for (let i = 0; i < 4; i++) {
    const res = await daemons[i].submit([sampleRecord(i * 10), sampleRecord(i * 10 + 1)])
    t.is(res.status, 200, JSON.stringify(res.body))
    t.is(res.body.ids?.length, 2)
    submitted.push(...res.body.ids!)
  }
  const finalHeight = Math.max(...(await Promise.all(daemons.slice(0, 4).map(async d => (await d.status())!.height))))
  await waitForHeight(daemons, finalHeight)
  for (const d of daemons) {
    for (const id of submitted) {
      const res = await fetch(`${d.api}/v1/records/${id}/proof`)
      t.is(res.status, 200, `${d.node.name} serves ${id}`)
      const proof = await res.json() as { recordId: string, certificate: { signatures: unknown[] } }
      t.is(proof.recordId, id)
      t.true(proof.certificate.signatures.length >= 3)
    }
  }
  const statuses = await waitFor('equal heads', async () => {
    const s = await Promise.all(daemons.map(async d => await d.status()))
    return s.every(x => x?.headHash === s[0]?.headHash) ? s : undefined
  })
  t.true(statuses[0]!.height >= finalHeight)

  // SIGTERM: each daemon stops cleanly (exit 0) and a restart resumes from its database.
  const before = statuses[0]!.height
  const codes = await Promise.all(daemons.map(async d => await d.stop('SIGTERM')))
  t.deepEqual(codes, [0, 0, 0, 0, 0])
  for (const d of daemons) d.start()
  const after = await waitForHeight(daemons, before, 60_000)
  t.true(after.every(s => s.height >= before))
  const again = await daemons[4].submit([sampleRecord(999)])
  t.is(again.status, 403, 'an observer refuses to author records')
  const res = await daemons[1].submit([sampleRecord(999)])
  t.is(res.status, 200)
  await waitFor('record on the observer', async () => (await fetch(`${daemons[4].api}/v1/records/${res.body.ids![0]}`)).status === 200)

  // The regulator's offline verification passes on a stopped node's database.
  await daemons[4].stop('SIGTERM')
  const { stdout } = await exec(process.execPath, [BIN, 'verify', '--home', daemons[4].node.home, '--json'])
  const report = JSON.parse(stdout) as { ok: boolean, records: number }
  t.true(report.ok)
  t.true(report.records >= 9)
})
