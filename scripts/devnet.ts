// `npm start`: a local devnet of 4 validators (3 hospitals and the ministry) and 1 regulator
// observer, each a real daemon process on 127.0.0.1, with a live status view. State lives in
// .devnet/ and survives restarts; `npm start -- --fresh` starts over.
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { createDevnet, loadDevnet } from '../src/devnet/setup.ts'
import { Daemon } from '../src/devnet/daemon.ts'

const dir = join(process.cwd(), '.devnet')
const fresh = process.argv.includes('--fresh')
const once = process.argv.includes('--once')
if (fresh) await rm(dir, { recursive: true, force: true })
const layout = (await loadDevnet(dir)) ?? await createDevnet({ dir, validators: ['hospital-a', 'hospital-b', 'hospital-c', 'ministry'], observers: ['regulator'], heartbeatMs: 5000 })
const daemons = layout.nodes.map(n => new Daemon(n))
for (const d of daemons) d.start()
process.stdout.write(`medledger devnet (${layout.chainId}) in ${dir}\n`)

let stopping = false
const stop = async (): Promise<void> => {
  if (stopping) return
  stopping = true
  process.stdout.write('\nstopping the devnet...\n')
  await Promise.all(daemons.map(async d => await d.stop('SIGTERM')))
  process.exit(0)
}
process.on('SIGINT', () => { void stop() })
process.on('SIGTERM', () => { void stop() })

const started = Date.now()
let converged = false
for (;;) {
  const rows = await Promise.all(daemons.map(async d => ({ d, s: await d.status() })))
  const lines = rows.map(({ d, s }) => `${d.node.name.padEnd(12)} ${d.node.role.padEnd(9)} ${s === undefined ? (d.running ? 'starting' : 'DOWN') : `height ${String(s.height).padStart(6)}  round ${s.round}  peers ${s.peers}  head ${String(s.headHash).slice(0, 16)}`}  api http://127.0.0.1:${d.node.apiPort}`)
  const heights = rows.map(r => r.s?.height)
  const same = heights.every(h => h !== undefined && h > 0 && h === heights[0])
  if (same && !converged) { converged = true }
  if (process.stdout.isTTY) process.stdout.write('\x1b[2J\x1b[H')
  process.stdout.write(`medledger devnet ${layout.chainId}: ${rows.filter(r => r.s !== undefined).length}/${rows.length} up, ${((Date.now() - started) / 1000).toFixed(0)} s${same ? ', all at the same height' : ''}\n${lines.join('\n')}\n` + (process.stdout.isTTY ? 'Ctrl-C stops every node. Submit: see README.\n' : ''))
  if (once && converged) await stop()
  if (once && Date.now() - started > 60_000) { process.stdout.write('devnet did not converge within 60 s\n'); process.exitCode = 1; await stop() }
  await new Promise(resolve => setTimeout(resolve, 1000))
}
