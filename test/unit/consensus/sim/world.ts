import { decodeConsensusMessage, encodeConsensusMessage, type ConsensusMessage } from '../../../../src/chain/codec.ts'
import { Genesis, DEFAULT_PARAMS } from '../../../../src/chain/genesis.ts'
import { proposalSignBytes, voteSignBytes } from '../../../../src/chain/hashing.ts'
import { VoteType, type FinalizedBlock } from '../../../../src/chain/types.ts'
import { ChainVerifier } from '../../../../src/chain/verifier.ts'
import { ConsensusDriver } from '../../../../src/consensus/driver.ts'
import type { DriverOptions } from '../../../../src/consensus/options.ts'
import type { Clock, SignatureVerifier } from '../../../../src/consensus/ports.ts'
import type { TimeoutConfig } from '../../../../src/consensus/timeouts.ts'
import type { NodeKey, Signer } from '../../../../src/crypto/ed25519.ts'
import type { SignatureCheck } from '../../../../src/crypto/verify-pool.ts'
import { fromHex, toHex } from '../../../../src/encoding/bytes.ts'
import { GovernanceSchedule } from '../../../../src/governance/schedule.ts'
import { silentLogger } from '../../../../src/logger.ts'
import { Mempool } from '../../../../src/mempool/mempool.ts'
import { testValidators } from '../../../helpers/fixtures.ts'
import { EventQueue } from './event-queue.ts'
import { MemoryConsensusStore, SimDisk, type ArmedCrash } from './memory-store.ts'
import { Prng } from './prng.ts'

/**
 * The simulated world around real ConsensusDrivers (src/consensus/driver.ts): a virtual clock (the
 * drivers' Clock port), a network that is hostile until GST (random delays that reorder, losses,
 * duplicates, partitions) and reliable after it (delays up to DELTA_AFTER_GST), sync from peers'
 * disks, and crashes at any await point of the store port (sim/memory-store.ts). One event runs at
 * a time and every promise it starts settles before the next (drain), so a seed replays exactly.
 * The world records the invariants as they break:
 * - SAFETY: no two different blocks final at one height across honest nodes (decided or synced);
 * - DOUBLE-SIGN: no honest validator signs two different messages for one (h, r, step), restarts included;
 * - GUARD / STORE: the guard never moves back, a commit always extends the head (memory-store.ts).
 */

export const SIM_TIMEOUTS: TimeoutConfig = { proposeMs: 200, prevoteMs: 100, precommitMs: 100, deltaMs: 50 }
export const DELTA_AFTER_GST = 30
export const HEARTBEAT_MS = 100
export const REBROADCAST_MS = 300
/** A node asks a peer for the blocks it lacks this long after requestSync, and polls peers' heads this often. */
export const SYNC_MS = 100
export const STATUS_MS = 500
export const SIM_GENESIS_TIME = 1_800_000_000_000

export interface NetworkChaos {
  drop: number
  /** Extra loss of precommits: nodes leave rounds without learning their outcome, where locks must hold. */
  dropPrecommit: number
  /** Extra loss of catch-up traffic (sync). */
  dropCatchUp: number
  /** Chance to cut a node off right after it decides, so the others finish without its decision. */
  isolateDecider: number
  dup: number
  maxDelay: number
}

export interface WorldOptions {
  seed: number
  n: number
  /** Index of the Byzantine validator (a real driver that equivocates), or -1. */
  byzantine: number
  observer: boolean
  gst: number
  chaos: NetworkChaos
}

interface Partition { start: number, end: number, side: Set<number> }

/** The validators' keys (real Ed25519), shared by every run. */
const keyCache = new Map<number, NodeKey[]>()
function simKeys (n: number): NodeKey[] {
  let k = keyCache.get(n)
  if (k === undefined) { k = testValidators(n); keyCache.set(n, k) }
  return k
}

/**
 * The signatures of one run. Every signature a signer makes is recorded, and the verifier port
 * (`verifier`) accepts a signature exactly when the key's holder made it over that message: the
 * ideal signature scheme, at the cost of a map lookup (the end of each run checks a piece of
 * evidence with real Ed25519). Signing is real Ed25519, memoised per message within the run
 * (Ed25519 is deterministic, so a memoised signature is the very one signing again would give).
 */
export class SimSignatures {
  private readonly made = new Map<string, Map<string, string>>()

