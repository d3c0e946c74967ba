import test from 'ava'
import { NodeKey } from '../../../src/crypto/ed25519.ts'
import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { Worker } from 'node:worker_threads'
import { type SignatureCheck, VerifyPool, workerExecArgv } from '../../../src/crypto/verify-pool.ts'

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

/** n checks by 3 signers in runs, every 7th forged, every 11th malformed, messages of varied length. */
async function checks (n: number): Promise<{ checks: SignatureCheck[], expected: boolean[] }> {
  const keys = await Promise.all([1, 2, 3].map(async () => await NodeKey.generate()))
  const out: SignatureCheck[] = []
  const expected: boolean[] = []
  for (let i = 0; i < n; i++) {
    const k = keys[Math.floor(i / 5) % 3]
    const message = new Uint8Array(i % 50).map((_, j) => (i + j) & 0xff)
    let signature = k.sign(message)
    let publicKey = k.publicKey
    let ok = true
    if (i % 7 === 3) { signature = Uint8Array.from(signature); signature[0] ^= 1; ok = false }
    if (i % 11 === 5) { publicKey = publicKey.subarray(0, 31); ok = false }
    if (i % 13 === 6) { signature = signature.subarray(0, 63); ok = false }
    out.push({ publicKey, message, signature })
    expected.push(ok)
  }
  return { checks: out, expected }
}

test('verifies in workers, in order, across many chunks', async (t) => {
  const pool = new VerifyPool({ threads: 2, maxChunk: 97 })
  try {
    const { checks: c, expected } = await checks(2000)
    t.deepEqual(await pool.verifyAll(c), expected)
    t.is(pool.running, 2)
    t.false(pool.inlineOnly)
    t.false(await pool.verifyEvery(c))
    t.true(await pool.verifyEvery(c.filter((_, i) => expected[i])))
  } finally {
    await pool.close()
  }
})

test('small jobs run inline and start no worker', async (t) => {
  const pool = new VerifyPool({ threads: 2 })
  const { checks: c, expected } = await checks(15)
  t.deepEqual(await pool.verifyAll(c), expected)
  t.is(pool.running, 0)
  await pool.close()
})

test('idle workers stop and start again on the next job; close stops them', async (t) => {
  const pool = new VerifyPool({ threads: 2, idleMs: 100 })
  const { checks: c, expected } = await checks(300)
  t.deepEqual(await pool.verifyAll(c), expected)
  t.is(pool.running, 2)
  await sleep(400)
  t.is(pool.running, 0)
  t.deepEqual(await pool.verifyAll(c), expected)
  t.is(pool.running, 2)
  await pool.close()
  t.is(pool.running, 0)
  t.false(pool.inlineOnly)
  t.deepEqual(await pool.verifyAll(c), expected, 'usable after close')
  await pool.close()
})

test('a worker that dies mid-job: its checks are verified inline, and later jobs go on', async (t) => {
  const pool = new VerifyPool({ threads: 2, maxChunk: 50 })
  try {
    const { checks: c, expected } = await checks(3000)
    const job = pool.verifyAll(c)
    // Kill one worker while its chunks wait in its queue.
    await (pool as unknown as { workers: Array<{ terminate: () => Promise<number> }> }).workers[0].terminate()
    t.deepEqual(await job, expected)
    t.deepEqual(await pool.verifyAll(c), expected)
    t.false(pool.inlineOnly)
  } finally {
    await pool.close()
  }
})

test('workers start in a process run with a heap limit: V8 and per-process options stay the parent\'s', async (t) => {
  const parent = ['--max-old-space-size=300', '--max-semi-space-size', '8', '--heap-growing-percent=50', '--import', 'tsx', '--import=tsx', '--stack-size=900', '--expose-gc', '--cpu-prof', '--cpu-prof-dir=/tmp/x', '--enable-source-maps']
  const argv = workerExecArgv(parent)
  t.deepEqual(argv, ['--cpu-prof', '--cpu-prof-dir=/tmp/x', '--enable-source-maps'])
  // Node takes what is left (it throws ERR_WORKER_INVALID_EXEC_ARGV on the rest).
  t.throws(() => new Worker('', { eval: true, execArgv: ['--max-old-space-size=300'] }), { code: 'ERR_WORKER_INVALID_EXEC_ARGV' })
  const w = new Worker('', { eval: true, execArgv: argv.filter(a => !a.startsWith('--cpu-prof')) })
  await new Promise(resolve => w.on('exit', resolve))
  t.pass()
})

test('a daemon started with --max-old-space-size verifies in its workers', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'medledger-pool-'))
  try {
    const script = join(dir, 'pool.mts')
    await writeFile(script, [
      `import { VerifyPool } from ${JSON.stringify(new URL('../../../src/crypto/verify-pool.ts', import.meta.url).href)}`,
      'const pool = new VerifyPool({ threads: 1, inlineBelow: 1 })',
      'await pool.verifyAll([{ publicKey: new Uint8Array(32), message: new Uint8Array(1), signature: new Uint8Array(64) }])',
      'process.stdout.write(String(pool.running))',
      'await pool.close()'
    ].join('\n'))
    const { stdout } = await promisify(execFile)(process.execPath, ['--max-old-space-size=256', '--import=tsx', script])
    t.is(stdout, '1')
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})
