import test from 'ava'
import { execFile } from 'node:child_process'
import { access, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { parse as parseYaml } from 'yaml'
import { Metrics } from '../../../src/api/metrics.ts'
import { CONFIG_FILE, loadConfig } from '../../../src/config/load.ts'
import { renderExamples } from '../../../src/config/examples.ts'
import type { MedledgerNode } from '../../../src/node/node.ts'

/*
 * configs/ is what operators copy. Every file in it is checked here with what the node itself
 * uses: the config loader, the metric names the node really exports, systemd's own verifier.
 */

const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
const CONFIGS = join(ROOT, 'configs')
const exec = promisify(execFile)

async function filesUnder (dir: string): Promise<string[]> {
  const out: string[] = []
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (e.isDirectory()) out.push(...await filesUnder(join(dir, e.name)))
    else out.push(join(dir, e.name))
  }
  return out
}

test('every configs/ TOML file loads with the node\'s config loader, with its role and parseable peer addresses', async t => {
  const tomls = (await filesUnder(CONFIGS)).filter(f => f.endsWith('.toml'))
  t.true(tomls.length >= 2, tomls.join(', '))
  for (const file of tomls) {
    const home = await mkdtemp(join(tmpdir(), 'medledger-example-'))
    t.teardown(async () => { await rm(home, { recursive: true, force: true }) })
    await writeFile(join(home, CONFIG_FILE), await readFile(file))
    const config = await loadConfig(home, {}, {})
    const name = relative(CONFIGS, file)
    if (/(^|\/)validator\.toml$/.test(name)) t.is(config.role, 'validator', name)
    if (/(^|\/)observer\.toml$/.test(name)) t.is(config.role, 'observer', name)
    for (const a of [...config.p2p.listen, ...config.p2p.bootstrap]) t.notThrows(() => multiaddr(a), `${name}: ${a}`)
    t.true(config.p2p.bootstrap.length > 0, `${name} dials someone`)
    for (const a of config.p2p.bootstrap) {
      const id = multiaddr(a).getComponents().find(c => c.name === 'p2p')?.value
      t.notThrows(() => peerIdFromString(id ?? ''), `${name}: ${a} ends in a peer id`)
    }
  }
})

test('the per-role examples are what the init template makes now (npm run configs regenerates them)', async t => {
  for (const [file, text] of await renderExamples()) {
    t.is(await readFile(join(CONFIGS, file), 'utf8'), text, `configs/${file} is stale: run npm run configs`)
  }
})

/** Every metric name the node serves at /metrics: medledger_* and prom-client's defaults (registered, not collected). */
async function exportedMetricNames (): Promise<Set<string>> {
  const node = { on: () => node }
  const metrics = new Metrics(node as unknown as MedledgerNode) as Metrics & { watchEvents?: (hub: { size: number, dropped: number }) => void }
  // Metrics registered later in the node's life (the event stream's), where there are such.
  metrics.watchEvents?.({ size: 0, dropped: 0 })
  return new Set(metrics.registry.getMetricsAsArray().map(m => m.name))
}

// Names from outside the node: Prometheus' own, and node_exporter's (disk space).
const EXTERNAL = /^(up|node_filesystem_(avail|size)_bytes)$/
const PROMQL_WORDS = new Set(['rate', 'increase', 'sum', 'max', 'min', 'avg', 'scalar', 'and', 'or', 'unless', 'on', 'by', 'without', 'group_left', 'group_right', 'job', 'role', 'instance', 'mountpoint', 'humanize1024'])

function metricNamesIn (expr: string): string[] {
  const withoutLabels = expr.replace(/\{[^}]*\}/g, '').replace(/\[[^\]]*\]/g, '')
  return [...withoutLabels.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)].map(m => m[0]).filter(w => !PROMQL_WORDS.has(w))
}

