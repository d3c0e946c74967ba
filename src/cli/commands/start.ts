import { Socket } from 'node:net'
import { getHeapStatistics } from 'node:v8'
import type { Command } from 'commander'
import { loadConfig, resolvePath } from '../../config/load.ts'
import { Genesis } from '../../chain/genesis.ts'
import { readKeyFile } from '../../keys/key-file.ts'
import { MedledgerNode, type NodeTestHooks } from '../../node/node.ts'
import { createLogger } from '../../logger.ts'
import { toHex } from '../../encoding/bytes.ts'
import { MedledgerError } from '../../errors.ts'
import { nodePassphrase } from '../../privacy/setup.ts'
import { isStorageFault } from '../../storage/index.ts'
import { action, EXIT, printJson } from '../output.ts'
import { NodeErrorCode } from '../../node/errors.ts'

const collect = (v: string, prev: string[]): string[] => [...prev, v]

/** How this code runs: compiled ahead of time by bin/compile.js, or through tsx (about 45 MB more resident memory). */
const RUNTIME = import.meta.url.endsWith('.js') ? 'compiled' : 'tsx'

export interface StartFlags { home: string, set: string[], apiListen?: string, p2pListen?: string, logLevel?: string, exitWithFd?: string }

function overrides (o: StartFlags): Record<string, string> {
  const out: Record<string, string> = {}
  for (const s of o.set) {
    const i = s.indexOf('=')
    if (i <= 0) throw new MedledgerError('USAGE', `--set takes key=value (e.g. api.listen=127.0.0.1:9000), got "${s}"`)
    out[s.slice(0, i)] = s.slice(i + 1)
  }
  if (o.apiListen !== undefined) out['api.listen'] = JSON.stringify(o.apiListen)
  if (o.p2pListen !== undefined) out['p2p.listen'] = JSON.stringify([o.p2pListen])
  if (o.logLevel !== undefined) out['log.level'] = JSON.stringify(o.logLevel)
  return out
}

export function parseHostPort (listen: string): { host: string, port: number } {
  const i = listen.lastIndexOf(':')
  const port = Number(listen.slice(i + 1))
  if (i <= 0 || !Number.isInteger(port) || port < 0 || port > 65535) throw new MedledgerError('CONFIG_INVALID', `api.listen must be host:port, got "${listen}"`)
  return { host: listen.slice(0, i), port }
}

function parseLifelineFd (v: string): number {
  const fd = Number(v)
  if (!/^\d+$/.test(v) || fd < 3) throw new MedledgerError('USAGE', `--exit-with-fd takes an inherited file descriptor number >= 3, got "${v}"`)
  return fd
}

/**
 * Calls `onEnd` once the pipe on `fd` ends: the process holding its other end (the testkit) closed
 * it or died, even by SIGKILL, when the kernel closes every descriptor it held.
 */
function watchLifeline (fd: number, onEnd: () => void): void {
  let ended = false
  const end = (): void => { if (!ended) { ended = true; onEnd() } }
  const pipe = new Socket({ fd, readable: true, writable: false })
  pipe.on('data', () => {}).on('end', end).on('close', end).on('error', end)
}

export function startCommand (program: Command): void {
  const withFlags = (c: Command): Command => c
    .requiredOption('--home <dir>', 'node home directory')
    .option('--set <key=value>', 'override a config key (repeatable), e.g. --set consensus.rebroadcast_ms=1000', collect, [])
    .option('--api-listen <host:port>', 'override api.listen')
    .option('--p2p-listen <multiaddr>', 'override p2p.listen')
    .option('--log-level <level>', 'override log.level')

  program.command('config').description('inspect configuration')
    .addCommand(withFlags(new (program.constructor as typeof Command)('show'))
      .description('print the effective configuration (defaults < config.toml < MEDLEDGER_* env < flags)')
      .action(action(async (o: StartFlags) => { printJson(await loadConfig(o.home, overrides(o))) })))

  withFlags(program.command('start'))
    .description('run the node daemon until SIGINT/SIGTERM (exit codes: 0 stopped, 1 failed to start, 2 bad config, 3 storage fault, 4 internal error)')
    .option('--exit-with-fd <fd>', 'end at once (as kill -9) when this inherited pipe reaches end of file (the testkit\'s lifeline: daemons die with the test process)')
    .action(action(async (o: StartFlags) => { await runDaemon(o) }))
}

/**
 * Runs the node daemon until a signal, a storage fault or an internal error stops it. Exported for
 * the test harness only (test/helpers/test-daemon.js), which passes test hooks; the command passes none.
 */
