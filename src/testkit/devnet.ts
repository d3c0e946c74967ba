import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Genesis } from '../chain/genesis.ts'
import { verifyRecordProof } from '../audit/proof-verify.ts'
import { createDevnet, loadDevnet, type DevnetLayout, type DevnetSpec } from '../devnet/setup.ts'
import { setConfigKey } from './config-file.ts'
import { submitValidatorChange, type GovernanceOutcome } from './governance.ts'
import { LinkMesh } from './links.ts'
import { TestNode, type NodeStatus } from './node.ts'
import { TestkitTimeoutError, waitFor } from './wait.ts'

/** Consensus timeouts for tests: a round whose proposer is down fails over in about a second. */
export const FAST_CONSENSUS = { propose_timeout_ms: 1000, prevote_timeout_ms: 500, precommit_timeout_ms: 500, timeout_delta_ms: 200, rebroadcast_ms: 1000 }

/** The names given to validators in order (then validator-7, validator-8, ...). */
export const VALIDATOR_NAMES = ['hospital-a', 'hospital-b', 'hospital-c', 'ministry', 'hospital-d', 'hospital-e', 'hospital-f']

export interface DevnetOptions {
  /** How many validators (named hospital-a, hospital-b, hospital-c, ministry, hospital-d, ...) or their names. Default 4. */
  validators?: number | string[]
  /** How many regulator observers (regulator, regulator-2, ...) or their names. Default 1. */
  observers?: number | string[]
  /**
   * Validators-in-waiting: listed in genesis as observers and run with role = "validator", so they
   * follow the chain and vote once `addValidator` takes effect. A number continues the validator
   * names (with 4 validators, 1 standby is hospital-d). Default none.
   */
  standby?: number | string[]
  /** Members (write records, never vote; docs/protocol.md section 9.1) listed in genesis, by name. Default none. */
  members?: string[]
  /** Members not in genesis yet (keys and homes made; admit them by governance). Default none. */
  joiningMembers?: string[]
  /** A block this long after the last when there are no records. Default 1000. */
  heartbeatMs?: number
  /** Consensus timeouts (config.toml [consensus] keys). Default FAST_CONSENSUS. */
  consensus?: DevnetSpec['consensus']
  chainId?: string
  /** Where the homes go. Default: a new temporary directory, removed by `stop`. A given directory is kept unless `removeDir`. */
  dir?: string
  removeDir?: boolean
  /** Reuse the network already in `dir` (its devnet.json: keys, genesis, chain data) instead of making a new one. */
  resume?: boolean
  /**
   * Route every connection through loopback TCP relays in this process (bootstrap names a relay per
   * ordered pair, announce a relay per node), which `partition` and `heal` cut and restore. Default true.
   */
  relays?: boolean
  /** Daemons shut down when this process exits, even killed by SIGKILL (start --exit-with-fd). Default true. */
  lifeline?: boolean
  /** Wait for every started node's API before resolving. Default true. */
  wait?: boolean
  /** Bound on each node's start (until its API answers). Default 60 s. */
  startTimeoutMs?: number
  /** Nodes whose daemon is not started (start them with `net.node(name).start()`). */
  skip?: string[]
  /** Extra `medledger start` arguments per node name, e.g. { 'hospital-a': ['--log-level', 'debug'] }. */
  extraArgs?: Record<string, string[]>
  /**
   * Per node: node's arguments before `start`, instead of bin/medledger.js (the project's own
   * simulation runs test/helpers/test-daemon.js for its test-only switches).
   */
  entries?: Record<string, string[]>
  /** Runs after the homes exist and before any daemon starts (e.g. to edit a config.toml). */
  beforeStart?: (layout: DevnetLayout) => Promise<void>
}

export interface WaitForHeightOptions {
  /** true (default): every node waited on reaches the height; false: any one of them. */
  all?: boolean
  /** The nodes waited on, by name. Default: every node that is up (started and not stopped, killed, paused or removed). */
  nodes?: string[]
  timeoutMs?: number
}

function names (spec: number | string[] | undefined, dflt: number, make: (i: number) => string): string[] {
  if (Array.isArray(spec)) return spec
  return Array.from({ length: spec ?? dflt }, (_, i) => make(i))
}

