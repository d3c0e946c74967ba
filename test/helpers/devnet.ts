import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ExecutionContext } from 'ava'
import { createDevnet, type DevnetLayout, type DevnetSpec } from '../../src/devnet/setup.ts'
import { Daemon } from '../../src/devnet/daemon.ts'

/** Fast timeouts for tests: rounds fail over in about a second. */
export const FAST_CONSENSUS = { propose_timeout_ms: 1000, prevote_timeout_ms: 500, precommit_timeout_ms: 500, timeout_delta_ms: 200, rebroadcast_ms: 1000 }

/** A devnet of real daemon processes in a temp dir, torn down (processes killed, dir removed) after the test. */
export async function startDevnet (t: ExecutionContext, spec: Omit<DevnetSpec, 'dir'>, prepare?: (layout: DevnetLayout) => Promise<void>): Promise<Daemon[]> {
  const dir = await mkdtemp(join(tmpdir(), 'medledger-e2e-'))
  const layout = await createDevnet({ consensus: FAST_CONSENSUS, ...spec, dir })
  await prepare?.(layout)
  const daemons = layout.nodes.map(n => new Daemon(n))
  t.teardown(async () => {
    await Promise.all(daemons.map(async d => await d.stop('SIGKILL')))
    await rm(dir, { recursive: true, force: true })
  })
  for (const d of daemons) d.start()
  return daemons
}

export async function waitFor<T> (what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 30_000, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await fn()
    if (v !== undefined && v !== false) return v
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, everyMs))
  }
}

/** Resolves when every daemon reports at least `height`; returns their statuses. */
export async function waitForHeight (daemons: Daemon[], height: number, timeoutMs = 30_000): Promise<Array<{ height: number, headHash: string | null }>> {
  return await waitFor(`height ${height} on every node`, async () => {
    const s = await Promise.all(daemons.map(async d => await d.status()))
    return s.every(x => x !== undefined && x.height >= height) ? s as Array<{ height: number, headHash: string | null }> : undefined
  }, timeoutMs)
}

export function sampleRecord (i: number): Record<string, unknown> {
  return { type: 'consultation', subject: (i.toString(16).padStart(8, '0')).repeat(8), contentType: 'application/octet-stream', payload: Buffer.from(`encrypted-payload-${i}`).toString('base64') }
}
