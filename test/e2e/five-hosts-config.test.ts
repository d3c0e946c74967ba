import test from 'ava'
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { multiaddr } from '@multiformats/multiaddr'
import { loadConfig } from '../../src/config/load.ts'
import { BIN } from '../../src/devnet/daemon.ts'

const exec = promisify(execFile)
const SCRIPT = fileURLToPath(new URL('../../configs/five-hosts/make-network.sh', import.meta.url))

test('configs/five-hosts/make-network.sh makes keys, one genesis and five homes that dial each other, with the real CLI', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'medledger-five-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const out = join(dir, 'net')
  const ips = ['10.1.0.1', '10.1.0.2', '10.1.0.3', '10.1.0.4', '10.1.0.5']
  const { stdout } = await exec('bash', [SCRIPT, out, 'five-test'], { env: { ...process.env, MEDLEDGER: `${process.execPath} ${BIN}`, IPS: ips.join(' ') }, timeout: 300_000 })
  const lines = stdout.trim().split('\n').map(l => l.split(' '))
  t.deepEqual(lines.map(l => [l[0], l[1], l[2]]), [
    ['hospital-a', 'validator', ips[0]], ['hospital-b', 'validator', ips[1]], ['hospital-c', 'validator', ips[2]],
    ['ministry', 'validator', ips[3]], ['regulator', 'observer', ips[4]]
  ])
  const peerOf = new Map(lines.map(l => [l[0], l[3]]))

  const genesis = JSON.parse(await readFile(join(out, 'genesis.json'), 'utf8')) as { chainId: string }
  t.is(genesis.chainId, 'five-test')
  const genesisText = JSON.stringify(genesis)
  for (const id of peerOf.values()) t.true(genesisText.includes(id), `genesis lists ${id}`)

  for (const [i, [name, role]] of lines.entries()) {
    const home = join(out, name)
    const config = await loadConfig(home, {}, {})
    t.is(config.role, role as 'validator' | 'observer', name)
    t.deepEqual(config.p2p.listen, ['/ip4/0.0.0.0/tcp/26656'])
    t.is(config.api.listen, '127.0.0.1:8080')
    // It dials the other four, each by address and peer id.
    const others = lines.filter((_l, j) => j !== i).map(l => `/ip4/${l[2]}/tcp/26656/p2p/${l[3]}`)
    t.deepEqual(config.p2p.bootstrap, others, name)
    for (const a of config.p2p.bootstrap) t.notThrows(() => multiaddr(a))
    t.is((await stat(join(home, 'node.key'))).mode & 0o777, 0o600, `${name}: key 0600`)
    t.is((await stat(home)).mode & 0o077, 0, `${name}: home closed to others`)
  }
  // Refuses to overwrite keys.
  const again = await exec('bash', [SCRIPT, out], { env: { ...process.env, MEDLEDGER: `${process.execPath} ${BIN}` } }).then(() => 0, (e: { code: number }) => e.code)
  t.is(again, 2)
})