/**
 * A network of real medledger daemons on 127.0.0.1 for integration tests: keys, genesis and homes
 * made the way an operator makes them, each node a `medledger start` child process with its own
 * LevelDB, talking libp2p over TCP. Always `stop()` it (in a finally, teardown or after hook).
 */
export class Devnet {
  readonly nodes: TestNode[]
  private mesh: LinkMesh | undefined
  private stopped = false
  private nonce = 0

  private constructor (readonly layout: DevnetLayout, readonly genesis: Genesis, nodes: TestNode[], private readonly ownsDir: boolean) {
    this.nodes = nodes
  }

  get dir (): string { return this.layout.dir }
  get chainId (): string { return this.layout.chainId }
  get genesisFile (): string { return join(this.dir, 'genesis.json') }
  /** Nodes in the validator set (as far as this devnet's governance calls know). */
  get validators (): TestNode[] { return this.nodes.filter(n => n.role === 'validator') }
  get observers (): TestNode[] { return this.nodes.filter(n => n.role === 'observer') }
  /** The relays, when the devnet runs with them (per-link counters, mute, blip). */
  get links (): LinkMesh | undefined { return this.mesh }

  static async start (opts: DevnetOptions = {}): Promise<Devnet> {
    const validators = names(opts.validators, 4, i => VALIDATOR_NAMES[i] ?? `validator-${i + 1}`)
    const observers = names(opts.observers, 1, i => i === 0 ? 'regulator' : `regulator-${i + 1}`)
    const standby = names(opts.standby, 0, i => VALIDATOR_NAMES[validators.length + i] ?? `validator-${validators.length + i + 1}`)
    const all = [...validators, ...observers, ...standby, ...(opts.members ?? []), ...(opts.joiningMembers ?? [])]
    const dup = all.find((n, i) => all.indexOf(n) !== i)
    if (dup !== undefined) throw new Error(`Devnet.start: the node name "${dup}" is given twice`)
    if (!all.every(n => /^[a-z0-9][a-z0-9._-]*$/i.test(n))) throw new Error(`Devnet.start: node names are letters, digits, ".", "_" and "-": ${all.join(', ')}`)
    if (validators.length === 0) throw new Error('Devnet.start: a devnet needs at least one validator')
    for (const s of opts.skip ?? []) if (!all.includes(s)) throw new Error(`Devnet.start: skip names "${s}", which is not a node (nodes: ${all.join(', ')})`)
    const ownsDir = opts.dir === undefined || opts.removeDir === true
    const dir = opts.dir ?? await mkdtemp(join(tmpdir(), 'medledger-testkit-'))
    let net: Devnet | undefined
    try {
      const existing = opts.resume === true && opts.dir !== undefined ? await loadDevnet(dir) : undefined
      const layout = existing ?? await createDevnet({ dir, validators, observers: [...observers, ...standby], members: opts.members ?? [], joiningMembers: opts.joiningMembers ?? [], heartbeatMs: opts.heartbeatMs ?? 1000, consensus: { ...FAST_CONSENSUS, ...opts.consensus }, ...(opts.chainId !== undefined ? { chainId: opts.chainId } : {}) })
      if (existing === undefined) for (const n of layout.nodes) if (standby.includes(n.name)) await setConfigKey(n.home, 'role', '"validator"')
      const genesis = await Genesis.load(join(dir, 'genesis.json'))
      const nodes = layout.nodes.map(n => new TestNode(n, standby.includes(n.name) ? 'standby' : n.role, opts.extraArgs?.[n.name] ?? [], opts.lifeline ?? true, opts.startTimeoutMs ?? 60_000, opts.entries?.[n.name]))
      net = new Devnet(layout, genesis, nodes, ownsDir)
      if (opts.relays ?? true) await net.routeThroughRelays()
      await opts.beforeStart?.(layout)
      const launched = nodes.filter(n => !(opts.skip ?? []).includes(n.name))
      await Promise.all(launched.map(async n => { await n.start({ wait: opts.wait ?? true }) }))
      return net
    } catch (err) {
      if (net !== undefined) await net.stop()
      else if (ownsDir) await rm(dir, { recursive: true, force: true })
      throw err
    }
  }