test('the Prometheus files parse, and every alert uses metrics the node really exports', async t => {
  const exported = await exportedMetricNames()
  t.true(exported.has('medledger_chain_height') && exported.has('process_resident_memory_bytes'))
  const scrape = parseYaml(await readFile(join(CONFIGS, 'prometheus/prometheus.yml'), 'utf8')) as { rule_files: string[], scrape_configs: Array<{ job_name: string }> }
  t.deepEqual(scrape.rule_files, ['alerts.yml'])
  t.true(scrape.scrape_configs.some(s => s.job_name === 'medledger'))
  const rules = parseYaml(await readFile(join(CONFIGS, 'prometheus/alerts.yml'), 'utf8')) as { groups: Array<{ rules: Array<{ alert: string, expr: string, for?: string, annotations: { summary: string } }> }> }
  const all = rules.groups.flatMap(g => g.rules)
  for (const wanted of ['MedledgerDown', 'MedledgerNoFinalBlock', 'MedledgerPeersBelowQuorum', 'MedledgerDiskNearlyFull', 'MedledgerDoubleSigning']) t.true(all.some(r => r.alert === wanted), wanted)
  for (const r of all) {
    t.truthy(r.annotations.summary, r.alert)
    const names = metricNamesIn(r.expr)
    t.true(names.length > 0, r.alert)
    for (const n of names) t.true(exported.has(n) || EXTERNAL.test(n), `${r.alert}: ${n} is not a metric the node exports`)
  }
})

test('the Grafana dashboard is JSON whose every panel queries metrics the node really exports', async t => {
  const exported = await exportedMetricNames()
  const dash = JSON.parse(await readFile(join(CONFIGS, 'grafana/medledger-dashboard.json'), 'utf8')) as { title: string, panels: Array<{ title: string, targets: Array<{ expr: string }> }> }
  t.is(dash.title, 'medledger')
  t.true(dash.panels.length >= 8)
  const used = new Set<string>()
  for (const p of dash.panels) {
    t.true(p.targets.length > 0, p.title)
    for (const target of p.targets) {
      for (const n of metricNamesIn(target.expr)) {
        t.true(exported.has(n) || EXTERNAL.test(n), `${p.title}: ${n} is not a metric the node exports`)
        used.add(n)
      }
    }
  }
  // The chain's vital signs each have a panel.
  for (const n of ['medledger_chain_height', 'medledger_blocks_finalized_total', 'medledger_records_finalized_total', 'medledger_api_records_submitted_total', 'medledger_peers_connected', 'medledger_consensus_round', 'medledger_mempool_records']) t.true(used.has(n), `no panel shows ${n}`)
})

test('the systemd unit runs the node as its own user, hardened, restarted on failure; systemd-analyze accepts it', async t => {
  const text = await readFile(join(CONFIGS, 'systemd/medledger.service'), 'utf8')
  const settings = new Map<string, string>()
  let section = ''
  for (const line of text.split('\n')) {
    const s = line.trim()
    if (s === '' || s.startsWith('#')) continue
    const m = /^\[(.+)\]$/.exec(s)
    if (m !== null) { section = m[1]; continue }
    const eq = s.indexOf('=')
    settings.set(`${section}.${s.slice(0, eq)}`, s.slice(eq + 1))
  }
  t.like(Object.fromEntries(settings), {
    'Service.User': 'medledger',
    'Service.NoNewPrivileges': 'true',
    'Service.ProtectSystem': 'strict',
    'Service.ReadWritePaths': '/var/lib/medledger',
    'Service.Restart': 'on-failure',
    'Service.CapabilityBoundingSet': '',
    'Install.WantedBy': 'multi-user.target'
  })
  t.regex(settings.get('Service.ExecStart') ?? '', /node \S+\/bin\/medledger\.js start --home \/var\/lib\/medledger$/)
  t.true(Number(settings.get('Service.LimitNOFILE')) >= 4096)
  t.truthy(settings.get('Service.MemoryMax'))
  t.false(settings.has('Service.MemoryDenyWriteExecute'), 'V8 needs writable executable memory')

  // systemd's own check, with the install path pointed at this checkout so the binaries exist.
  const analyze = await access('/usr/bin/systemd-analyze').then(() => true, () => false)
  if (!analyze) { t.log('systemd-analyze is not installed: unit syntax not verified by systemd'); return }
  const dir = await mkdtemp(join(tmpdir(), 'medledger-unit-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const unit = join(dir, 'medledger.service')
  await writeFile(unit, text.replaceAll('/opt/medledger/', ROOT))
  const r = await exec('/usr/bin/systemd-analyze', ['verify', unit]).then(x => ({ code: 0, out: x.stdout + x.stderr }), (e: { code: number, stdout: string, stderr: string }) => ({ code: e.code, out: e.stdout + e.stderr }))
  t.is(r.code, 0, r.out)
  t.is(r.out.trim(), '', r.out)
})
