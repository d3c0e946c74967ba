import test from 'ava'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CONFIG_FILE, loadConfig } from '../../../src/config/load.ts'
import { ConfigSchema } from '../../../src/config/schema.ts'
import { heapLimitMb } from '../../../src/config/memory-budget.ts'
import { heapLimitFlag } from '../../../src/config/heap-limit.ts'

const MiB = 1024 * 1024

async function home (t: import('ava').ExecutionContext, toml: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'medledger-budget-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  await writeFile(join(dir, CONFIG_FILE), toml)
  return dir
}

test('node.memory_budget_mb is split among the mempool, sync runs and gossip caches; the default budget gives the schema defaults', async t => {
  const c = await loadConfig(await home(t, '[node]\nmemory_budget_mb = 256\n'), {}, {})
  t.is(c.mempool.max_bytes, 128 * MiB, 'half to the mempool')
  t.is(c.mempool.max_bytes_per_author, 32 * MiB, 'an author a quarter of it')
  t.is(c.p2p.sync_response_bytes, 32 * MiB, 'an eighth to a sync run')
  t.is(c.p2p.gossip_in_flight_bytes, 32 * MiB, 'an eighth to gossip waiting for validation')
  t.is(c.consensus.max_future_bytes, 32 * MiB, 'an eighth to messages for future heights')
  const byDefault = await loadConfig(await home(t, ''), {}, {})
  t.is(byDefault.node.memory_budget_mb, 128)
  t.deepEqual(byDefault, ConfigSchema.parse({}), 'loading and parsing agree on every default')
})

test('a key set in the file, the environment or a flag wins over its share of the budget', async t => {
  const dir = await home(t, '[node]\nmemory_budget_mb = 256\n[mempool]\nmax_bytes = 10485760\n')
  const c = await loadConfig(dir, { 'p2p.sync_response_bytes': '4194304' }, { MEDLEDGER_CONSENSUS__MAX_FUTURE_BYTES: '2097152' })
  t.is(c.mempool.max_bytes, 10 * MiB)
  t.is(c.mempool.max_bytes_per_author, 10 * MiB / 4, 'the author share follows the mempool set')
  t.is(c.p2p.sync_response_bytes, 4 * MiB)
  t.is(c.consensus.max_future_bytes, 2 * MiB)
  t.is(c.p2p.gossip_in_flight_bytes, 32 * MiB, 'the keys not set keep their share')
  const viaEnv = await loadConfig(await home(t, ''), {}, { MEDLEDGER_NODE__MEMORY_BUDGET_MB: '64' })
  t.is(viaEnv.mempool.max_bytes, 32 * MiB)
  t.is(viaEnv.p2p.gossip_in_flight_bytes, 8 * MiB)
})

test('a budget of 0 leaves every key its own default and sets no heap limit; a budget below 64 MiB is refused by name', async t => {
  const none = await loadConfig(await home(t, '[node]\nmemory_budget_mb = 0\n'), {}, {})
  t.is(none.mempool.max_bytes, 64 * MiB)
  t.is(heapLimitMb(0), undefined)
  await t.throwsAsync(loadConfig(await home(t, '[node]\nmemory_budget_mb = 32\n'), {}, {}), { message: /node\.memory_budget_mb: 0 \(none\) or 64 to/ })
})

test('medledger start runs with a heap limit of 2 x budget + 128 MB, from the home its arguments name', async t => {
  const dir = await home(t, '[node]\nmemory_budget_mb = 200\n')
  t.is(heapLimitFlag(['start', '--home', dir], {}), '--max-old-space-size=528')
  t.is(heapLimitFlag(['start', `--home=${dir}`, '--set', 'node.memory_budget_mb=100'], {}), '--max-old-space-size=328')
  t.is(heapLimitFlag(['start', '--home', dir], { MEDLEDGER_NODE__MEMORY_BUDGET_MB: '0' }), undefined)
  t.is(heapLimitFlag(['start', '--home', join(dir, 'missing')], {}), undefined, 'no config: start reports that itself')
})