  /** The node named `name`; throws naming the nodes there are. */
  node (name: string): TestNode {
    const n = this.nodes.find(x => x.name === name)
    if (n === undefined) throw new Error(`no node "${name}" in this devnet (nodes: ${this.nodes.map(x => x.name).join(', ')})`)
    return n
  }

  /** Every node up: started through the testkit and not stopped, killed, paused or removed. */
  get up (): TestNode[] { return this.nodes.filter(n => !n.down && n.role !== 'removed') }

  /** Each node's head as "name=height/hash" (or why it does not answer), for messages. */
  async describeHeads (nodes: TestNode[] = this.nodes): Promise<string> {
    const st = await Promise.all(nodes.map(async n => await n.tryStatus()))
    return nodes.map((n, i) => {
      const s = st[i]
      if (s === undefined) return `${n.name}=${n.running ? (n.down ? 'paused' : 'not answering') : `down (${n.exitDescription()})`}`
      return `${n.name}=${s.height}/${s.headHash?.slice(0, 12) ?? '-'} peers ${s.peers}`
    }).join(', ')
  }

  /**
   * Resolves once every node waited on (default: every node up) reports at least `height`, or with
   * all: false once any of them does; resolves with their statuses. A node that exits fails the wait
   * at once; a timeout names the height and each node's head.
   */
  async waitForHeight (height: number, opts: WaitForHeightOptions = {}): Promise<NodeStatus[]> {
    const nodes = opts.nodes?.map(n => this.node(n)) ?? this.up
    const all = opts.all ?? true
    if (nodes.length === 0) throw new Error(`waitForHeight(${height}): no node to wait on (every node is down)`)
    return await waitFor(`height ${height} on ${all ? 'every one' : 'any one'} of ${nodes.map(n => n.name).join(', ')}`, async () => {
      for (const n of nodes) if (!n.running) throw new Error(`waitForHeight(${height}): ${n.name} is not running (${n.exitDescription()}); heads: ${await this.describeHeads(nodes)}\n${await n.logTail()}`)
      const st = await Promise.all(nodes.map(async n => await n.tryStatus()))
      const reached = st.map(s => s !== undefined && s.height >= height)
      return (all ? reached.every(Boolean) : reached.some(Boolean)) ? st.filter((s): s is NodeStatus => s !== undefined) : undefined
    }, { timeoutMs: opts.timeoutMs ?? 60_000, describe: async () => `heads ${await this.describeHeads(nodes)}` })
  }

  /** Resolves once the nodes (default: every node up) report one head, same height and hash; returns it. */
  async waitForEqualHeads (opts: { nodes?: string[], timeoutMs?: number, minHeight?: number } = {}): Promise<NodeStatus> {
    const nodes = opts.nodes?.map(n => this.node(n)) ?? this.up
    return await waitFor(`one head on ${nodes.map(n => n.name).join(', ')}`, async () => {
      const st = await Promise.all(nodes.map(async n => await n.tryStatus()))
      const first = st[0]
      if (first === undefined || first.height < (opts.minHeight ?? 0)) return undefined
      return st.every(s => s !== undefined && s.height === first.height && s.headHash === first.headHash) ? first : undefined
    }, { timeoutMs: opts.timeoutMs ?? 60_000, everyMs: 150, describe: async () => `heads ${await this.describeHeads(nodes)}` })
  }

  /**
   * Cuts every connection between the two groups (through the relays: existing connections are
   * destroyed and redials refused) until `heal`. Nodes in neither group keep their links.
   */
  async partition (a: string[], b: string[]): Promise<void> {
    const mesh = this.requireRelays('partition')
    for (const n of [...a, ...b]) this.node(n)
    const both = a.filter(n => b.includes(n))
    if (both.length > 0) throw new Error(`partition: ${both.join(', ')} cannot be on both sides`)
    mesh.partition(a, b)
  }

  /** Restores every link cut by `partition`; the nodes reconnect by themselves. */
  async heal (): Promise<void> {
    this.requireRelays('heal').heal()
  }