  signer (k: NodeKey): Signer {
    const made = new Map<string, string>()
    this.made.set(toHex(k.publicKey), made)
    return {
      publicKey: k.publicKey,
      sign: (m: Uint8Array) => {
        const key = toHex(m)
        const sig = made.get(key)
        if (sig !== undefined) return fromHex(sig)
        const fresh = k.sign(m)
        made.set(key, toHex(fresh))
        return fresh
      }
    }
  }

  /** True exactly when the key's holder signed this message to this signature in this run. */
  check (c: SignatureCheck): boolean {
    return this.made.get(toHex(c.publicKey))?.get(toHex(c.message)) === toHex(c.signature)
  }

  /** The VerifyPool's port (and the ChainVerifier's pool) of this run. */
  readonly verifier: SignatureVerifier & { verifyAll: (checks: SignatureCheck[]) => Promise<boolean[]> } = {
    verifyEvery: async (checks) => checks.every(c => this.check(c)),
    verifyAll: async (checks) => checks.map(c => this.check(c))
  }
}

const genesisCache = new Map<number, Genesis>()
export function simGenesis (n: number): Genesis {
  let g = genesisCache.get(n)
  if (g === undefined) {
    g = new Genesis({ chainId: 'medledger-sim', genesisTime: SIM_GENESIS_TIME, validators: simKeys(n).map((k, i) => ({ name: `validator-${i}`, publicKey: k.publicKey })), observers: [], params: { ...DEFAULT_PARAMS, heartbeatMs: HEARTBEAT_MS } })
    genesisCache.set(n, g)
  }
  return g
}

/** One incarnation of a node: lost, with all its memory, when the node crashes. */
interface Incarnation {
  driver: ConsensusDriver
  store: MemoryConsensusStore
  alive: boolean
  syncPending: boolean
}

export class SimNode {
  readonly disk = new SimDisk()
  inc: Incarnation | undefined
  readonly stats = { decided: 0, synced: 0, restarts: 0, crashes: 0 }
  /** A crash to arm as soon as the node is up (or at once if it is). */
  constructor (readonly id: number, readonly signer: Signer | null, readonly byzantine: boolean) {}

  get up (): boolean { return this.inc?.alive === true }
  get height (): number { return this.disk.height }
  get round (): number { return this.inc?.alive === true ? this.inc.driver.currentRound : 0 }
}

export class SimWorld {
  readonly prng: Prng
  readonly n: number
  readonly byz: number
  readonly gst: number
  readonly genesis: Genesis
  readonly nodes: SimNode[]
  readonly violations: string[] = []
  readonly signatures = new SimSignatures()
  now = 0
  events = 0
  crashes = 0
  evidenceSeen = 0
  private readonly chaos: NetworkChaos
  private readonly queue = new EventQueue<() => void>()
  private readonly partitions: Partition[] = []
  private readonly finals = new Map<number, { hash: string, node: number }>()
  private readonly signedByHonest = new Map<string, string>()

  constructor (o: WorldOptions) {
    this.prng = new Prng(o.seed)
    this.n = o.n
    this.byz = o.byzantine
    this.gst = o.gst
    this.chaos = o.chaos
    this.genesis = simGenesis(o.n)
    const keys = simKeys(o.n)
    this.nodes = Array.from({ length: o.n + (o.observer ? 1 : 0) }, (_, id) => new SimNode(id, id < o.n ? this.signatures.signer(keys[id]) : null, id === o.byzantine))
  }

  get honest (): SimNode[] { return this.nodes.filter(x => !x.byzantine) }
  get partitionCount (): number { return this.partitions.length }

  at (time: number, fn: () => void): void { this.queue.push(time, fn) }

  partition (start: number, end: number, side: Set<number>): void { this.partitions.push({ start, end, side }) }

