import { VoteType, type Evidence } from '../../../../src/chain/types.ts'
import { bytesEqual } from '../../../../src/encoding/bytes.ts'
import type { TimeoutConfig } from '../../../../src/consensus/timeouts.ts'
import { EventQueue } from './event-queue.ts'
import { Prng } from './prng.ts'
import { hex, simKeys, verifyProposal, verifyVote, type CommitRecord, type Wire } from './messages.ts'
import { SimNode, type CrashPoint, type SimEnv } from './node.ts'
import { ByzantineNode } from './byzantine.ts'

/**
 * The simulated world: nodes, a virtual clock, and a network that is hostile until GST (random
 * delays that reorder, drops, duplicates, partitions) and reliable after it (delays up to
 * DELTA_AFTER_GST, rare duplicates). It records the invariants as they are broken:
 * - SAFETY: no two different blocks final at one height across honest nodes (decided or synced),
 *   and every certificate a node accepts is a valid quorum;
 * - DOUBLE-SIGN: no honest validator ever signs two different messages for one (h, r, step),
 *   restarts included;
 * - EVIDENCE (checkEvidence, at the end): a node whose machine was fed two conflicting messages of
 *   one validator holds evidence of it; all evidence held names the Byzantine validator and verifies
 *   under its public key.
 */

export const SIM_TIMEOUTS: TimeoutConfig = { proposeMs: 200, prevoteMs: 100, precommitMs: 100, deltaMs: 50 }
export const GOSSIP_MS = 150
export const DELTA_AFTER_GST = 30

export interface NetworkChaos {
  drop: number
  /** Extra loss of precommits: nodes leave rounds without learning their outcome, where locks must hold. */
  dropPrecommit: number
  /** Extra loss of catch-up traffic (pulls and sync). */
  dropCatchUp: number
  /** Chance to cut a node off right after it decides, so the others finish without its decision. */
  isolateDecider: number
  dup: number
  maxDelay: number
}

export const CALM: NetworkChaos = { drop: 0, dropPrecommit: 0, dropCatchUp: 0, isolateDecider: 0, dup: 0, maxDelay: DELTA_AFTER_GST }

interface Partition { start: number, end: number, side: Set<number> }

export interface WorldOptions {
  seed: number
  n: number
  /** Index of the Byzantine validator, or -1. */
  byzantine: number
  observer: boolean
  gst: number
  chaos: NetworkChaos
}

