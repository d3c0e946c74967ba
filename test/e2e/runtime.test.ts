import test from 'ava'
import { execFile } from 'node:child_process'
import { access } from 'node:fs/promises'
import { promisify } from 'node:util'
import { BIN } from '../../src/devnet/daemon.ts'

const exec = promisify(execFile)
const major = (version: string): number => Number(version.replace(/^v/, '').split('.')[0])

/*
 * The runtime: Node 24 LTS, installed as the `node` dev dependency, which npm scripts put first on
 * the PATH. The devnet and the tests start daemons with process.execPath, so they run it too.
 */

test('npm test runs on Node 24 or later, and the medledger command runs under the same binary', async t => {
  t.true(major(process.version) >= 24, `the tests run on ${process.version} (${process.execPath}); npm scripts put node_modules/.bin/node (Node 24) first`)
  const { stdout } = await exec(process.execPath, [BIN, '--help'])
  t.regex(stdout, /Usage: medledger/)
})

test('the medledger command on a Node older than 24 says which Node it needs and how to run the one the project installs', async t => {
  // The system's Node where it is older (Debian's is 20 on these machines); nothing to check otherwise.
  const old = process.env.OLD_NODE ?? '/usr/bin/node'
  const version = await access(old).then(async () => (await exec(old, ['--version'])).stdout.trim(), () => undefined)
  if (version === undefined || major(version) >= 24) {
    t.log(`skipped: no Node older than 24 at ${old}${version === undefined ? '' : ` (it is ${version})`}`)
    t.pass()
    return
  }
  const r = await exec(old, [BIN, '--help']).then(() => ({ code: 0, stderr: '' }), (e: { code: number, stderr: string }) => e)
  t.is(r.code, 1)
  t.regex(r.stderr, new RegExp(`needs Node\\.js 24 or later, this is ${version.replace(/\./g, '\\.')}`))
  t.regex(r.stderr, /npx medledger/)
})
