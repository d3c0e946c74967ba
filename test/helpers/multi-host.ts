// The five-host network of configs/five-hosts (three hospitals and the ministry validate, the
// regulator observes), each host a network namespace of a NetnsLab (test/helpers/netns.ts) with
// its own address, set up with the CLI as its operator would: `keys generate` on every host,
// `genesis create` on the ministry's, `init --p2p-listen /ip4/0.0.0.0/tcp/26656 --bootstrap ...`
// and `start` on every host. Between the hosts, latency: each host runs a DelayRelay
// (src/testkit/delay-relay.ts) on its port 26657 in front of its node, and the bootstrap lists
// name the peers' relay addresses, so every connection one host opens to another crosses exactly
// one relay (`delayMs` each way). The test process reaches each node's API (127.0.0.1:8080 inside
// its namespace, as init sets it) through a door: a listening socket made here, on this
// namespace's 127.0.0.1, handed to the host's relay process, which forwards it to the API. The
// door does not cross the bridge, so it keeps working while the host's cable is cut or its
// address changes. docs/testing.md, "Multi-host tier".
import { spawn, execFile, type ChildProcess } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { once } from 'node:events'
import { createInterface, type Interface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { compiledSrc } from '../../bin/compile.js'
import { BIN, DAEMON_ENV, Daemon } from '../../src/devnet/daemon.ts'
import type { DevnetNode } from '../../src/devnet/setup.ts'
import { setConfigKey } from '../../src/testkit/config-file.ts'
import { waitFor } from '../../src/testkit/wait.ts'
import { NetnsLab } from './netns.ts'

const exec = promisify(execFile)
const HOST_RELAY = fileURLToPath(new URL('./host-relay.ts', import.meta.url))

export const P2P_PORT = 26656
/** Where each host's delaying relay listens (in front of its node's P2P_PORT). */
export const RELAY_PORT = 26657
export const API_LISTEN = '127.0.0.1:8080'

/** configs/five-hosts: the hosts, in the order of its table. */
export const FIVE_HOSTS: ReadonlyArray<{ name: string, role: 'validator' | 'observer' }> = [
  { name: 'hospital-a', role: 'validator' },
  { name: 'hospital-b', role: 'validator' },
  { name: 'hospital-c', role: 'validator' },
  { name: 'ministry', role: 'validator' },
  { name: 'regulator', role: 'observer' }
]

export interface Host {
  name: string
  role: 'validator' | 'observer'
  peerId: string
  home: string
  /** The node, started inside the host's namespace; its `api` is the door. */
  daemon: Daemon
  relay: ChildProcess
  /** The relay's stdout, by line (its answers). */
  relayLines: Interface
}

/** A node's /v1/status, the fields the tier reads. */
export interface HostStatus {
  height: number
  headHash: string | null
  peers: number
  round: number
  /** One entry per connection. */
  connectedPeers?: Array<{ peerId: string, name: string | null, role: string, address: string, direction: 'inbound' | 'outbound' }>
}

export interface MultiHostOptions {
  /** One-way latency between any two hosts (ms). */
  delayMs: number
  /** Genesis heartbeat: an empty block this long after the last while idle. */
  heartbeatMs?: number
  chainId?: string
  /** More `medledger start` arguments for every node, e.g. ['--set', 'consensus.propose_timeout_ms=1000']. */
  startArgs?: string[]
  /**
   * Each node announces its relay address (config p2p.announce, as behind a port forward), so
   * identify teaches the others that address and a redial crosses the relay too. Without it a
   * redial may go straight to the node's own port (what identify reports for 0.0.0.0), past the delay.
   */
  announceRelay?: boolean
}

export class MultiHostNetwork {
  readonly hosts = new Map<string, Host>()
  private closed = false

  private constructor (readonly lab: NetnsLab, readonly dir: string) {}

  /** Makes the lab and the five homes, and starts each host's relay; no node runs yet (`start`). */
  static async create (opts: MultiHostOptions): Promise<MultiHostNetwork> {
    compiledSrc({ quiet: true })
    const lab = await NetnsLab.create(FIVE_HOSTS.map(h => h.name))
    const dir = await mkdtemp(join(tmpdir(), 'medledger-multihost-'))
    const net = new MultiHostNetwork(lab, dir)
    try {
      await net.setUp(opts)
    } catch (err) {
      await net.close()
      throw err
    }
    return net
  }

  /** Runs `medledger <args>` on the host (in its namespace) and parses the JSON it prints. */
  async cli (host: string, args: string[]): Promise<Record<string, unknown>> {
    try {
      const { stdout } = await exec('ip', ['netns', 'exec', this.lab.host(host).ns, process.execPath, BIN, ...args], { timeout: 120_000, env: { ...DAEMON_ENV, ...process.env } })
      return JSON.parse(stdout) as Record<string, unknown>
    } catch (err) {
      const e = err as { stderr?: string, message: string }
      throw new Error(`medledger ${args.slice(0, 2).join(' ')} on ${host}: ${(e.stderr ?? '').trim() || e.message}`)
    }
  }

  private async setUp (opts: MultiHostOptions): Promise<void> {
    // 1. Each host makes its own key.
    const keys = await Promise.all(FIVE_HOSTS.map(async h => {
      const file = join(this.dir, `${h.name}.key`)
      const out = await this.cli(h.name, ['keys', 'generate', '--out', file]) as { peerId: string, encryptionKey: string }
      return { ...h, file, peerId: out.peerId, encryptionKey: out.encryptionKey }
    }))
    // 2. The ministry writes the genesis from the peer ids and encryption keys the hosts sent.
    const genesis = join(this.dir, 'genesis.json')
    const args = ['genesis', 'create', '--chain-id', opts.chainId ?? 'national-health', '--heartbeat-ms', String(opts.heartbeatMs ?? 1000), '--out', genesis]
    for (const k of keys) args.push(...(k.role === 'validator' ? ['--validator', `${k.name}=${k.peerId}`, '--encryption-key', `${k.name}=${k.encryptionKey}`] : ['--observer', `${k.name}=${k.peerId}`]))
    await this.cli('ministry', args)
    // 3. Each host makes its home, dialling the other four at their relays.
    await Promise.all(keys.map(async k => {
      const home = join(this.dir, k.name)
      const bootstrap = keys.filter(o => o !== k).flatMap(o => ['--bootstrap', this.relayAddress(o.name, o.peerId)])
      await this.cli(k.name, ['init', '--home', home, '--genesis', genesis, '--key', k.file, '--role', k.role, '--p2p-listen', `/ip4/0.0.0.0/tcp/${P2P_PORT}`, '--api-listen', API_LISTEN, ...bootstrap])
      if (opts.announceRelay === true) await setConfigKey(home, 'announce', `["/ip4/${this.lab.host(k.name).ip}/tcp/${RELAY_PORT}"]`)
      const token = (await readFile(join(home, 'api.token'), 'utf8')).trim()
      const relay = await this.startRelay(k.name, opts.delayMs)
      const node: DevnetNode = { name: k.name, role: k.role, home, peerId: k.peerId, p2pPort: P2P_PORT, apiPort: relay.doorPort, token }
      const daemon = new Daemon(node, ['--log-level', process.env.MULTIHOST_LOG_LEVEL ?? 'info', ...(opts.startArgs ?? [])], { lifeline: true, wrap: this.lab.wrap(k.name) })
      this.hosts.set(k.name, { name: k.name, role: k.role, peerId: k.peerId, home, daemon, relay: relay.proc, relayLines: relay.lines })
    }))
  }

  /** The address the other hosts dial: the host's relay. */
  relayAddress (name: string, peerId = this.host(name).peerId): string {
    return `/ip4/${this.lab.host(name).ip}/tcp/${RELAY_PORT}/p2p/${peerId}`
  }

  /** The host's relay process: the delaying relay on its address, and the door to its API. */
  private async startRelay (name: string, delayMs: number): Promise<{ proc: ChildProcess, lines: Interface, doorPort: number }> {
    const door = createServer()
    await new Promise<void>((resolve, reject) => { door.once('error', reject).listen(0, '127.0.0.1', () => { resolve() }) })
    const doorPort = (door.address() as { port: number }).port
    const fd = (door as unknown as { _handle: { fd: number } })._handle.fd
    const [api, apiPort] = API_LISTEN.split(':')
    const spec = {
      relays: [
        { listen: { host: '0.0.0.0', port: RELAY_PORT }, target: { host: '127.0.0.1', port: P2P_PORT }, delayMs, sourceOnLoopback: true, adjustable: true },
        { listen: { fd: 3 }, target: { host: api, port: Number(apiPort) }, delayMs: 0 }
      ]
    }
    const proc = spawn('ip', ['netns', 'exec', this.lab.host(name).ns, process.execPath, '--import', 'tsx', HOST_RELAY, JSON.stringify(spec)], { stdio: ['pipe', 'pipe', 'pipe', fd] })
    // The relay process holds the door's socket now; this process must not accept on it.
    door.close()
    const errors: string[] = []
    proc.stderr?.on('data', (b: Buffer) => { errors.push(b.toString()) })
    const lines = createInterface({ input: proc.stdout! })
    const ready = await new Promise<boolean>(resolve => {
      lines.once('line', () => { resolve(true) })
      proc.once('exit', () => { resolve(false) })
    })
    if (!ready) throw new Error(`the relay on ${name} did not start: ${errors.join('').trim()}`)
    return { proc, lines, doorPort }
  }

  host (name: string): Host {
    const h = this.hosts.get(name)
    if (h === undefined) throw new Error(`no host ${name}`)
    return h
  }

  get names (): string[] { return FIVE_HOSTS.map(h => h.name) }
  get validators (): string[] { return FIVE_HOSTS.filter(h => h.role === 'validator').map(h => h.name) }

  /** Starts the nodes (all by default) and resolves once each one's API answers. */
  async start (names: string[] = this.names, timeoutMs = 90_000): Promise<void> {
    for (const n of names) this.host(n).daemon.start()
    await Promise.all(names.map(async n => await waitFor(`${n}'s API`, async () => {
      const d = this.host(n).daemon
      if (!d.running) throw new Error(`${n} exited during start; its log ends:\n${await this.logTail(n)}`)
      return await this.status(n)
    }, { timeoutMs })))
  }

  /** Stops a node: SIGTERM, SIGKILL after 15 s. */
  async stop (name: string, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const d = this.host(name).daemon
    const timer = setTimeout(() => { void d.stop('SIGKILL') }, 15_000)
    await d.stop(signal)
    clearTimeout(timer)
  }

  async status (name: string): Promise<HostStatus | undefined> {
    try {
      const res = await fetch(`${this.host(name).daemon.api}/v1/status`, { signal: AbortSignal.timeout(3000) })
      return res.ok ? await res.json() as HostStatus : undefined
    } catch {
      return undefined
    }
  }

  async heights (names: string[] = this.names): Promise<Record<string, number | undefined>> {
    const out: Record<string, number | undefined> = {}
    await Promise.all(names.map(async n => { out[n] = (await this.status(n))?.height }))
    return out
  }

  /** Resolves once every named node reports at least `height`. */
  async waitForHeight (height: number, names: string[] = this.names, timeoutMs = 60_000): Promise<void> {
    let last: Record<string, number | undefined> = {}
    await waitFor(`height ${height} on ${names.join(', ')}`, async () => {
      last = await this.heights(names)
      return names.every(n => (last[n] ?? -1) >= height)
    }, { timeoutMs, everyMs: 250, describe: () => JSON.stringify(last) })
  }

  /** Sets the one-way delay of every host's relay (existing connections included). */
  async setDelay (delayMs: number): Promise<void> {
    await Promise.all([...this.hosts.values()].map(async h => {
      const ack = once(h.relayLines, 'line')
      h.relay.stdin?.write(JSON.stringify({ delayMs }) + '\n')
      await ack
    }))
  }

  async logTail (name: string, lines = 20): Promise<string> {
    return (await readFile(join(this.host(name).home, 'node.log'), 'utf8').catch(() => '')).trim().split('\n').slice(-lines).join('\n')
  }

  /** Stops every node and relay, removes the namespaces, the bridge and the homes. Safe to call twice. */
  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    await Promise.all([...this.hosts.keys()].map(async n => { await this.stop(n).catch(() => {}) }))
    for (const h of this.hosts.values()) {
      h.relay.stdin?.end()
      h.relay.kill('SIGKILL')
    }
    await this.lab.destroy()
    if (process.env.MULTIHOST_KEEP === undefined) await rm(this.dir, { recursive: true, force: true })
  }
}