export class SimWorld {
  readonly prng: Prng
  readonly n: number
  readonly byz: number
  readonly gst: number
  readonly validators: Uint8Array[]
  readonly nodes: SimNode[]
  readonly violations: string[] = []
  now = 0
  events = 0
  crashes = 0
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
    const keys = simKeys(o.n)
    this.validators = keys.map(k => k.publicKey)
    const ids = Array.from({ length: o.n + (o.observer ? 1 : 0) }, (_, i) => i)
    const env: SimEnv = {
      now: () => this.now,
      prng: this.prng.fork(),
      validators: this.validators,
      timeouts: SIM_TIMEOUTS,
      gossipMs: GOSSIP_MS,
      nodeIds: ids,
      at: (time, fn) => this.queue.push(time, fn),
      send: (from, to, msg) => this.send(from, to, msg),
      onSigned: (node, msg) => this.onSigned(node, msg),
      onCommit: (node, c, how) => this.onCommit(node, c, how),
      violation: what => this.violations.push(what),
      trace: process.env.MEDLEDGER_SIM_TRACE === undefined ? undefined : line => { console.log(line) }
    }
    this.nodes = ids.map(id => {
      const key = id < o.n ? keys[id] : null
      return id === o.byzantine ? new ByzantineNode(id, key, env) : new SimNode(id, key, env)
    })
  }

  get honest (): SimNode[] {
    return this.nodes.filter(x => x.id !== this.byz)
  }

  at (time: number, fn: () => void): void {
    this.queue.push(time, fn)
  }

  partition (start: number, end: number, side: Set<number>): void {
    this.partitions.push({ start, end, side })
  }

  get partitionCount (): number {
    return this.partitions.length
  }

  /** Crashes node `id` now, or at its next signature (after the snapshot or the guard reached disk). */
  crash (id: number, point: CrashPoint = 'between-events'): void {
    const x = this.nodes[id]
    if (!x.up) return
    this.crashes++
    if (point === 'between-events') x.crash()
    else x.pendingCrash = point
  }

  /** Runs events until `done` holds (true), the clock passes `deadline` or the queue runs dry (false). */
  runUntil (done: () => boolean, deadline: () => number, maxEvents = 3_000_000): boolean {
    for (;;) {
      if (done()) return true
      const next = this.queue.peekTime()
      if (next === undefined) { this.violations.push('the event queue ran dry'); return false }
      if (next > deadline()) { this.now = Math.max(this.now, deadline()); return false }
      const e = this.queue.pop()!
      this.now = e.time
      e.item()
      if (++this.events > maxEvents) { this.violations.push(`more than ${maxEvents} events`); return false }
    }
  }

  private partitioned (a: number, b: number): boolean {
    if (this.now >= this.gst) return false
    for (const p of this.partitions) if (this.now >= p.start && this.now < p.end && p.side.has(a) !== p.side.has(b)) return true
    return false
  }

  private send (from: number, to: number, msg: Wire): void {
    if (!this.nodes[from].up || this.partitioned(from, to)) return
    const hostile = this.now < this.gst
    const c = this.chaos
    if (hostile) {
      const extra = msg.kind === 'vote' ? (msg.vote.type === VoteType.PRECOMMIT ? c.dropPrecommit : 0) : msg.kind === 'proposal' ? 0 : c.dropCatchUp
      if (this.prng.chance(c.drop) || this.prng.chance(extra)) return
    }
    const copies = this.prng.chance(hostile ? c.dup : 0.02) ? 2 : 1
    for (let i = 0; i < copies; i++) {
      const delay = 1 + this.prng.int(hostile ? c.maxDelay : DELTA_AFTER_GST)
      this.queue.push(this.now + delay, () => { if (!this.partitioned(from, to)) this.nodes[to].receive(from, msg) })
    }
  }

  private onSigned (node: SimNode, msg: Wire): void {
    if (node.id === this.byz) return
    const [slot, content] = signedSlot(msg)
    const key = `${node.id}:${slot}`
    const before = this.signedByHonest.get(key)
    if (before === undefined) this.signedByHonest.set(key, content)
    else if (before !== content) this.violations.push(`DOUBLE-SIGN: honest validator ${node.id} signed ${slot} as ${before.slice(0, 8)} and as ${content.slice(0, 8)} at t=${this.now}`)
  }

  private onCommit (node: SimNode, c: CommitRecord, how: 'decided' | 'synced'): void {
    if (this.now < this.gst && how === 'decided' && this.prng.chance(this.chaos.isolateDecider)) {
      this.partition(this.now, Math.min(this.gst, this.now + 200 + this.prng.int(2000)), new Set([node.id]))
    }
    if (node.id === this.byz) return
    const hash = hex(c.blockHash)
    const first = this.finals.get(c.height)
    if (first === undefined) this.finals.set(c.height, { hash, node: node.id })
    else if (first.hash !== hash) this.violations.push(`SAFETY: height ${c.height} final as ${first.hash.slice(0, 8)} at node ${first.node} and as ${hash.slice(0, 8)} at node ${node.id} (${how}, t=${this.now})`)
  }

  /** The end-of-run checks: evidence, and that the live honest chains are prefixes of one another. */
  finalChecks (live: SimNode[]): void {
    checkEvidence(this.nodes, this.byz, this.validators, this.violations)
    checkCommitsAgree(live, this.violations)
  }

  describe (): string {
    return this.nodes.map(x => x.describe()).join('; ')
  }
}

