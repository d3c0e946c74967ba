/**
 * The node daemon with test-only switches, for the test harness alone: nothing in config.toml, a
 * flag of `medledger start` or a MEDLEDGER_* variable reaches them. Run it as
 *
 *   node --import tsx test/helpers/test-daemon.ts [--test-byzantine] [--test-storage-fault] start --home <dir> [start flags]
 *
 * (`testDaemonEntry()` gives those arguments to a Daemon).
 * --test-byzantine: the validator signs a conflicting second vote and proposal for each one
 *   (simulation scenario 4).
 * --test-storage-fault: after SIGUSR2 every block commit fails as a disk write error does
 *   (test/e2e/storage-fault.test.ts).
 * --test-unhandled-rejection: SIGUSR2 leaves a rejected promise unhandled (a bug anywhere).
 */
import '../../src/polyfill.ts'
import { fileURLToPath } from 'node:url'
import { action } from '../../src/cli/output.ts'
import { runDaemon, type StartFlags } from '../../src/cli/commands/start.ts'
import { StorageError, StorageErrorCode, type ChainStore } from '../../src/storage/index.ts'
import type { NodeTestHooks } from '../../src/node/node.ts'

export const TEST_DAEMON = fileURLToPath(import.meta.url)

/** Node arguments that run this script (through tsx), with the given switches. */
export type TestSwitch = '--test-byzantine' | '--test-storage-fault' | '--test-unhandled-rejection'

export function testDaemonEntry (switches: TestSwitch[]): string[] {
  return ['--import', 'tsx', TEST_DAEMON, ...switches]
}

/** Makes every commit after SIGUSR2 fail the way a failed LevelDB batch write does. */
function failCommitsOnSignal (store: ChainStore): void {
  let armed = false
  process.on('SIGUSR2', () => { armed = true })
  const fault = (what: string): StorageError => new StorageError(StorageErrorCode.IO_ERROR, `writing ${what} to ${store.dir} failed: IO error: injected by the test harness. Check free disk space and the disk's health`, { dir: store.dir })
  const commit = store.commit.bind(store)
  const commitMany = store.commitMany.bind(store)
  store.commit = async (fb, encoded) => { if (armed) throw fault(`block ${fb.block.header.height}`); await commit(fb, encoded) }
  store.commitMany = async (run) => { if (armed) throw fault(`blocks from ${run[0]?.block.header.height}`); await commitMany(run) }
}

function parseStart (args: string[]): StartFlags {
  const o: StartFlags = { home: '', set: [] }
  if (args[0] !== 'start') throw new Error(`test-daemon: expected "start", got ${args[0]}`)
  for (let i = 1; i < args.length; i += 2) {
    const [k, v] = [args[i], args[i + 1]]
    if (k === '--home') o.home = v
    else if (k === '--set') o.set.push(v)
    else if (k === '--log-level') o.logLevel = v
    else if (k === '--api-listen') o.apiListen = v
    else if (k === '--p2p-listen') o.p2pListen = v
    else throw new Error(`test-daemon: unknown argument ${k}`)
  }
  return o
}

if (process.argv[1] === TEST_DAEMON) {
  const args = process.argv.slice(2)
  const hooks: NodeTestHooks = {}
  if (args.includes('--test-byzantine')) hooks.byzantine = true
  if (args.includes('--test-storage-fault')) hooks.onStoreOpen = failCommitsOnSignal
  if (args.includes('--test-unhandled-rejection')) {
    process.on('SIGUSR2', () => { void Promise.reject(new Error('a promise nobody awaited failed (injected by the test harness)')) })
  }
  await action(async () => { await runDaemon(parseStart(args.filter(a => !a.startsWith('--test-'))), hooks) })()
}
