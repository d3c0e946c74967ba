import test from 'ava'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CONFIG_FILE, loadConfig, renderConfig } from '../../../src/config/load.ts'
import { ConfigSchema } from '../../../src/config/schema.ts'
import { BUDGET_SHARES } from '../../../src/config/memory-budget.ts'

const BUDGETED = new Set([...BUDGET_SHARES.map(b => b.path.join('.')), 'mempool.max_bytes_per_author'])

// The config.toml that `medledger init` writes documents every setting: it must name each one,
// with the value the node would use if the line were deleted.
test('the init template sets every setting to its default, except the per-node ones init fills in', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'medledger-config-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const perNode = { role: 'observer', p2pListen: '/ip4/127.0.0.1/tcp/4001', bootstrap: ['/ip4/127.0.0.1/tcp/4002/p2p/12D3KooWExample'], apiListen: '127.0.0.1:9090' }
  await writeFile(join(dir, CONFIG_FILE), renderConfig(perNode))
  const loaded = await loadConfig(dir, {}, {})
  const defaults = ConfigSchema.parse({})
  t.deepEqual(loaded, {
    ...defaults,
    role: 'observer',
    p2p: { ...defaults.p2p, listen: [perNode.p2pListen], bootstrap: perNode.bootstrap },
    api: { ...defaults.api, listen: perNode.apiListen }
  })
  // And a setting missing from the template would still parse (to its default): check by name.
  for (const [section, shape] of Object.entries(ConfigSchema.shape)) {
    const inner = (shape as { def?: { innerType?: { shape?: Record<string, unknown> } } }).def?.innerType?.shape
    const keys = inner === undefined ? [section] : Object.keys(inner)
    for (const key of keys) {
      // The keys the memory budget sets are named commented out: set, they would override their share.
      const budgeted = BUDGETED.has(`${section}.${key}`)
      t.regex(renderConfig(perNode), new RegExp(`^${budgeted ? '# ' : ''}${key} = `, 'm'), `config.toml names ${inner === undefined ? key : `${section}.${key}`}`)
    }
  }
})

test('a config.toml that leaves out whole sections gets every default of those sections', async t => {
  // zod 4's .default({}) returned the bare {} for a missing section, without the defaults inside
  // it: a config.toml without [mempool] ran with no mempool limits.
  const dir = await mkdtemp(join(tmpdir(), 'medledger-config-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  await writeFile(join(dir, CONFIG_FILE), 'role = "observer"\n[api]\nlisten = "127.0.0.1:9191"\n')
  const c = await loadConfig(dir, {}, {})
  t.is(c.mempool.max_bytes, 64 * 1024 * 1024, 'half of the default memory budget')
  t.is(c.consensus.propose_timeout_ms, 3000)
  t.is(c.privacy.audit_wait_ms, 30_000)
  t.deepEqual(c.p2p.listen, ['/ip4/127.0.0.1/tcp/26656'])
  t.is(c.log.level, 'info')
  t.is(c.api.listen, '127.0.0.1:9191')
  t.is(c.api.max_body_bytes, 8 * 1024 * 1024, 'a section given in part is completed too')
})

test('p2p.inbound_allow takes CIDR ranges and addresses, from the file or the environment; a malformed entry is named', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'medledger-config-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  await writeFile(join(dir, CONFIG_FILE), '[p2p]\ninbound_allow = ["10.0.0.0/8", "192.0.2.7", "fd00::/8"]\n')
  t.deepEqual((await loadConfig(dir, {}, {})).p2p.inbound_allow, ['10.0.0.0/8', '192.0.2.7', 'fd00::/8'])
  t.deepEqual((await loadConfig(dir, {}, { MEDLEDGER_P2P__INBOUND_ALLOW: '["127.0.0.1/32"]' })).p2p.inbound_allow, ['127.0.0.1/32'])
  await writeFile(join(dir, CONFIG_FILE), '[p2p]\ninbound_allow = ["10.0.0.0/33"]\n')
  const err = await t.throwsAsync(loadConfig(dir, {}, {}))
  t.regex(err!.message, /p2p\.inbound_allow\.0: "10\.0\.0\.0\/33" is not an IP address or CIDR range/)
})

// Issue 13, item 6: the Byzantine (equivocation) mode is for the test harness alone
// (test/helpers/test-daemon.js --test-byzantine). On 30150e2 a config line, `--set` or
// MEDLEDGER_CONSENSUS__BYZANTINE=true turned a production validator into an equivocator.
test('consensus.byzantine is refused in config.toml and by --set, and has no effect from the environment', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'medledger-config-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const perNode = { role: 'validator', p2pListen: '/ip4/127.0.0.1/tcp/4001', bootstrap: [], apiListen: '127.0.0.1:9090' }
  await writeFile(join(dir, CONFIG_FILE), renderConfig(perNode))
  await t.throwsAsync(loadConfig(dir, { 'consensus.byzantine': 'true' }, {}), { code: 'CONFIG_INVALID', message: /consensus: Unrecognized key: "byzantine"/ })
  const fromEnv = await loadConfig(dir, {}, { MEDLEDGER_CONSENSUS__BYZANTINE: 'true' })
  t.false('byzantine' in fromEnv.consensus, 'the variable names no setting')
  t.deepEqual(fromEnv, await loadConfig(dir, {}, {}))
  await writeFile(join(dir, CONFIG_FILE), renderConfig(perNode).replace('[consensus]\n', '[consensus]\nbyzantine = true\n'))
  await t.throwsAsync(loadConfig(dir, {}, {}), { code: 'CONFIG_INVALID', message: /Unrecognized key: "byzantine"/ })
})
