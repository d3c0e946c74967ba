import test from 'ava'
import { spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { BIN } from '../../src/devnet/daemon.ts'
import { startDevnet, waitFor } from '../helpers/devnet.ts'

/*
 * The hard heap limit (docs/benchmarks.md, "Memory budget"): a daemon the project launches runs
 * with V8's old generation limited to 2 x node.memory_budget_mb + 128 MB, set by `medledger start`
 * from its config, or its launcher does (src/devnet/daemon.ts). Without it
 * V8 sizes the heap from the machine's memory (about 4 GB here).
 */
test.serial('a daemon runs with the heap limit of its memory budget, and so does one started by hand', async t => {
  // The init template's budget: 128 MiB. The testkit's daemons hold a lifeline pipe, so their
  // launcher gives the flag (src/devnet/daemon.ts).
  const [d] = await startDevnet(t, { validators: ['solo'], observers: [] })
  const started = await waitFor('the start log line', async () => {
    const log = await readFile(join(d.node.home, 'node.log'), 'utf8').catch(() => '')
    const line = log.split('\n').find(l => l.includes('medledger node started'))
    return line === undefined ? undefined : JSON.parse(line) as { heapLimitMB: number }
  }, 60_000)
  // heap_size_limit is the old generation's limit plus the young generation's.
  t.true(started.heapLimitMB >= 384 && started.heapLimitMB < 384 + 256, `heap limit ${started.heapLimitMB} MB for a 128 MiB budget`)
  t.true(d.running)
  // Started by hand (as systemd does): `medledger start` replaces itself with node run with the flag.
  await d.stop()
  const proc = spawn(process.execPath, [BIN, 'start', '--home', d.node.home], { stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => { proc.kill('SIGKILL') })
  let out = ''
  proc.stdout.on('data', (c: Buffer) => { out += c.toString('utf8') })
  const byHand = await waitFor('the start log line of a node started by hand', async () => {
    const line = out.split('\n').find(l => l.includes('medledger node started'))
    return line === undefined ? undefined : JSON.parse(line) as { heapLimitMB: number }
  }, 60_000)
  t.is(byHand.heapLimitMB, started.heapLimitMB)
  t.is(proc.exitCode, null, 'the process its launcher holds is the node')
  proc.kill('SIGTERM')
})
