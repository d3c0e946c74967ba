import { rm } from 'node:fs/promises'
import { resolve } from 'node:path'
import type { Command } from 'commander'
import { Devnet } from '../../testkit/devnet.ts'
import { loadManifest, runSchedule, type Manifest } from '../../testkit/manifest.ts'
import { MedledgerError } from '../../errors.ts'
import { action } from '../output.ts'

interface DevnetFlags { validators?: string, observers?: string, dir?: string, manifest?: string, heartbeatMs?: string, fresh?: boolean, once?: boolean }

function count (flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined
  const n = Number(v)
  if (!/^\d+$/.test(v) || n > 64) throw new MedledgerError('USAGE', `--${flag} takes a whole number up to 64, got "${v}"`)
  return n
}

/**
 * `medledger devnet`: a local network of real daemons on 127.0.0.1 (the testkit's Devnet), a live
 * status view and, with --manifest, a fault schedule (docs/testkit.md, "Manifest runner").
 */
export function devnetCommand (program: Command): void {
  program.command('devnet')
    .description('run a local network of daemons (4 validators + 1 observer by default) with a live status view; Ctrl-C stops every node')
    .option('--validators <n>', 'validators (hospital-a, hospital-b, hospital-c, ministry, hospital-d, ...)')
    .option('--observers <m>', 'regulator observers')
    .option('--dir <dir>', 'keep the network here and resume it on the next run (default: a temporary directory, removed on exit)')
    .option('--manifest <file>', 'a TOML manifest: nodes, roles and a fault schedule')
    .option('--heartbeat-ms <ms>', 'a block this long after the last when idle', '5000')
    .option('--fresh', 'with --dir: start a new network instead of resuming')
    .option('--once', 'exit once every node is at one height and the schedule has run (0), or after 2 minutes (1)')
    .action(action(async (o: DevnetFlags) => {
      const manifest: Manifest = o.manifest !== undefined ? await loadManifest(o.manifest) : { fault: [] }
      const dir = o.dir === undefined ? undefined : resolve(o.dir)
      if (dir !== undefined && o.fresh === true) await rm(dir, { recursive: true, force: true })
      const heartbeatMs = manifest.heartbeat_ms ?? Number(o.heartbeatMs)
      if (!Number.isInteger(heartbeatMs) || heartbeatMs < 50) throw new MedledgerError('USAGE', `--heartbeat-ms takes a whole number >= 50, got "${o.heartbeatMs}"`)
      const net = await Devnet.start({
        validators: count('validators', o.validators) ?? manifest.validators ?? 4,
        observers: count('observers', o.observers) ?? manifest.observers ?? 1,
        standby: manifest.standby ?? 0,
        heartbeatMs,
        ...(dir !== undefined ? { dir, resume: true } : {}),
        // The relays only when the schedule partitions: a devnet kept in --dir then stays runnable without this process.
        relays: manifest.fault.some(f => f.partition !== undefined || f.heal === true)
      })
      const events: string[] = []
      const say = (line: string): void => { events.push(`${new Date().toISOString().slice(11, 19)} ${line}`) }
      const stop = new AbortController()
      let stopping = false
      const shutdown = async (code: number): Promise<void> => {
        if (stopping) return
        stopping = true
        stop.abort()
        process.stdout.write('\nstopping the devnet...\n')
        await Promise.all(net.nodes.map(async n => { if (n.running) await n.stop() }))
        await net.stop().catch(() => {})
        process.exit(code)
      }
      process.on('SIGINT', () => { void shutdown(0) })
      process.on('SIGTERM', () => { void shutdown(0) })
      let scheduleDone = manifest.fault.length === 0
      let scheduleError: string | undefined
      if (!scheduleDone) {
        say(`fault schedule: ${manifest.fault.length} steps`)
        void runSchedule(net, manifest.fault, say, { signal: stop.signal }).then(() => { scheduleDone = true; say('fault schedule done') }, (err: Error) => { scheduleError = err.message; say(`fault schedule failed: ${err.message}`) })
      }
      const started = Date.now()
      for (;;) {
        const rows = await Promise.all(net.nodes.map(async n => ({ n, s: await n.tryStatus() })))
        const lines = rows.map(({ n, s }) => `${n.name.padEnd(12)} ${n.role.padEnd(9)} ${s === undefined ? (n.running ? (n.down ? 'PAUSED' : 'starting') : 'DOWN') : `height ${String(s.height).padStart(6)}  round ${s.round}  peers ${s.peers}  head ${String(s.headHash).slice(0, 16)}`}  api ${n.api}`)
        const heights = rows.filter(r => r.n.role !== 'removed').map(r => r.s?.height)
        const same = heights.every(h => h !== undefined && h > 0 && h === heights[0])
        if (process.stdout.isTTY) process.stdout.write('\x1b[2J\x1b[H')
        process.stdout.write(`medledger devnet ${net.chainId} in ${net.dir}: ${rows.filter(r => r.s !== undefined).length}/${rows.length} up, ${((Date.now() - started) / 1000).toFixed(0)} s${same ? ', all at the same height' : ''}\n${lines.join('\n')}\n${events.slice(-8).join('\n')}${events.length > 0 ? '\n' : ''}` + (process.stdout.isTTY ? 'Ctrl-C stops every node. Submit: see README.\n' : ''))
        if (o.once === true && scheduleError !== undefined) { await shutdown(1); return }
        if (o.once === true && same && scheduleDone) { await shutdown(0); return }
        if (o.once === true && Date.now() - started > 120_000) { process.stdout.write('devnet did not converge within 2 minutes\n'); await shutdown(1); return }
        await new Promise(resolve => setTimeout(resolve, 1000))
      }
    }))
}
