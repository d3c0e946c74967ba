import test from 'ava'
import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { BIN } from '../../src/devnet/daemon.ts'
import { parseManifest, describeFault } from '../../src/testkit/manifest.ts'

const exec = promisify(execFile)

test('a manifest names nodes and a fault schedule; mistakes are refused with the fault and field named', t => {
  const m = parseManifest('validators = 4\nobservers = ["regulator"]\n[[fault]]\nat_height = 3\nkill = "hospital-b"\n[[fault]]\nafter_ms = 500\nheal = true\n')
  t.is(m.validators, 4)
  t.deepEqual(m.fault.map(describeFault), ['kill hospital-b (at height 3)', 'heal (500 ms after the previous step)'])
  t.throws(() => parseManifest('[[fault]]\nat_height = 3\n', 'net.toml'), { message: /net\.toml: fault 1 needs exactly one action/ })
  t.throws(() => parseManifest('[[fault]]\nat_height = 3\nafter_ms = 1\nkill = "a"\n', 'net.toml'), { message: /fault 1 needs exactly one trigger/ })
  t.throws(() => parseManifest('[[fault]]\nkill = "a"\n', 'net.toml'), { message: /fault 1 needs exactly one trigger/ })
  t.throws(() => parseManifest('[[fault]]\nat_height = 1\nexplode = "a"\n', 'net.toml'), { message: /net\.toml: fault\.0/ })
  t.throws(() => parseManifest('validators = "four"\n', 'net.toml'), { message: /net\.toml: validators/ })
  t.throws(() => parseManifest('validators = [', 'net.toml'), { message: /net\.toml: not valid TOML/ })
})

test.serial('medledger devnet --manifest runs the fault schedule on real daemons and --once exits 0 once they agree', async t => {
  t.timeout(6 * 60_000)
  const dir = await mkdtemp(join(tmpdir(), 'medledger-manifest-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const manifest = join(dir, 'net.toml')
  await writeFile(manifest, [
    'validators = 4', 'observers = 1', 'heartbeat_ms = 1000',
    '[[fault]]', 'at_height = 2', 'kill = "hospital-b"',
    '[[fault]]', 'after_ms = 2000', 'start = "hospital-b"',
    '[[fault]]', 'at_height = 4', 'partition = [["hospital-a", "hospital-b"], ["hospital-c", "ministry", "regulator"]]',
    '[[fault]]', 'after_ms = 3000', 'heal = true'
  ].join('\n') + '\n')
  const { stdout } = await exec(process.execPath, [BIN, 'devnet', '--manifest', manifest, '--dir', join(dir, 'net'), '--once'], { maxBuffer: 64 * 1024 * 1024, timeout: 5 * 60_000 })
  for (const step of ['kill hospital-b (at height 2)', 'start hospital-b (2000 ms after the previous step)', 'partition hospital-a+hospital-b | hospital-c+ministry+regulator (at height 4)', 'heal (3000 ms after the previous step)', 'fault schedule done']) {
    t.true(stdout.includes(step), `the run reports "${step}"`)
  }
  t.regex(stdout, /5\/5 up, \d+ s, all at the same height/)
})

test('medledger devnet refuses a bad count before starting anything', async t => {
  const err = await exec(process.execPath, [BIN, 'devnet', '--validators', 'many', '--once']).then(() => undefined, (e: { code: number, stderr: string }) => e)
  t.is(err?.code, 2)
  t.regex(err?.stderr ?? '', /--validators takes a whole number/)
})
