/**
 * Fail-stop on storage faults (issue 13, item 5). A node whose chain cannot be written stops
 * cleanly: consensus halts at once and signs nothing more, /readyz answers 503 while the process
 * winds down, and the daemon exits with code 3 and one clear line naming what failed and what to do.
 * On 30150e2 the failed commit was only logged: the node stayed "ready" and its rounds went on.
 */
import test, { type ExecutionContext } from 'ava'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createDevnet, type DevnetNode } from '../../src/devnet/setup.ts'
import { Daemon } from '../../src/devnet/daemon.ts'
import { loadConfig, resolvePath } from '../../src/config/load.ts'
import { Genesis } from '../../src/chain/genesis.ts'
import { readKeyFile } from '../../src/keys/key-file.ts'
import { MedledgerNode } from '../../src/node/node.ts'
import { ApiTokens } from '../../src/api/tokens.ts'
import { createApi } from '../../src/api/server.ts'
import { ChainStore, StorageError, StorageErrorCode, isStorageFault } from '../../src/storage/index.ts'
import { silentLogger } from '../../src/logger.ts'
import { toHex } from '../../src/encoding/bytes.ts'
import { EXIT } from '../../src/cli/output.ts'
import { FAST_CONSENSUS, sampleRecord, waitFor } from '../helpers/devnet.ts'
import { testDaemonEntry, type TestSwitch } from '../helpers/test-daemon.ts'

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

/** How a test breaks the disk under a running node; returns what heals it. */
type BreakDisk = (node: MedledgerNode) => Promise<() => void>

/**
 * Runs a one-validator node in this process with its API, makes a record final, breaks the disk,
 * submits another and checks fail-stop: event 'fatal' with a storage fault whose message matches
 * `message`, /readyz 503, no signature after the fault, the head unchanged, the database whole.
 */
async function failStopInProcess (t: ExecutionContext, breakDisk: BreakDisk, message: RegExp): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'medledger-fault-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const layout = await createDevnet({ dir, validators: ['hospital-a'], observers: [], heartbeatMs: 1000, consensus: FAST_CONSENSUS })
  const home = layout.nodes[0].home
  const config = await loadConfig(home)
  const genesis = await Genesis.load(resolvePath(home, config.genesis))
  const key = await readKeyFile(resolvePath(home, config.key))
  // Every signature the node makes, counted (consensus and batches alike).
  let signatures = 0
  const sign = key.sign.bind(key)
  key.sign = (m: Uint8Array): Uint8Array => { signatures++; return sign(m) }
  const node = new MedledgerNode({ config, home, genesis, key, logger: silentLogger })
  const fatal = new Promise<Error>(resolve => node.once('fatal', resolve))
  await node.start()
  const api = await createApi(node, { host: '127.0.0.1', port: 0, tokens: new ApiTokens({ submit: 'test-token' }), requireReadToken: false, maxBodyBytes: 1 << 20 })
  const addr = api.server.address() as { port: number }
  const url = `http://127.0.0.1:${addr.port}`
  t.teardown(async () => {
    await api.close().catch(() => {})
    await node.stop().catch(() => {})
  })

  const first = await node.submitRecords([{ type: 'consultation', subject: new Uint8Array(32).fill(1), contentType: 'application/octet-stream', payload: new Uint8Array([1]), timestamp: Date.now() }])
  const h1 = await node.waitFinal(first.ids, 60_000)
  t.is((await fetch(`${url}/readyz`)).status, 200, 'ready while the chain is written')

  const heal = await breakDisk(node)
  t.teardown(heal)
  await node.submitRecords([{ type: 'consultation', subject: new Uint8Array(32).fill(2), contentType: 'application/octet-stream', payload: new Uint8Array([2]), timestamp: Date.now() }])
  const err = await Promise.race([fatal, sleep(60_000).then(() => undefined)])
  t.truthy(err, 'the node reports the storage fault (event "fatal")')
  t.true(isStorageFault(err), `a storage fault: ${String(err)}`)
  t.regex(err!.message, message, 'the message names what failed and what to do')
  t.is(node.fault, err)
  t.is(node.consensus.fault, err, 'consensus halted')

  const signedAtFault = signatures
  const ready = await fetch(`${url}/readyz`)
  t.is(ready.status, 503, '/readyz: not ready once the node cannot commit')
  t.regex((await ready.json() as { fault: string }).fault, /IO error/)
  // With 1 s timeouts a running round would have moved on (and signed) several times by now.
  await sleep(5000)
  t.is(signatures, signedAtFault, 'nothing is signed after the fault')
  t.is(node.store.head?.height, h1, 'the head stays at the last block written')
  t.is((await fetch(`${url}/readyz`)).status, 503)

  // Nothing half written: the database reopens at the head it had.
  heal()
  await api.close()
  await node.stop()
  const store = await ChainStore.open(resolvePath(home, config.data_dir))
  t.is(store.head?.height, h1)
  await store.close()
}