  /**
   * Adds `name` to the validator set through governance: a quorum of the running validators
   * approves and one submits the change; resolves once it is in effect on every node up. A standby
   * node votes from then on; an observer is switched to role = "validator" and restarted.
   */
  async addValidator (name: string, opts: { timeoutMs?: number } = {}): Promise<GovernanceOutcome> {
    const node = this.node(name)
    if (node.role === 'validator') throw new Error(`addValidator: ${name} is already a validator`)
    const out = await submitValidatorChange(this.chainId, 'add', node, this.nodes, this.nonce++)
    if (node.role === 'observer' || node.role === 'removed') {
      await setConfigKey(node.home, 'role', '"validator"')
      if (node.running) await node.stop()
      await node.start()
    }
    node.role = 'validator'
    await this.waitForHeight(out.effective, { timeoutMs: opts.timeoutMs ?? 60_000 })
    return out
  }

  /**
   * Removes `name` from the validator set through governance; resolves once the removal is in
   * effect on every other node up. The removed daemon keeps running (cut off); its role becomes 'removed'.
   */
  async removeValidator (name: string, opts: { timeoutMs?: number } = {}): Promise<GovernanceOutcome> {
    const node = this.node(name)
    if (node.role !== 'validator') throw new Error(`removeValidator: ${name} is not a validator (${node.role})`)
    const out = await submitValidatorChange(this.chainId, 'remove', node, this.nodes, this.nonce++)
    node.role = 'removed'
    await this.waitForHeight(out.effective, { timeoutMs: opts.timeoutMs ?? 60_000 })
    return out
  }

  /**
   * Checks a record proof (from `node.proof(id)`) offline against this devnet's genesis, as
   * `medledger proof verify` does; throws when it does not hold.
   */
  verifyProof (proof: unknown): { recordId: string, height: number, blockHash: string } {
    return verifyRecordProof(proof, this.genesis)
  }

  /**
   * Kills every daemon, closes the relays and removes the directory (one the testkit made, or
   * any with removeDir). Safe to call twice and after a failed start; never throws for one node.
   */
  async stop (): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    const errors: string[] = []
    await Promise.all(this.nodes.map(async n => {
      n.daemon.proc?.kill('SIGCONT')
      await n.kill().catch((err: Error) => { errors.push(`${n.name}: ${err.message}`) })
    }))
    await this.mesh?.close().catch((err: Error) => { errors.push(`relays: ${err.message}`) })
    if (this.ownsDir && process.env.MEDLEDGER_TESTKIT_KEEP !== '1') await rm(this.dir, { recursive: true, force: true }).catch((err: Error) => { errors.push(`${this.dir}: ${err.message}`) })
    else if (this.ownsDir) process.stderr.write(`medledger testkit: kept ${this.dir} (MEDLEDGER_TESTKIT_KEEP=1; logs in <home>/node.log)\n`)
    if (errors.length > 0) throw new Error(`Devnet.stop: ${errors.join('; ')}`)
  }

  private requireRelays (what: string): LinkMesh {
    if (this.mesh === undefined) throw new Error(`${what} needs the relays: start the devnet with relays: true (the default)`)
    return this.mesh
  }

  private async routeThroughRelays (): Promise<void> {
    // The nodes' ports were free when chosen but are not bound yet: a relay must not take one.
    const taken = new Set(this.layout.nodes.flatMap(n => [n.p2pPort, n.apiPort]))
    let mesh = await LinkMesh.create(this.layout.nodes)
    for (let tries = 0; mesh.all.some(l => taken.has(l.port)); tries++) {
      await mesh.close()
      if (tries === 10) throw new Error('could not place the relays on ports other than the nodes\' own')
      mesh = await LinkMesh.create(this.layout.nodes)
    }
    this.mesh = mesh
    for (const n of this.layout.nodes) {
      const boot = this.layout.nodes.filter(p => p !== n).map(p => `"/ip4/127.0.0.1/tcp/${mesh.link(n.name, p.name).port}/p2p/${p.peerId}"`)
      await setConfigKey(n.home, 'bootstrap', `[${boot.join(', ')}]`)
      await setConfigKey(n.home, 'announce', `["/ip4/127.0.0.1/tcp/${mesh.sharedLink(n.name).port}"]`)
    }
  }
}

export { TestkitTimeoutError }