export async function runDaemon (o: StartFlags, testHooks?: NodeTestHooks): Promise<void> {
  const lifelineFd = o.exitWithFd === undefined ? undefined : parseLifelineFd(o.exitWithFd)
  const config = await loadConfig(o.home, overrides(o))
  const log = createLogger({ level: config.log.level })
  const genesis = await Genesis.load(resolvePath(o.home, config.genesis))
  const passphrase = await nodePassphrase(o.home, config)
  const key = await readKeyFile(resolvePath(o.home, config.key), { passphrase })
  const { host, port } = parseHostPort(config.api.listen)
  const node = new MedledgerNode({ config, home: o.home, genesis, key, logger: log, testHooks, services: { api: { host, port }, passphrase } })
  let stopping = false
  /** Stops everything in reverse order, then exits with `code` (also when the stop takes too long). */
  const shutdown = async (reason: string, code: number): Promise<void> => {
    if (stopping) {
      if (code === EXIT.OK) {
        log.warn({ reason }, 'second signal: exiting now')
        process.exit(130)
      }
      return
    }
    stopping = true
    if (code === EXIT.OK) log.info({ signal: reason }, 'shutting down')
    const deadline = setTimeout(() => { log.error('shutdown took longer than 10 s: exiting'); process.exit(code === EXIT.OK ? EXIT.FAILURE : code) }, 10_000)
    deadline.unref()
    await node.stop().catch((err) => { log.error({ err }, 'stopping the node failed') })
    if (code === EXIT.OK) log.info('stopped cleanly')
    else log.fatal({ exitCode: code }, 'stopped: %s', reason)
    process.exit(code)
  }
  // Fail-stop (docs/storage.md, "Storage faults"): the chain cannot be written or read, so the node
  // stops before it signs anything it could not keep. One clear line on stderr for the operator.
  const storageFault = (err: Error): void => {
    process.stderr.write(`medledger: stopping on a storage fault (exit ${EXIT.STORAGE_FAULT}): ${err.message}. ` +
      `It signs and commits nothing more. Once the disk is fixed, start the node again (\`medledger verify --home ${o.home}\` checks the database first).\n`)
    void shutdown(`storage fault: ${err.message}`, EXIT.STORAGE_FAULT)
  }
  // Any error nobody handled is a bug: logged, then the same clean stop, never a half-running daemon.
  const internal = (kind: string) => (err: unknown): void => {
    if (isStorageFault(err)) { storageFault(err); return }
    log.fatal({ err }, `${kind}: stopping`)
    process.stderr.write(`medledger: stopping on an internal error (exit ${EXIT.INTERNAL}, ${kind}): ${(err as Error)?.stack ?? String(err)}\n`)
    void shutdown(`${kind}: ${(err as Error)?.message ?? String(err)}`, EXIT.INTERNAL)
  }
  process.on('unhandledRejection', internal('unhandled rejection'))
  process.on('uncaughtException', internal('uncaught exception'))
  process.on('SIGINT', () => { void shutdown('SIGINT', EXIT.OK) })
  process.on('SIGTERM', () => { void shutdown('SIGTERM', EXIT.OK) })
  if (lifelineFd !== undefined) watchLifeline(lifelineFd, () => { process.kill(process.pid, 'SIGKILL') })
  node.on('fatal', (err) => { if (isStorageFault(err)) storageFault(err); else internal('failed commit')(err) })
  try {
    await node.start()
  } catch (err) {
    // What did start is stopped; the error that stopped the start is the one reported.
    await node.stop().catch((stopErr) => { log.error({ err: stopErr }, 'stopping the node after a failed start failed') })
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') throw new MedledgerError(NodeErrorCode.ADDRESS_IN_USE, `the API address ${config.api.listen} is already in use; choose another with --api-listen`)
    if (isStorageFault(err)) {
      process.stderr.write(`medledger: ${err.message}\n`)
      process.exit(EXIT.STORAGE_FAULT)
    }
    throw err
  }
  const addr = node.api?.server.address()
  const apiUrl = typeof addr === 'object' && addr !== null ? `http://${addr.address}:${addr.port}` : String(addr)
  log.info({ chainId: genesis.chainId, genesisHash: toHex(genesis.hash), role: node.role, peerId: key.peerId, listen: node.network.addresses, api: apiUrl, height: node.store.head?.height ?? 0, runtime: RUNTIME, heapLimitMB: Math.round(getHeapStatistics().heap_size_limit / 1048576) }, 'medledger node started')
}