test.serial('in process: a failed block commit halts consensus, emits fatal, /readyz is 503 and nothing is signed after', async t => {
  await failStopInProcess(t, async (node) => {
    // Only the block commit fails, as a failed LevelDB batch write surfaces from the store.
    const store = node.store
    const commit = store.commit
    store.commit = async () => { throw new StorageError(StorageErrorCode.IO_ERROR, `writing blocks 2-2 to ${store.dir} failed: IO error: 000005.log: Input/output error. Check free disk space and the disk's health`) }
    return () => { store.commit = commit }
  }, /writing blocks \d+-\d+ to .* failed: IO error/)
})

test.serial('in process: a disk whose every write fails under LevelDB stops the node the same way', async t => {
  await failStopInProcess(t, async () => {
    // classic-level's native batch write fails from now on (patched in this test process only).
    const chainedBatch: string = 'classic-level/chained-batch.js'
    const { ChainedBatch } = await import(chainedBatch) as { ChainedBatch: { prototype: { _write: (...a: unknown[]) => Promise<void> } } }
    const write = ChainedBatch.prototype._write
    ChainedBatch.prototype._write = async () => { throw Object.assign(new Error('IO error: 000005.log: Input/output error'), { code: 'LEVEL_IO_ERROR' }) }
    return () => { ChainedBatch.prototype._write = write }
  }, /writing (blocks \d+-\d+|lastSigned|snapshot) to .* failed: IO error: 000005\.log: Input\/output error\. Check free disk space/)
})

/** A one-validator devnet run by the test-only daemon entry with `sw`, at height 1 or more. */
async function loneTestDaemon (t: ExecutionContext, sw: TestSwitch): Promise<{ d: Daemon, node: DevnetNode, before: { height: number } }> {
  const dir = await mkdtemp(join(tmpdir(), 'medledger-fault-'))
  const layout = await createDevnet({ dir, validators: ['hospital-a'], observers: [], heartbeatMs: 1000, consensus: FAST_CONSENSUS })
  const node = layout.nodes[0]
  const d = new Daemon(node, [], { entry: testDaemonEntry([sw]) })
  t.teardown(async () => {
    await d.stop('SIGKILL')
    await rm(dir, { recursive: true, force: true })
  })
  d.start()
  const before = await waitFor('a first block', async () => { const s = await d.status(); return s !== undefined && s.height >= 1 ? s : undefined }, 120_000)
  return { d, node, before }
}

test.serial('daemon: a disk write failure mid-run stops the process with exit 3 and a clear line; the database reopens at its head', async t => {
  const { d, node, before } = await loneTestDaemon(t, '--test-storage-fault')
  const ok = await d.submit([sampleRecord(1)])
  t.is(ok.status, 200, JSON.stringify(ok.body))
  t.is((await fetch(`${d.api}/readyz`)).status, 200)
  const head = (await d.status())!.height
  t.true(head >= before.height)

  d.proc!.kill('SIGUSR2')
  void d.submit([sampleRecord(2)], false).catch(() => {})
  const code = await Promise.race([d.exited, sleep(90_000).then(() => 'still running' as const)])
  t.is(code, EXIT.STORAGE_FAULT, 'the daemon exits with the storage-fault code (3)')
  const log = await readFile(join(node.home, 'node.log'), 'utf8')
  t.log(log.split('\n').find(l => l.startsWith('medledger: stopping')))
  t.regex(log, /medledger: stopping on a storage fault \(exit 3\): .*failed: IO error: injected by the test harness.*Once the disk is fixed, start the node again/, 'one clear line: what failed and what to do')
  t.notRegex(log, /unhandled rejection|uncaught exception/i)

  // The process is gone; the database opens, consistent, at the last block written.
  const store = await ChainStore.open(join(node.home, 'data'))
  t.true(store.head!.height >= head)
  const last = await store.getFinalized(store.head!.height)
  t.truthy(last, 'the head block is there with its certificate')
  t.is(toHex(store.genesisHash!).length, 64)
  await store.close()
})

test.serial('daemon: an unhandled rejection anywhere is logged and stops the process cleanly with exit 4', async t => {
  const { d, node } = await loneTestDaemon(t, '--test-unhandled-rejection')
  d.proc!.kill('SIGUSR2')
  const code = await Promise.race([d.exited, sleep(90_000).then(() => 'still running' as const)])
  t.is(code, EXIT.INTERNAL, 'the daemon exits with the internal-error code (4)')
  const log = await readFile(join(node.home, 'node.log'), 'utf8')
  t.regex(log, /medledger: stopping on an internal error \(exit 4, unhandled rejection\): Error: a promise nobody awaited failed/)
  t.regex(log, /"msg":"stopped: unhandled rejection: a promise nobody awaited failed/, 'the stop is logged after the node closed')
  const store = await ChainStore.open(join(node.home, 'data'))
  t.true(store.head!.height >= 1, 'the database opens: the node closed it')
  await store.close()
})