/** The slot a signed message occupies for the double-sign rule, and its content. */
function signedSlot (msg: Wire): [string, string] {
  if (msg.kind === 'proposal') return [`${msg.proposal.height}/${msg.proposal.round}/proposal`, `${hex(msg.proposal.blockHash)}/${msg.proposal.validRound}`]
  if (msg.kind === 'vote') return [`${msg.vote.height}/${msg.vote.round}/${msg.vote.type === VoteType.PREVOTE ? 'prevote' : 'precommit'}`, msg.vote.blockHash === null ? 'nil' : hex(msg.vote.blockHash)]
  throw new Error('only proposals and votes are signed')
}

function checkEvidence (nodes: SimNode[], byz: number, validators: Uint8Array[], violations: string[]): void {
  for (const x of nodes) {
    if (x.id === byz) continue
    const held = new Set<string>()
    for (const e of x.disk.evidence) {
      const problem = evidenceProblem(e, byz >= 0 ? validators[byz] : null)
      if (problem !== null) violations.push(`EVIDENCE: node ${x.id} holds bad evidence: ${problem}`)
      held.add(evidenceSlot(e, validators))
    }
    for (const [slot, { validator }] of x.mustHaveEvidence) {
      if (validator !== byz) violations.push(`EVIDENCE: node ${x.id} was fed conflicting messages of honest validator ${validator} (${slot})`)
      else if (!held.has(slot)) violations.push(`EVIDENCE: node ${x.id} saw validator ${validator} equivocate at ${slot} but holds no evidence of it`)
    }
  }
}

/** The "height:slot" key the node notes conflicting inputs under (see SimNode.noteFed and slotKey). */
function evidenceSlot (e: Evidence, validators: Uint8Array[]): string {
  if (e.kind === 'proposal') return `${e.a.height}:p${e.a.round}`
  const who = validators.findIndex(k => bytesEqual(k, e.a.validator))
  return `${e.a.height}:v${e.a.type}:${e.a.round}:${who}`
}

/**
 * Evidence must be checkable offline: same signer, same (h, r, type), different values, both
 * signatures good under the offender's public key (verifySignature, memoised per message object).
 */
export function evidenceProblem (e: Evidence, byzKey: Uint8Array | null): string | null {
  if (byzKey === null) return 'there is no Byzantine validator in this run'
  if (e.kind === 'vote') {
    const { a, b } = e
    if (!bytesEqual(a.validator, byzKey) || !bytesEqual(b.validator, byzKey)) return 'it names an honest validator'
    if (a.type !== b.type || a.height !== b.height || a.round !== b.round) return 'the votes are not for one (h, r, type)'
    if ((a.blockHash === null && b.blockHash === null) || (a.blockHash !== null && b.blockHash !== null && bytesEqual(a.blockHash, b.blockHash))) return 'the votes agree'
    if (!verifyVote(a) || !verifyVote(b)) return 'a signature does not verify'
  } else {
    const { a, b } = e
    if (!bytesEqual(a.proposer, byzKey) || !bytesEqual(b.proposer, byzKey)) return 'it names an honest proposer'
    if (a.height !== b.height || a.round !== b.round) return 'the proposals are not for one (h, r)'
    if (bytesEqual(a.blockHash, b.blockHash)) return 'the proposals agree'
    if (!verifyProposal(a) || !verifyProposal(b)) return 'a signature does not verify'
  }
  return null
}

/** Every live honest node's chain is a prefix of the longest one. */
function checkCommitsAgree (live: SimNode[], violations: string[]): void {
  const longest = live.reduce((a, x) => x.disk.commits.length > a.length ? x.disk.commits : a, [] as CommitRecord[])
  for (const x of live) {
    x.disk.commits.forEach((c, i) => {
      if (c.height !== i + 1) violations.push(`node ${x.id} stored height ${c.height} at position ${i + 1}`)
      else if (!bytesEqual(c.blockHash, longest[i].blockHash)) violations.push(`SAFETY: node ${x.id} and the longest chain differ at height ${i + 1}`)
    })
  }
}
