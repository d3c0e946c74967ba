import test from 'ava'
import { execFile } from 'node:child_process'
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const exec = promisify(execFile)
const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const EXAMPLES = fileURLToPath(new URL('./examples/', import.meta.url))
const NPM = 'npm'

/** Runs a command in `cwd`; on failure the error carries its whole output. */
async function run (cwd: string, cmd: string, args: string[], timeoutMs: number): Promise<string> {
  try {
    const { stdout, stderr } = await exec(cmd, args, { cwd, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, NODE_OPTIONS: '' } })
    return stdout + stderr
  } catch (err) {
    const e = err as { code?: number, stdout?: string, stderr?: string, message: string }
    throw new Error(`${cmd} ${args.join(' ')} in ${cwd} failed (${e.code ?? e.message}):\n${e.stdout ?? ''}\n${e.stderr ?? ''}`)
  }
}

test('the examples are the same test for ava and node:test, and import only medledger/testkit', async t => {
  const files = (await readdir(EXAMPLES)).sort()
  t.deepEqual(files, ['ava.test.js', 'node-test.test.js'])
  const body = async (f: string): Promise<string> => (await readFile(join(EXAMPLES, f), 'utf8')).split('\n').filter(l => !/^\s*(\/\/|import |t\.timeout)/.test(l)).join('\n').replace(/t\.(is|true)\(|assert\.(equal|ok)\(|t\.throwsAsync|assert\.rejects|t\.teardown|t\.after/g, 'X')
  t.is(await body('ava.test.js'), await body('node-test.test.js'))
  for (const f of files) {
    const imports = [...(await readFile(join(EXAMPLES, f), 'utf8')).matchAll(/from '([^']+)'/g)].map(m => m[1])
    t.true(imports.includes('medledger/testkit') && imports.every(i => ['medledger/testkit', 'ava', 'node:test', 'node:assert/strict'].includes(i)), `${f} imports ${imports.join(', ')}`)
  }
})

test('bin/testkit.js (the published entry) exports everything src/testkit/index.ts does', async t => {
  const entry = await import(join(ROOT, 'bin', 'testkit.js')) as Record<string, unknown>
  const source = await import('../../src/testkit/index.ts') as Record<string, unknown>
  t.deepEqual(Object.keys(entry).sort(), Object.keys(source).sort())
})

// The "done when" of issue 18: a project outside the repository installs medledger from the tarball
// `npm pack` makes and runs an ava test and a node:test test through `medledger/testkit`.
test.serial('a project outside the repository installs the npm pack tarball and passes the ava and node:test examples', async t => {
  t.timeout(15 * 60_000)
  const dir = await mkdtemp(join(tmpdir(), 'medledger-consumer-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const packed = await run(ROOT, NPM, ['pack', '--silent', '--pack-destination', dir], 120_000)
  const tarball = join(dir, packed.trim().split('\n').pop()!)
  const project = join(dir, 'project')
  await mkdir(join(project, 'test'), { recursive: true })
  await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'hospital-app', private: true, type: 'module' }, null, 2))
  // --prefer-offline: the dependencies come from npm's cache when it has them (the registry otherwise).
  await run(project, NPM, ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball, 'ava@7'], 10 * 60_000)
  for (const f of ['ava.test.js', 'node-test.test.js']) await copyFile(join(EXAMPLES, f), join(project, 'test', f))

  const ava = await run(project, process.execPath, [join(project, 'node_modules', 'ava', 'entrypoints', 'cli.mjs'), 'test/ava.test.js'], 6 * 60_000)
  t.regex(ava, /1 test passed/, ava)
  const nodeTest = await run(project, process.execPath, ['--test', '--test-reporter=tap', 'test/node-test.test.js'], 6 * 60_000)
  t.regex(nodeTest, /# pass 1\b/, nodeTest)
  t.regex(nodeTest, /# fail 0\b/, nodeTest)
})
