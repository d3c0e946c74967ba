import { spawn, type ChildProcess } from 'node:child_process'
import { createWriteStream } from 'node:fs'
import { join } from 'node:path'
import { ROOT } from '../../bin/compile.js'

/**
 * The allocator setting every daemon this project launches runs with, as configs/systemd sets it
 * in production (docs/benchmarks.md, "glibc's allocator"): buffers of a few hundred KB (bodies,
 * batches, blocks) go to mmap and back to the system when freed, instead of staying in glibc's
 * heap (single validator at saturation: peak RSS 396 -> 313 MB, throughput unchanged). glibc reads
 * it only at process start, so it is set here, not by `medledger start`. The caller's environment wins.
 */
export const DAEMON_ENV: Readonly<Record<string, string>> = { MALLOC_MMAP_THRESHOLD_: '65536' }
import type { DevnetNode } from './setup.ts'
import { heapLimitFlag } from '../config/heap-limit.ts'
import { hasHeapLimit } from '../config/heap-flag.ts'

/**
 * The hard heap limit of the node's memory budget (node.memory_budget_mb), given to node before
 * the script: `medledger start` cannot set it itself when a lifeline pipe must survive.
 * `given`: node flags the caller adds (a limit there wins).
 */
export function daemonHeapFlags (args: readonly string[], env: NodeJS.ProcessEnv, given: readonly string[] = []): string[] {
  if (hasHeapLimit(given, env)) return []
  const flag = heapLimitFlag(args, env)
  return flag === undefined ? [] : [flag]
}

/** The medledger command (found from bin/compile.js, so that it is right from the compiled src/ too). */
export const BIN = join(ROOT, 'bin', 'medledger.js')

/** A node daemon run as a real child process through the CLI, its log in <home>/node.log. */
export class Daemon {
  proc: ChildProcess | undefined
  exited: Promise<number | null> = Promise.resolve(null)

  /**
   * `lifeline`: the daemon gets one end of a pipe on fd 3 (start --exit-with-fd 3) and ends at once
   * when it reads end of file, that is when this process exits, however it dies (even SIGKILL).
   * `entry`: node's arguments before `start` (the test harness runs test/helpers/test-daemon.js).
   * `wrap`: a command the daemon runs under, e.g. `ip netns exec <ns>` (test/helpers/netns.ts); it must exec node in its place.
   */
  constructor (readonly node: DevnetNode, readonly extraArgs: string[] = [], readonly opts: { lifeline?: boolean, entry?: string[], wrap?: string[] } = {}) {}

  get api (): string { return `http://127.0.0.1:${this.node.apiPort}` }
  get running (): boolean { return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null }

  start (): void {
    const log = createWriteStream(join(this.node.home, 'node.log'), { flags: 'a' })
    const lifeline = this.opts.lifeline === true
    const args = [...(this.opts.entry ?? [BIN]), 'start', '--home', this.node.home, ...(lifeline ? ['--exit-with-fd', '3'] : []), ...this.extraArgs]
    const env = { ...DAEMON_ENV, ...process.env }
    const [cmd, ...cmdArgs] = [...(this.opts.wrap ?? []), process.execPath, ...daemonHeapFlags(args, env), ...args]
    const proc = spawn(cmd, cmdArgs, { stdio: ['ignore', 'pipe', 'pipe', ...(lifeline ? ['pipe' as const] : [])], env })
    // Never written nor ended here: only this process's exit closes it. Unref'd, so that it alone keeps nothing alive.
    const line = proc.stdio[3] as (NodeJS.ReadableStream & { unref?: () => void, on: (e: string, f: () => void) => unknown }) | null | undefined
    line?.on('error', () => {})
    line?.unref?.()
    // Two sources share one log: neither may end it; it is closed when the process exits.
    proc.stdout?.pipe(log, { end: false })
    proc.stderr?.pipe(log, { end: false })
    proc.once('close', () => { log.end() })
    this.proc = proc
    this.exited = new Promise(resolve => proc.once('exit', (code) => { resolve(code) }))
  }

  /** Sends a signal; resolves with the exit code once the process is gone. */
  async stop (signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (!this.running) return await this.exited
    this.proc?.kill(signal)
    return await this.exited
  }

  async status (): Promise<{ height: number, headHash: string | null, peers: number, round: number } | undefined> {
    try {
      const res = await fetch(`${this.api}/v1/status`, { signal: AbortSignal.timeout(2000) })
      return res.ok ? await res.json() as { height: number, headHash: string | null, peers: number, round: number } : undefined
    } catch {
      return undefined
    }
  }

  async submit (records: unknown[], wait = true): Promise<{ status: number, body: { ids?: string[], height?: number, error?: { code: string } } }> {
    const res = await fetch(`${this.api}/v1/records${wait ? '?wait=final' : ''}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${this.node.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ records })
    })
    return { status: res.status, body: await res.json() as { ids?: string[], height?: number } }
  }
}