  /** Starts (or restarts) node `id` from its disk: a new driver, mempool and schedule; the disk as the crash left it. */
  boot (id: number): void {
    const x = this.nodes[id]
    if (x.up) return
    if (x.inc !== undefined) x.stats.restarts++
    const genesis = this.genesis
    const schedule = new GovernanceSchedule(genesis.validators, genesis.params.governanceDelay)
    // eslint-disable-next-line prefer-const -- alive() and the timers close over it before the driver exists
    let inc: Incarnation | undefined
    const alive = (): boolean => inc?.alive === true
    const store = new MemoryConsensusStore(x.disk, alive, () => { this.crash(id) }, what => this.violations.push(`${what} (node ${id}, t=${this.now})`))
    const clock: Clock = {
      now: () => SIM_GENESIS_TIME + this.now,
      setTimeout: (fn, ms) => {
        const t = { cancelled: false }
        this.queue.push(this.now + Math.max(0, ms), () => { if (!t.cancelled && alive()) fn() })
        return t
      },
      clearTimeout: (t) => { (t as { cancelled: boolean }).cancelled = true }
    }
    const options: DriverOptions = {
      timeouts: SIM_TIMEOUTS,
      heartbeatMs: HEARTBEAT_MS,
      rebroadcastMs: REBROADCAST_MS,
      maxBlockBytes: 1024 * 1024,
      maxBatchesPerBlock: 100,
      maxFutureMessages: 10_000,
      byzantine: x.byzantine
    }
    const driver = new ConsensusDriver(options, {
      genesis,
      schedule,
      store,
      mempool: new Mempool({ maxBytes: 1024 * 1024, maxBatches: 100 }),
      pool: this.signatures.verifier,
      verifier: new ChainVerifier(genesis.chainId, schedule, this.signatures.verifier, store),
      signer: x.signer,
      network: {
        publishConsensus: (bytes) => { if (alive()) this.publish(x, bytes) },
        // The simulation's network carries proposals whole; compact proposals are the libp2p network's (test/e2e).
        publishProposal: (proposal) => { if (alive()) this.publish(x, encodeConsensusMessage({ kind: 'proposal', proposal })) },
        requestSync: () => { if (alive()) this.requestSync(x) }
      },
      logger: silentLogger,
      onFinalized: (fb) => { this.onFinalized(x, fb) },
      onFatal: (err) => { this.violations.push(`FATAL: node ${id} halted: ${err.message}`) },
      clock
    })
    inc = { driver, store, alive: true, syncPending: false }
    x.inc = inc
    void driver.start().catch(err => { if (alive()) this.violations.push(`START: node ${id}: ${(err as Error).message}`) })
    this.pollStatus(x, inc)
  }

  /** Crashes node `id` now: its memory is gone, its disk stays as the store port left it. */
  crash (id: number): void {
    const x = this.nodes[id]
    if (x.inc === undefined || !x.inc.alive) return
    x.inc.alive = false
    x.stats.crashes++
    this.crashes++
  }

  /** Arms a crash of node `id` at its `countdown`-th store call from now (a write applied or not). */
  armCrash (id: number, crash: ArmedCrash): void {
    const x = this.nodes[id]
    if (x.up) (x.inc as Incarnation).store.armed = crash
  }

  disarm (): void {
    for (const x of this.nodes) if (x.inc !== undefined) x.inc.store.armed = undefined
  }

  /**
   * Runs events until `done` holds (true), the clock passes `deadline` or the queue runs dry
   * (false). After each event every promise it started settles (the store port is in memory and
   * the verifier synchronous, so one macrotask turn drains them): the order of events alone decides.
   */
  async runUntil (done: () => boolean, deadline: () => number, maxEvents = 200_000): Promise<boolean> {
    for (;;) {
      if (done()) return true
      const next = this.queue.peekTime()
      if (next === undefined) { this.violations.push('the event queue ran dry'); return false }
      if (next > deadline()) { this.now = Math.max(this.now, deadline()); return false }
      const e = this.queue.pop()!
      this.now = e.time
      e.item()
      await drain()
      if (++this.events > maxEvents) { this.violations.push(`more than ${maxEvents} events`); return false }
    }
  }

  private partitioned (a: number, b: number): boolean {
    if (this.now >= this.gst) return false
    for (const p of this.partitions) if (this.now >= p.start && this.now < p.end && p.side.has(a) !== p.side.has(b)) return true
    return false
  }

  private publish (from: SimNode, bytes: Uint8Array): void {
    const msg = decodeConsensusMessage(bytes)
    if (!from.byzantine) this.noteSigned(from, msg)
    const hostile = this.now < this.gst
    const c = this.chaos
    for (const to of this.nodes) {
      if (to === from || this.partitioned(from.id, to.id)) continue
      if (hostile && (this.prng.chance(c.drop) || (msg.kind === 'vote' && msg.vote.type === VoteType.PRECOMMIT && this.prng.chance(c.dropPrecommit)))) continue
      const copies = this.prng.chance(hostile ? c.dup : 0.02) ? 2 : 1
      for (let i = 0; i < copies; i++) {
        const delay = 1 + this.prng.int(hostile ? c.maxDelay : DELTA_AFTER_GST)
        this.queue.push(this.now + delay, () => {
          const inc = to.inc
          if (inc === undefined || !inc.alive || this.partitioned(from.id, to.id)) return
          void inc.driver.onMessage(decodeConsensusMessage(bytes), `peer-${from.id}`, bytes.length).catch(err => this.unexpected(to, err))
        })
      }
    }
  }

