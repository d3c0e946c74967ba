import type { ExecutionContext } from 'ava'
import { DEFAULT_PARAMS } from '../../src/chain/genesis.ts'
import type { DevnetLayout, DevnetSpec } from '../../src/devnet/setup.ts'
import type { Daemon } from '../../src/devnet/daemon.ts'
import { Devnet, waitFor } from '../../src/testkit/index.ts'

// The project's e2e tests run on the testkit (src/testkit, docs/testkit.md); these are the
// shapes they were written against.
export { FAST_CONSENSUS, waitFor, sampleRecord } from '../../src/testkit/index.ts'

/**
 * A devnet of real daemon processes (the testkit's, without relays, not waiting for the APIs:
 * the tests wait for what they need), torn down after the test: processes killed, dir removed.
 */
export async function startDevnet (t: ExecutionContext, spec: Omit<DevnetSpec, 'dir'>, prepare?: (layout: DevnetLayout) => Promise<void>): Promise<Daemon[]> {
  const net = await Devnet.start({
    validators: spec.validators,
    observers: spec.observers,
    ...(spec.members !== undefined ? { members: spec.members } : {}),
    ...(spec.joiningMembers !== undefined ? { joiningMembers: spec.joiningMembers } : {}),
    heartbeatMs: spec.heartbeatMs ?? DEFAULT_PARAMS.heartbeatMs,
    ...(spec.consensus !== undefined ? { consensus: spec.consensus } : {}),
    ...(spec.chainId !== undefined ? { chainId: spec.chainId } : {}),
    relays: false,
    wait: false,
    ...(prepare !== undefined ? { beforeStart: prepare } : {})
  })
  t.teardown(async () => { await net.stop() })
  return net.nodes.map(n => n.daemon)
}

/** Resolves when every daemon reports at least `height`; returns their statuses. */
export async function waitForHeight (daemons: Daemon[], height: number, timeoutMs = 30_000): Promise<Array<{ height: number, headHash: string | null }>> {
  let last: Array<{ height: number, headHash: string | null } | undefined> = []
  return await waitFor(`height ${height} on every node`, async () => {
    last = await Promise.all(daemons.map(async d => await d.status()))
    return last.every(x => x !== undefined && x.height >= height) ? last as Array<{ height: number, headHash: string | null }> : undefined
  }, { timeoutMs, describe: () => daemons.map((d, i) => `${d.node.name}=${last[i]?.height ?? (d.running ? 'no answer' : 'down')}`).join(', ') })
}
