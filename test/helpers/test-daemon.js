// The node daemon with test-only switches, for the test harness alone: nothing in config.toml, a
// flag of `medledger start` or a MEDLEDGER_* variable reaches them (test/helpers/test-daemon.ts
// builds the command line). Like bin/medledger.js it runs the compiled src/ (bin/compile.js), so it
// starts as fast as the real daemon even on a loaded machine (through tsx it took over a minute
// there), and through tsx when that cannot be had or MEDLEDGER_TSX=1.
//
//   node test/helpers/test-daemon.js [--test-byzantine] [--test-storage-fault] [--test-unhandled-rejection] start --home <dir> [start flags]
//
// --test-byzantine: the validator signs a conflicting second vote and proposal for each one
//   (simulation scenario 4).
// --test-storage-fault: after SIGUSR2 every block commit fails as a failed disk write does
//   (test/e2e/storage-fault.test.ts).
// --test-unhandled-rejection: SIGUSR2 leaves a rejected promise unhandled (a bug anywhere).
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { compiledSrc, enableCodeCache } from '../../bin/compile.js'

// V8's code cache, as bin/medledger.js keeps it (this harness loads src/ file by file, not the bundle).
enableCodeCache()

const dir = process.env.MEDLEDGER_TSX === '1' ? undefined : compiledSrc()
if (dir === undefined) {
  const { register } = await import('tsx/esm/api')
  register()
}
/** A module of src/, from the same build the daemon runs (one StorageError class, one node). */
const load = async (rel) => await import(dir !== undefined ? pathToFileURL(join(dir, `${rel}.js`)).href : new URL(`../../src/${rel}.ts`, import.meta.url).href)

const { action } = await load('cli/output')
const { runDaemon } = await load('cli/commands/start')
const { StorageError, StorageErrorCode } = await load('storage/index')

/** Makes every commit after SIGUSR2 fail the way a failed LevelDB batch write surfaces from the store. */
function failCommitsOnSignal (store) {
  let armed = false
  process.on('SIGUSR2', () => { armed = true })
  const fault = (what) => new StorageError(StorageErrorCode.IO_ERROR, `writing ${what} to ${store.dir} failed: IO error: injected by the test harness. Check free disk space and the disk's health`, { dir: store.dir })
  const commit = store.commit.bind(store)
  const commitMany = store.commitMany.bind(store)
  store.commit = async (fb, encoded) => { if (armed) throw fault(`block ${fb.block.header.height}`); await commit(fb, encoded) }
  store.commitMany = async (run) => { if (armed) throw fault(`blocks from ${run[0]?.block.header.height}`); await commitMany(run) }
}

function parseStart (args) {
  const o = { home: '', set: [] }
  if (args[0] !== 'start') throw new Error(`test-daemon: expected "start", got ${args[0]}`)
  for (let i = 1; i < args.length; i += 2) {
    const [k, v] = [args[i], args[i + 1]]
    if (k === '--home') o.home = v
    else if (k === '--set') o.set.push(v)
    else if (k === '--log-level') o.logLevel = v
    else if (k === '--api-listen') o.apiListen = v
    else if (k === '--p2p-listen') o.p2pListen = v
    else if (k === '--exit-with-fd') o.exitWithFd = v
    else throw new Error(`test-daemon: unknown argument ${k}`)
  }
  return o
}

const args = process.argv.slice(2)
const hooks = {}
if (args.includes('--test-byzantine')) hooks.byzantine = true
if (args.includes('--test-storage-fault')) hooks.onStoreOpen = failCommitsOnSignal
if (args.includes('--test-unhandled-rejection')) {
  process.on('SIGUSR2', () => { void Promise.reject(new Error('a promise nobody awaited failed (injected by the test harness)')) })
}
await action(async () => { await runDaemon(parseStart(args.filter(a => !a.startsWith('--test-'))), hooks) })()