  /** Sync: SYNC_MS after a request, the blocks we lack (up to 16) from a reachable peer that has them. */
  private requestSync (x: SimNode): void {
    const inc = x.inc as Incarnation
    if (inc.syncPending) return
    inc.syncPending = true
    this.queue.push(this.now + SYNC_MS, () => {
      inc.syncPending = false
      if (!inc.alive) return
      const ahead = this.nodes.filter(p => p !== x && p.up && p.height > x.height && !this.partitioned(p.id, x.id))
      if (ahead.length === 0) return
      if (this.now < this.gst && this.prng.chance(this.chaos.dropCatchUp)) return
      const peer = this.prng.pick(ahead)
      const run = peer.disk.blocks.slice(x.height, x.height + 16)
      const before = x.height
      void inc.driver.applySynced(run).then(() => { if (inc.alive) x.stats.synced += Math.max(0, x.height - before) }, err => this.unexpected(x, err))
    })
  }

  /** The network's status exchange: every STATUS_MS a node learns whether a peer's head is ahead. */
  private pollStatus (x: SimNode, inc: Incarnation): void {
    this.queue.push(this.now + STATUS_MS, () => {
      if (!inc.alive) return
      if (this.nodes.some(p => p !== x && p.up && p.height > x.height && !this.partitioned(p.id, x.id))) this.requestSync(x)
      this.pollStatus(x, inc)
    })
  }

  private unexpected (x: SimNode, err: unknown): void {
    if (x.up) this.violations.push(`ERROR: node ${x.id}: ${(err as Error).stack ?? String(err)}`)
  }

  private noteSigned (node: SimNode, msg: ConsensusMessage): void {
    const chainId = this.genesis.chainId
    let slot: string
    let content: string
    if (msg.kind === 'vote') {
      const v = msg.vote
      // Honest nodes re-send others' prevotes (the polka rebroadcast): only their own count here.
      if (node.signer === null || toHex(v.validator) !== toHex(node.signer.publicKey)) return
      slot = `${v.height}/${v.round}/${v.type === VoteType.PREVOTE ? 'prevote' : 'precommit'}`
      content = toHex(voteSignBytes(chainId, v))
    } else {
      const p = msg.proposal.header
      slot = `${p.height}/${p.round}/proposal`
      content = toHex(proposalSignBytes(chainId, p))
    }
    const key = `${node.id}:${slot}`
    const before = this.signedByHonest.get(key)
    if (before === undefined) this.signedByHonest.set(key, content)
    else if (before !== content) this.violations.push(`DOUBLE-SIGN: honest validator ${node.id} signed two different messages at ${slot} (t=${this.now})`)
  }

  private onFinalized (x: SimNode, fb: FinalizedBlock): void {
    const h = fb.block.header.height
    if (fb.block.body.evidence.length > 0) this.evidenceSeen += fb.block.body.evidence.length
    if (this.now < this.gst && this.prng.chance(this.chaos.isolateDecider)) {
      this.partition(this.now, Math.min(this.gst, this.now + 200 + this.prng.int(2000)), new Set([x.id]))
    }
    if (x.byzantine) return
    const hash = toHex(fb.certificate.blockHash)
    const first = this.finals.get(h)
    if (first === undefined) this.finals.set(h, { hash, node: x.id })
    else if (first.hash !== hash) this.violations.push(`SAFETY: height ${h} final as ${first.hash.slice(0, 8)} at node ${first.node} and as ${hash.slice(0, 8)} at node ${x.id} (t=${this.now})`)
  }

  describe (): string {
    return this.nodes.map(x => `${x.id}${x.byzantine ? '(byz)' : ''}:${x.up ? 'up' : 'down'} h=${x.height} r=${x.round} guard=${JSON.stringify(x.disk.lastSigned)}`).join('; ')
  }
}

/** Lets every promise started by the last event settle: all of them resolve in microtasks, which run before the next macrotask. */
async function drain (): Promise<void> {
  await new Promise<void>(resolve => setImmediate(resolve))
}
