import test from 'ava'
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { waitFor } from '../../src/testkit/index.ts'

const CHILD = fileURLToPath(new URL('./fixtures/devnet-child.ts', import.meta.url))
const ROOT = fileURLToPath(new URL('../../', import.meta.url))

/** True while `pid` is a live medledger daemon (a reused pid running something else does not count). */
function isDaemon (pid: number): boolean {
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8')
    const state = /^State:\s+(\S)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]
    return cmd.includes('medledger') && cmd.includes('start') && state !== 'Z'
  } catch {
    return false
  }
}

async function startChild (env: Record<string, string> = {}): Promise<{ child: ReturnType<typeof spawn>, pids: number[], dir: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } })
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve)
    child.once('exit', code => { reject(new Error(`the child exited (${code}) before starting its devnet`)) })
  })
  const { pids, dir } = JSON.parse(line) as { pids: number[], dir: string }
  return { child, pids, dir }
}

test('daemons started through the testkit exit when the test process is killed with SIGKILL', async t => {
  t.timeout(4 * 60_000)
  const { child, pids, dir } = await startChild()
  t.teardown(async () => {
    for (const pid of pids) if (isDaemon(pid)) process.kill(pid, 'SIGKILL')
    await rm(dir, { recursive: true, force: true })
  })
  t.is(pids.length, 3)
  t.true(pids.every(isDaemon), 'the daemons run while the test process lives')
  child.kill('SIGKILL')
  await new Promise(resolve => child.once('exit', resolve))
  // Each daemon reads end of file on its lifeline and ends itself at once.
  await waitFor('every daemon of the killed test process to exit', async () => pids.every(pid => !isDaemon(pid)), {
    timeoutMs: 60_000,
    describe: () => `still running: ${pids.filter(isDaemon).join(', ')}`
  })
  t.pass()
})

test('without the lifeline the daemons outlive a SIGKILLed test process (what the lifeline prevents)', async t => {
  t.timeout(4 * 60_000)
  const { child, pids, dir } = await startChild({ MEDLEDGER_TESTKIT_LIFELINE: '0' })
  t.teardown(async () => {
    for (const pid of pids) if (isDaemon(pid)) process.kill(pid, 'SIGKILL')
    await rm(dir, { recursive: true, force: true })
  })
  child.kill('SIGKILL')
  await new Promise(resolve => child.once('exit', resolve))
  await new Promise(resolve => setTimeout(resolve, 3000))
  t.true(pids.every(isDaemon), 'orphans: still running 3 s after their parent died')
})

test('start --exit-with-fd takes only an inherited descriptor number >= 3', async t => {
  const { BIN } = await import('../../src/devnet/daemon.ts')
  for (const bad of ['1', 'x3', '-4']) {
    const out = await new Promise<{ code: number | null, stderr: string }>(resolve => {
      const p = spawn(process.execPath, [BIN, 'start', '--home', '/nonexistent', '--exit-with-fd', bad], { stdio: ['ignore', 'ignore', 'pipe'] })
      let stderr = ''
      p.stderr.on('data', (c: Buffer) => { stderr += c.toString() })
      p.once('close', code => { resolve({ code, stderr }) })
    })
    t.is(out.code, 2, bad)
    t.regex(out.stderr, /USAGE: --exit-with-fd takes an inherited file descriptor number >= 3/)
  }
})
