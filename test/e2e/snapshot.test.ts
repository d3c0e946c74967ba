/**
 * Backups of a running node (issue 17): `medledger snapshot` copies a daemon's database while
 * records keep arriving, consistent as of one moment; `medledger restore` re-verifies the copy from
 * genesis before it replaces a stopped node's database, refuses a tampered copy and changes nothing
 * then; the restored node starts and catches up. Real daemons, real LevelDB, the real CLI.
 */
import test from 'ava'
import { execFile } from 'node:child_process'
import { cp, readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { Level } from 'level'
import { BIN } from '../../src/devnet/daemon.ts'
import { heightKey } from '../../src/encoding/bytes.ts'
import type { SnapshotManifest } from '../../src/backup/manifest.ts'
import { sampleRecord, startDevnet, waitFor, waitForHeight } from '../helpers/devnet.ts'

const exec = promisify(execFile)

async function cli (...args: string[]): Promise<{ code: number, out: string }> {
  return await exec(process.execPath, [BIN, ...args], { timeout: 180_000, maxBuffer: 16 << 20 }).then(
    r => ({ code: 0, out: r.stdout + r.stderr }),
    (e: { code: number, stdout: string, stderr: string }) => ({ code: e.code, out: e.stdout + e.stderr }))
}

test.serial('snapshot of a validator under load is consistent; restore verifies it from genesis, refuses a tampered copy, and the restored node catches up', async t => {
  const [solo, regulator] = await startDevnet(t, { validators: ['solo'], observers: ['regulator'], heartbeatMs: 500 })
  await waitForHeight([solo, regulator], 2, 60_000)
  const dir = join(solo.node.home, '..')

  // Load: batches of 20 records, back to back, from two clients, until told to stop.
  let loading = true
  let submitted = 0
  const client = async (c: number): Promise<void> => {
    for (let i = 0; loading; i++) {
      const res = await solo.submit(Array.from({ length: 20 }, (_, j) => sampleRecord(c * 1_000_000 + i * 20 + j)), false).catch(() => undefined)
      if (res?.status === 202) submitted += 20
    }
  }
  const load = Promise.all([client(1), client(2)])
  t.teardown(() => { loading = false })
  await waitFor('records arriving', async () => submitted >= 500 ? true : undefined, 60_000)

  const snap = join(dir, 'snap')
  const taken = await cli('snapshot', '--dir', solo.node.home, '--out', snap, '--json')
  const atSnapshot = (await solo.status())!.height
  t.is(taken.code, 0, taken.out)
  const manifest = JSON.parse(taken.out) as SnapshotManifest
  t.true(manifest.height >= 2 && manifest.height <= atSnapshot, `snapshot at ${manifest.height}, node at ${atSnapshot}`)
  t.true(manifest.records > 0)
  t.deepEqual((await readdir(snap)).sort(), ['data', 'genesis.json', 'snapshot.json'])
  t.deepEqual(JSON.parse(await readFile(join(snap, 'snapshot.json'), 'utf8')), manifest)
  await waitFor('more blocks after the snapshot', async () => ((await solo.status())?.height ?? 0) > manifest.height + 2 ? true : undefined, 60_000)
  loading = false
  await load
  t.log(`snapshot at height ${manifest.height}: ${manifest.records} records, ${manifest.entries} entries, ${manifest.bytes} bytes; ${submitted} records submitted meanwhile`)

  // A tampered copy (one byte of block 2 changed) is refused, and the home keeps its database.
  t.is(await regulator.stop('SIGTERM'), 0)
  const headOf = async (): Promise<unknown> => { const r = JSON.parse((await cli('verify', '--home', regulator.node.home, '--json')).out) as { ok: boolean, height: number, records: number }; return { ok: r.ok, height: r.height, records: r.records } }
  const before = await headOf()
  const bad = join(dir, 'snap-tampered')
  await cp(snap, bad, { recursive: true })
  const db = new Level<Uint8Array, Uint8Array>(join(bad, 'data'), { keyEncoding: 'view', valueEncoding: 'view' })
  const blocks = db.sublevel<Uint8Array, Uint8Array>('b', { keyEncoding: 'view', valueEncoding: 'view' })
  const block2 = (await blocks.get(heightKey(2)))!
  block2[block2.length - 1] ^= 1
  await blocks.put(heightKey(2), block2)
  await db.close()
  const refused = await cli('restore', '--home', regulator.node.home, '--from', bad)
  t.not(refused.code, 0)
  t.regex(refused.out, /RESTORE_VERIFY_FAILED: the snapshot in .* does not verify, at height \d+: [^]*Nothing was restored/)
  t.deepEqual((await readdir(regulator.node.home)).filter(f => f.startsWith('data')), ['data'], 'no staging copy left, nothing moved aside')
  t.deepEqual(await headOf(), before, 'the home\'s database is as it was')

  // The real copy restores: verified from genesis, the regulator's own (empty) consensus state kept.
  const restored = await cli('restore', '--home', regulator.node.home, '--from', snap, '--json')
  t.is(restored.code, 0, restored.out)
  const report = JSON.parse(restored.out) as { audit: { ok: boolean, height: number, records: number }, previous: string, consensusState: string }
  t.like(report.audit, { ok: true, height: manifest.height, records: manifest.records })
  t.is(report.consensusState, 'home')
  t.true(report.previous.startsWith(join(regulator.node.home, 'data.before-restore-')))
  // The snapshot itself was copied, never opened in place: it restores again, byte for byte the same.
  const verified = await cli('verify', '--home', regulator.node.home, '--json')
  t.like(JSON.parse(verified.out), { ok: true, height: manifest.height, records: manifest.records })

  // Restarted, the regulator catches up from the snapshot's height to the validator's head, on the same chain.
  regulator.start()
  const head = (await solo.status())!
  const [s, r] = await waitForHeight([solo, regulator], head.height, 120_000)
  t.true(r.height >= head.height)
  const hashAt = async (api: string, h: number): Promise<string> => ((await (await fetch(`${api}/v1/blocks/${h}`)).json()) as { hash: string }).hash
  t.is(await hashAt(regulator.api, head.height), await hashAt(solo.api, head.height))
  t.true(s.height >= head.height)
})
