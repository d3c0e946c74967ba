import type { ExecutionContext } from 'ava'
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { describeRss, finalChecks, len, RssSampler, say, scenario, SimNet, sleep, status, type LoadGen, type RssVerdict, type SimSpec, type SubmittedRecord } from '../../helpers/sim.ts'
import { waitFor } from '../../helpers/devnet.ts'
import { HandshakeStaller, HostileValidator, probe } from '../../helpers/hostile-peer.ts'
import { BIN, type Daemon } from '../../../src/devnet/daemon.ts'
import { protocols } from '../../../src/network/protocol-ids.ts'
import { recordId } from '../../../src/chain/hashing.ts'
import { toHex } from '../../../src/encoding/bytes.ts'
import type { Block, FinalizedBlock, MedRecord } from '../../../src/chain/types.ts'

const exec = promisify(execFile)

/**
 * The hostile-insider tier (issue 13): one scenario per attack a listed participant can make. The
 * attacker holds a real validator's key from the devnet (its daemon is not started: the attacker
 * takes its place), or, where the attack is through its own node, runs that daemon. Every scenario
 * asserts the same four things, plus its own:
 * - honest daemons' resident memory stays under twice the baseline (the highest RSS sampled under
 *   the same load before the attack: MEMORY_FACTOR),
 * - records submitted to honest validators during the attack become final (a steady single-record
 *   probe with wait=final, each request allowed FINAL_WITHIN_MS: no error, no 503, no time-out),
 * - no acknowledged record is lost (finalChecks),
 * - the attacker is cut off where the rules allow it.
 */

/** Honest daemons' RSS under attack must stay below this times their pre-attack baseline. */
export const MEMORY_FACTOR = 2
/** A record submitted to an honest validator during an attack is final within this (client time-out). */
export const FINAL_WITHIN_MS = 30_000
/** The validator whose key the attacker holds (hospital-b); the others are honest. */
const ATTACKER = 1

const addrOf = (d: Daemon): string => `/ip4/127.0.0.1/tcp/${d.node.p2pPort}/p2p/${d.node.peerId}`

/**
 * The scenario's rules, each checked where it applies and all asserted at the end (after
 * finalChecks), so that one run names every rule an attack broke, not only the first.
 */
class Rules {
  readonly broken: string[] = []
  constructor (private readonly t: ExecutionContext, private readonly r: { notes: string[] }) {}

  /** Records whether `rule` held (a broken one at once in the log and the report); returns `ok`. */
  expect (ok: boolean, rule: string): boolean {
    if (!ok) {
      this.broken.push(rule)
      this.r.notes.push(`broken: ${rule}`)
      say(this.t, `RULE BROKEN: ${rule}`)
    }
    return ok
  }

  /** Asserts that every rule held. */
  assertAll (): void {
    this.t.deepEqual(this.broken, [], 'every rule of the scenario holds')
  }
}

interface Insider {
  net: SimNet
  honest: Daemon[]
  /** The attacker's own devnet node (its daemon runs only where the scenario says so). */
  own: Daemon
}

async function startInsiderNet (t: ExecutionContext, spec: SimSpec = {}): Promise<Insider> {
  const net = await SimNet.start(t, { validators: 4, observers: 0, ...spec })
  return { net, honest: net.validators.filter((_, i) => i !== ATTACKER), own: net.validators[ATTACKER] }
}

async function startAttacker (net: SimNet, honest: Daemon[]): Promise<HostileValidator> {
  const attacker = await HostileValidator.start(net.daemons[ATTACKER].node.home, join(net.dir, 'genesis.json'))
  net.onCleanup(async () => { await attacker.stop() })
  await waitFor('the attacker connected to every honest validator', async () => {
    const ids = await attacker.connect(honest.map(addrOf))
    return honest.every(d => ids.includes(d.node.peerId))
  }, 30_000, 500)
  return attacker
}

/** Single records, one at a time, to the honest validators, each given FINAL_WITHIN_MS to be final. */
function finalityProbe (net: SimNet, honest: Daemon[]): LoadGen {
  return net.load({ workers: 1, batch: 1, pauseMs: 300, requestTimeoutMs: FINAL_WITHIN_MS }, () => honest.filter(d => net.up.has(d)))
}

/** The records a probe submitted during the attack were all acknowledged final in time. */
function checkProbeFinal (rules: Rules, probeLoad: LoadGen, r: { notes: string[] }): void {
  const errors = Object.fromEntries(probeLoad.errors)
  r.notes.push(`probe during the attack: ${probeLoad.acked.size} of ${probeLoad.requests} single-record submissions final within ${FINAL_WITHIN_MS / 1000} s; errors: ${probeLoad.errorSummary()}`)
  rules.expect(probeLoad.acked.size > 0, 'records submitted to honest validators during the attack became final')
  rules.expect(Object.keys(errors).length === 0, `every record submitted to an honest validator during the attack is final within ${FINAL_WITHIN_MS / 1000} s (no 503, no 504, no time-out): errors ${JSON.stringify(errors)}`)
}

function checkMemory (rules: Rules, verdicts: RssVerdict[], r: { notes: string[], rss?: RssVerdict[] }): void {
  r.rss = verdicts
  r.notes.push(`honest RSS baseline -> peak under attack: ${describeRss(verdicts)}`)
  for (const v of verdicts) {
    rules.expect(v.peakMiB < MEMORY_FACTOR * v.baselineMiB, `${v.node}: memory under attack ${v.peakMiB} MiB stays below ${MEMORY_FACTOR} x the baseline ${v.baselineMiB} MiB`)
  }
}

/**
 * Samples `daemons`' memory for `baselineMs` under the load already running, then starts the
 * finality probe on `probeTargets`: the attack may begin.
 */
async function beginAttack (net: SimNet, daemons: Daemon[], baselineMs: number, probeTargets = daemons): Promise<Attack> {
  const rss = new RssSampler(net, daemons)
  await sleep(baselineMs)
  rss.attackBegins()
  return { rss, probeLoad: finalityProbe(net, probeTargets) }
}

interface Attack { rss: RssSampler, probeLoad: LoadGen }

/** The end every insider scenario shares: the probe's and memory's rules, finalChecks (load and probe records), every rule asserted. */
async function endAttack (t: ExecutionContext, net: SimNet, rules: Rules, r: { notes: string[], rss?: RssVerdict[], acked: number, lost: number }, attack: Attack, loads: LoadGen[], opts: Parameters<typeof finalChecks>[3]): Promise<void> {
  await attack.probeLoad.stop()
  checkProbeFinal(rules, attack.probeLoad, r)
  checkMemory(rules, await attack.rss.stop(), r)
  const res = await finalChecks(t, net, [...loads, attack.probeLoad], opts)
  r.acked = res.acked
  r.lost = res.lost
  rules.assertAll()
}

/** The attacker holds no connection to any honest validator, and a fresh dial gets no answer. */
async function checkCutOff (rules: Rules, attacker: HostileValidator, honest: Daemon[], withinMs: number): Promise<boolean> {
  const ids = new Set(honest.map(d => d.node.peerId))
  const cut = await waitFor('the honest validators to cut the attacker off', async () => attacker.connectedPeers().every(id => !ids.has(id)), withinMs, 250).then(() => true, () => false)
  const still = honest.filter(d => attacker.connectedPeers().includes(d.node.peerId)).map(d => d.node.name)
  rules.expect(cut, `every honest validator hangs up on the attacker (still connected: ${still.join(', ')})`)
  const again = await probe(attacker.peer, addrOf(honest[0]), protocols(attacker.chainId).status, attacker.statusRequest, 300)
  rules.expect(again.answered !== true, 'the attacker\'s redial is not answered while it is banned')
  return cut
}

/** `n` fresh records in the API's JSON shape, each with its timestamp fixed (so it can be sent again). */
function apiRecords (load: LoadGen, n: number): SubmittedRecord[] {
  return Array.from({ length: n }, () => load.nextRecord())
}

async function submit (d: Daemon, records: SubmittedRecord[]): Promise<{ status: number, body: { ids?: string[], height?: number, error?: { code: string, message: string } } }> {
  const res = await fetch(`${d.api}/v1/records?wait=final`, {
    method: 'POST',
    headers: { authorization: `Bearer ${d.node.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ records }),
    signal: AbortSignal.timeout(60_000)
  })
  return { status: res.status, body: await res.json() as { ids?: string[], height?: number, error?: { code: string, message: string } } }
}

/** Height of the block holding a final record on this node, or undefined when it is not final there. */
async function recordHeight (d: Daemon, id: string): Promise<number | undefined> {
  const res = await fetch(`${d.api}/v1/records/${id}`, { signal: AbortSignal.timeout(10_000) })
  if (res.status !== 200) return undefined
  return (await res.json() as { block: { header: { height: number } } }).block.header.height
}

async function blockAt (d: Daemon, height: number): Promise<{ hash: string, header: { time: number, round: number, height: number } } | undefined> {
  const res = await fetch(`${d.api}/v1/blocks/${height}`, { signal: AbortSignal.timeout(10_000) })
  return res.status === 200 ? await res.json() as { hash: string, header: { time: number, round: number, height: number } } : undefined
}

/** A record as a batch carries it (binary fields), for blocks and batches the attacker builds itself. */
function rawRecord (tag: string): Omit<MedRecord, 'author'> {
  return { type: 'sim.insider', subject: randomBytes(32), contentType: 'application/octet-stream', payload: Buffer.from(`${tag}-${randomBytes(8).toString('hex')}`), timestamp: Date.now() }
}

/**
 * Proposes at the attacker's own slots: whenever an honest validator's head reaches the height
 * before one at which the attacker is the round-0 proposer, it fetches that head (block and
 * certificate) and publishes `makeBlock(parent)` for round 0. The honest validators wait the
 * propose timeout for it (the scenarios lengthen it so that a loaded machine still makes it in
 * time). Returns one attempt per slot: the height and the attacker's block hash.
 */
async function proposeAtOwnSlots (net: SimNet, attacker: HostileValidator, honest: Daemon[], slots: number, makeBlock: (parent: FinalizedBlock) => Block, timeoutMs: number): Promise<Array<{ height: number, hash: string }>> {
  const attempts: Array<{ height: number, hash: string }> = []
  const deadline = Date.now() + timeoutMs
  let lastHead = -1
  while (attempts.length < slots && Date.now() < deadline && !net.closed) {
    const head = (await status(honest[0]))?.height
    if (head !== undefined && head !== lastHead) {
      lastHead = head
      if (head > 0 && attacker.validators.isProposer(attacker.key.publicKey, head + 1, 0)) {
        const parent = await attacker.finalBlock(honest[0].node.peerId, head)
        const p = attacker.propose(makeBlock(parent), 0)
        await attacker.publishProposal(p)
        attempts.push({ height: head + 1, hash: toHex(p.header.blockHash) })
      }
    }
    await sleep(20)
  }
  return attempts
}

/** Waits until the attempts' heights are final and returns those where the attacker's block was committed. */
async function committedAttempts (net: SimNet, honest: Daemon[], attempts: Array<{ height: number, hash: string }>): Promise<Array<{ height: number, hash: string }>> {
  if (attempts.length === 0) return []
  await net.waitHeight(Math.max(...attempts.map(a => a.height)), honest, 60_000)
  const out = []
  for (const a of attempts) {
    for (const d of honest) {
      if ((await blockAt(d, a.height))?.hash === a.hash) { out.push(a); break }
    }
  }
  return out
}

// ------------------------------------------------------------------------------------ scenarios

/**
 * i1. Next-height proposal flood. At the height ahead of the chain, the attacker signs a proposal
 * in a round it proposes in (a valid proposal signature from the right proposer, a 3 MiB block),
 * and re-publishes it over and over with a new gossip `seq` each time (the envelope's rebroadcast
 * counter, not signed, so each copy has a new gossip id), until that height is final everywhere;
 * then the same at the next height ahead. The block is invalid in ways
 * any node can check without its parent (its only batch's signature does not verify; it lacks
 * the previous certificate), so the rules let honest nodes penalise the sender.
 * Asserts: honest memory under MEMORY_FACTOR x baseline, probe records final, the attacker cut off
 * (no connection, redial unanswered), the chain finalizes after it leaves, nothing lost.
 */
export async function proposalFlood (t: ExecutionContext): Promise<void> {
  const attackMs = len(12_000, 40_000)
  const copiesPerSecond = 8
  t.timeout(attackMs + 300_000)
  await scenario(t, 'i1. insider: next-height proposal flood', async r => {
    const rules = new Rules(t, r)
    const { net, honest } = await startInsiderNet(t, { skip: [ATTACKER] })
    const load = net.load()
    await waitFor('a first acknowledged record', async () => load.acked.size > 0, 60_000)
    const attacker = await startAttacker(net, honest)
    const attack = await beginAttack(net, honest, len(6_000, 20_000))
    // 47 records of 64 KiB: a 3 MiB block, about the most one carries.
    const signed = attacker.signBatch(Array.from({ length: 47 }, () => ({ ...rawRecord('flood'), payload: randomBytes(64 * 1024) })))
    const badBatch = HostileValidator.sealed({ author: signed.author, records: signed.records, signature: randomBytes(64) })
    let target = 0
    let envelope: ((seq: number) => Uint8Array) | undefined
    let proposals = 0
    let sent = 0
    let statusAt = 0
    const publishErrors = new Set<string>()
    const inFlight = new Set<Promise<void>>()
    const started = Date.now()
    while (Date.now() - started < attackMs && !net.closed) {
      if (Date.now() - statusAt > 1000) {
        statusAt = Date.now()
        // Like an attacker that wants back in: it redials every second.
        await attacker.connect(honest.map(addrOf))
        // One signed proposal for the height after the one in progress, in its first round as
        // proposer, signed again only once every honest node has that height final (until then
        // each counts its copies: as the next height's proposal, then as the current one's).
        const h = await net.minHeight(honest)
        if (envelope === undefined || h >= target) {
          target = h + 2
          const round = attacker.proposerRounds(target, 4)[0]
          const link = { height: target - 1, hash: randomBytes(32), time: Date.now() }
          envelope = attacker.proposalEnvelopes(attacker.propose(attacker.buildBlockOn(link, null, round, [badBatch]), round))
          proposals++
        }
      }
      // (Signed on the first pass, statusAt being 0.)
      if (envelope === undefined) throw new Error('the attacker signed no proposal')
      sent++
      // It does not wait for one copy to leave before the next (up to 16 under way), as an attacker would not.
      const sending = attacker.publishConsensus(envelope(sent)).catch((err: Error) => { publishErrors.add(err.message) }).finally(() => { inFlight.delete(sending) })
      inFlight.add(sending)
      while (inFlight.size >= 16) await Promise.race(inFlight)
      await sleep(1000 / copiesPerSecond)
    }
    await Promise.all(inFlight)
    say(t, `attacker published ${sent} copies of ${proposals} signed 3 MiB next-height proposals, one at a time (last target ${target})${publishErrors.size > 0 ? `; not sent: ${[...publishErrors].slice(0, 3).join(' | ')}` : ''}`)
    r.faults = sent
    const cut = await checkCutOff(rules, attacker, honest, 15_000)
    await attacker.stop()
    // The chain keeps finalizing once the attacker is gone.
    const h = await net.maxHeight(honest)
    const resumed = await net.waitHeight(h + 3, honest, 60_000).then(() => true, (err: Error) => rules.expect(false, `the chain finalizes after the attacker left: ${err.message}`))
    r.notes.push(`attacker cut off: ${cut}; chain finalizing after it left: ${resumed}`, `load errors: ${load.errorSummary()}`)
    await endAttack(t, net, rules, r, attack, [load], { nodes: honest })
  })
}

/**
 * i2. Governance removal. The attacker's validator, its daemon running, is removed by a quorum of
 * the others (medledger governance propose/approve/submit, as an operator would). Once the
 * removal takes effect at height E, it holds no connection and its head stays at or below E (it
 * gets no block made after its removal took effect), while the honest validators go on.
 */
export async function governanceRemoval (t: ExecutionContext): Promise<void> {
  const afterMs = len(6_000, 30_000)
  t.timeout(afterMs + 300_000)
  await scenario(t, 'i2. insider: removed by governance, cut off', async r => {
    const rules = new Rules(t, r)
    const { net, honest, own } = await startInsiderNet(t)
    const load = net.load({}, () => honest.filter(d => net.up.has(d)))
    await waitFor('a first acknowledged record', async () => load.acked.size > 0, 60_000)
    const attack = await beginAttack(net, honest, len(4_000, 10_000))
    const cli = async (args: string[]): Promise<string> => (await exec(process.execPath, [BIN, ...args])).stdout
    const change = join(net.dir, `remove-${own.node.name}.json`)
    await cli(['governance', 'propose', '--genesis', join(net.dir, 'genesis.json'), '--action', 'remove', '--name', own.node.name, '--peer-id', own.node.peerId, '--out', change])
    for (const d of honest) await cli(['governance', 'approve', '--home', d.node.home, change])
    const submitted = JSON.parse(await cli(['governance', 'submit', '--api', honest[0].api, '--token-file', join(honest[0].node.home, 'api.token'), change])) as { height: number }
    const v = await (await fetch(`${honest[0].api}/v1/validators`)).json() as { changes: Array<{ includedAt: number, effective: number, action: string, name: string }> }
    const removal = v.changes.find(c => c.action === 'remove' && c.name === own.node.name)
    if (removal === undefined) throw new Error(`the removal is not recorded: ${JSON.stringify(v.changes)}`)
    const effective = removal.effective
    say(t, `removal of ${own.node.name} included at ${submitted.height}, effective at ${effective}`)
    r.faults = 1
    // Honest validators go on well past E; the removed node is given time to (wrongly) follow.
    await net.waitHeight(effective + 3, honest, 60_000)
    await sleep(afterMs)
    const heightAfter = await net.minHeight(honest)
    await waitFor(`${own.node.name} to hold no connection`, async () => (await status(own))?.peers === 0, 20_000, 250).catch(() => {})
    const st = await status(own)
    say(t, `${own.node.name} after its removal (effective ${effective}): height ${st?.height}, peers ${st?.peers}; honest at ${heightAfter}`)
    rules.expect(st?.peers === 0, `${own.node.name}, removed at ${effective}, holds no connection`)
    rules.expect(st !== undefined && st.height <= effective, `${own.node.name} gets no block made after its removal took effect (its head ${st?.height} <= ${effective}; honest validators at ${heightAfter})`)
    const honestSt = await net.statuses(honest)
    rules.expect(honestSt.every(s => s?.peers === honest.length - 1), `honest validators stay connected to each other and only to each other (peers ${honestSt.map(s => s?.peers).join('/')})`)
    r.notes.push(`removed node: head ${st?.height} (effective ${effective}), peers ${st?.peers}; honest at ${heightAfter}`, `load errors: ${load.errorSummary()}`)
    await endAttack(t, net, rules, r, attack, [load], { nodes: honest })
  })
}

/**
 * i3. Mempool flood by one author: a client holding the attacker's own submit token floods its
 * validator with batches as fast as it takes them, and that validator gossips them to every
 * other. Every node's mempool is bounded at MEMPOOL_MIB (a scaled-down mempool.max_bytes) so that
 * the short form reaches the bound too. Records submitted by honest hospitals to the other validators still become final in time
 * (no 503 for them).
 */
const MEMPOOL_MIB = 32
const FLOOD_RECORDS = 100
export async function mempoolFlood (t: ExecutionContext): Promise<void> {
  const attackMs = len(15_000, 60_000)
  t.timeout(attackMs + 300_000)
  await scenario(t, 'i3. insider: mempool flood by one author', async r => {
    const rules = new Rules(t, r)
    // Every mempool holds MEMPOOL_MIB (256 by default), so that a short flood reaches the bound.
    const { net, honest, own } = await startInsiderNet(t, {
      beforeStart: async layout => { for (const n of layout.nodes) await SimNet.setConfig(n.home, 'max_bytes', String(MEMPOOL_MIB * 1024 * 1024)) }
    })
    const load = net.load({}, () => honest.filter(d => net.up.has(d)))
    await waitFor('a first acknowledged record', async () => load.acked.size > 0, 60_000)
    const attack = await beginAttack(net, honest, len(5_000, 15_000))
    // FLOOD_RECORDS records of 8 KiB per request (0.8 MB of records, 1.1 MB of JSON), from 4 clients at once, no waiting.
    const payload = randomBytes(8 * 1024).toString('base64')
    const statuses = new Map<number, number>()
    let flooding = true
    net.onCleanup(async () => { flooding = false })
    let n = 0
    const flooder = async (): Promise<void> => {
      while (flooding) {
        const records = Array.from({ length: FLOOD_RECORDS }, () => ({ type: 'sim.flood', subject: randomBytes(32).toString('hex'), contentType: 'application/octet-stream', payload, timestamp: Date.now() + n++ }))
        const code = await fetch(`${own.api}/v1/records`, {
          method: 'POST',
          headers: { authorization: `Bearer ${own.node.token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ records }),
          signal: AbortSignal.timeout(30_000)
        }).then(async res => { await res.arrayBuffer(); return res.status }, () => 0)
        statuses.set(code, (statuses.get(code) ?? 0) + 1)
        if (code !== 202) await sleep(50)
      }
    }
    const started = Date.now()
    const flooders = Array.from({ length: 4 }, async () => { await flooder() })
    await sleep(attackMs)
    flooding = false
    await Promise.all(flooders)
    const took = (Date.now() - started) / 1000
    const accepted = statuses.get(202) ?? 0
    const mib = accepted * FLOOD_RECORDS * 8 / 1024
    say(t, `flood: ${accepted} batches of ${FLOOD_RECORDS} x 8 KiB accepted by ${own.node.name} in ${took.toFixed(1)} s (${(mib / took).toFixed(1)} MiB/s); answers ${[...statuses].map(([c, k]) => `${c}:${k}`).join(' ')}`)
    r.faults = accepted
    r.notes.push(`flood: ${accepted} batches (${mib.toFixed(0)} MiB of records) accepted by the attacker's node; answers ${[...statuses].map(([c, k]) => `${c}:${k}`).join(' ')}`, `load errors: ${load.errorSummary()}`)
    // The flood's own records are not checked (unacknowledged); every node drains its mempool first.
    await endAttack(t, net, rules, r, attack, [load], { expectNoEvidence: true })
  })
}

/**
 * i4. Time from the future. At its proposer slots the attacker proposes an otherwise valid block
 * whose header.time is in the year 2100. The chain time never jumps there: no such block is
 * committed, every block's time stays within MAX_SKEW_MS of the wall clock, and once idle the
 * chain still makes heartbeat blocks at the heartbeat's pace.
 */
const MAX_SKEW_MS = 10_000
export async function futureTime (t: ExecutionContext): Promise<void> {
  const slots = len(2, 6)
  t.timeout(300_000 + slots * 20_000)
  await scenario(t, 'i4. insider: proposal from the future', async r => {
    const rules = new Rules(t, r)
    // A long propose timeout, so the attacker's proposal reaches its slot on a loaded machine.
    const { net, honest } = await startInsiderNet(t, { skip: [ATTACKER], consensus: { propose_timeout_ms: 4000 } })
    // Light load: the chain must also be seen idle, below.
    const load = net.load({ workers: 1, batch: 1, pauseMs: 300 })
    await waitFor('a first acknowledged record', async () => load.acked.size > 0, 60_000)
    const attacker = await startAttacker(net, honest)
    const attack = await beginAttack(net, honest, len(3_000, 10_000))
    const from = await net.maxHeight(honest)
    const year2100 = Date.UTC(2100, 0, 1)
    const attempts = await proposeAtOwnSlots(net, attacker, honest, slots, parent => attacker.buildBlock(parent, 0, [], year2100), 120_000)
    say(t, `attacker proposed ${attempts.length} blocks dated 2100 at heights ${attempts.map(a => a.height).join(', ')}`)
    r.faults = attempts.length
    t.true(attempts.length > 0, 'the attacker reached its proposer slot')
    const committed = await committedAttempts(net, honest, attempts)
    rules.expect(committed.length === 0, `no block dated 2100 is committed (committed at ${committed.map(c => c.height).join(', ')})`)
    await Promise.all([load.stop(), attack.probeLoad.stop()])
    // Every block since the attack began is dated within MAX_SKEW_MS of the wall clock.
    const to = await net.maxHeight(honest)
    const late: string[] = []
    for (let h = from; h <= to; h++) {
      const b = await blockAt(honest[0], h)
      if (b !== undefined && b.header.time > Date.now() + MAX_SKEW_MS) late.push(`${h}: ${new Date(b.header.time).toISOString()}`)
    }
    rules.expect(late.length === 0, `chain time stays within ${MAX_SKEW_MS / 1000} s of the wall clock (blocks ${from}..${to}, ${late.length} from the future: ${late.slice(0, 3).join(', ')})`)
    // Idle, the chain makes heartbeat blocks, at the heartbeat's pace (not none, not a storm).
    const hb = net.heartbeatMs
    const idleFrom = await net.maxHeight(honest)
    await sleep(4 * hb)
    const idleTo = await net.maxHeight(honest)
    const head = await blockAt(honest[0], idleTo)
    say(t, `idle for ${4 * hb / 1000} s: heights ${idleFrom} -> ${idleTo}; head time ${head === undefined ? '?' : new Date(head.header.time).toISOString()}`)
    rules.expect(idleTo - idleFrom >= 2 && idleTo - idleFrom <= 6, `heartbeats continue at their pace while idle (${idleTo - idleFrom} blocks in ${4 * hb / 1000} s, heartbeat ${hb / 1000} s)`)
    rules.expect(head !== undefined && Math.abs(head.header.time - Date.now()) < MAX_SKEW_MS, 'the head\'s time is close to the wall clock')
    await attacker.stop()
    r.notes.push(`${attempts.length} proposals dated 2100, ${committed.length} committed; ${late.length} blocks from the future; idle ${idleTo - idleFrom} blocks in ${4 * hb / 1000} s`)
    await endAttack(t, net, rules, r, attack, [load], { nodes: honest })
  })
}

/**
 * i5. Stalled handshakes: one host (source address 127.0.0.2) holds many raw TCP connections to
 * every validator's p2p port and never sends a byte of the handshake, reopening each one the
 * moment it is closed. Meanwhile a validator is killed and restarted: it must reconnect to all its
 * peers and catch up; every validator stays connected to the others; the chain finalizes.
 */
export async function stalledHandshakes (t: ExecutionContext): Promise<void> {
  const attackMs = len(15_000, 90_000)
  t.timeout(attackMs + 300_000)
  await scenario(t, 'i5. insider: stalled handshakes', async r => {
    const rules = new Rules(t, r)
    const { net } = await startInsiderNet(t)
    const validators = net.validators
    const load = net.load()
    await waitFor('a first acknowledged record', async () => load.acked.size > 0, 60_000)
    await waitFor('a full mesh of validators', async () => (await net.statuses(validators)).every(s => s?.peers === 3), 30_000)
    // A validator is restarted below: the probe submits to the other three, which run throughout.
    const victim = validators[2]
    const attack = await beginAttack(net, validators, len(4_000, 10_000), validators.filter(d => d !== victim))
    const staller = new HandshakeStaller(validators.map(d => d.node.p2pPort), len(64, 128)).start()
    net.onCleanup(async () => { staller.stop() })
    const started = Date.now()
    await sleep(5_000)
    say(t, `staller: ${staller.live} stalled connections open (${staller.opened} opened so far)`)
    // A validator that restarts must get back in through the stalled ports.
    await net.kill(victim)
    await net.restart(victim)
    const restartedAt = Date.now()
    const back = await waitFor(`${victim.node.name} reconnected to its 3 peers`, async () => (await status(victim))?.peers === 3, 45_000, 250).then(() => true, () => false)
    const reconnectMs = Date.now() - restartedAt
    rules.expect(back, `${victim.node.name}, restarted during the attack, reconnects to every peer (peers ${(await status(victim))?.peers})`)
    const others = await net.maxHeight(validators.filter(d => d !== victim))
    await net.waitHeight(others, [victim], 45_000).catch((err: Error) => rules.expect(false, `${victim.node.name} catches up: ${err.message}`))
    await sleep(Math.max(0, attackMs - (Date.now() - started)))
    const during = await net.statuses(validators)
    staller.stop()
    rules.expect(during.every(s => s?.peers === 3), `every validator stays connected to the others under the attack (peers ${during.map(s => s?.peers).join('/')})`)
    const closed = staller.closedAfterMs.slice().sort((a, b) => a - b)
    const median = closed.length === 0 ? undefined : closed[Math.floor(closed.length / 2)]
    say(t, `staller: ${staller.opened} connections opened, ${closed.length} closed by the validators (median after ${median} ms, longest ${closed.at(-1)} ms), ${staller.refused} refused; ${victim.node.name} reconnected in ${(reconnectMs / 1000).toFixed(1)} s`)
    r.faults = staller.opened + 1
    r.recoveryMs = back ? reconnectMs : undefined
    r.notes.push(`${staller.opened} stalled connections, ${closed.length} closed by the validators (median ${median} ms); restarted validator reconnected: ${back} (${(reconnectMs / 1000).toFixed(1)} s)`, `load errors: ${load.errorSummary()}`)
    await endAttack(t, net, rules, r, attack, [load], { expectNoEvidence: true })
  })
}

/**
 * i6. Replayed records. (1) A client batch whose second record repeats a final record is refused
 * by an honest validator, and the final record stays where it was. (2) The attacker gossips a batch
 * of its own whose second record repeats one of its final records: never final, the original stays
 * put. (3) At its proposer slots the attacker proposes blocks with duplicate records (one batch
 * holding a record twice, and two batches sharing a record): none is committed, none of their
 * records becomes final.
 */
export async function replayedRecords (t: ExecutionContext): Promise<void> {
  const slots = len(1, 4)
  t.timeout(300_000 + slots * 20_000)
  await scenario(t, 'i6. insider: replayed and duplicate records', async r => {
    const rules = new Rules(t, r)
    const { net, honest } = await startInsiderNet(t, { skip: [ATTACKER], consensus: { propose_timeout_ms: 4000 } })
    const load = net.load({ workers: 2 })
    await waitFor('a first acknowledged record', async () => load.acked.size > 0, 60_000)
    const attacker = await startAttacker(net, honest)
    const attack = await beginAttack(net, honest, len(3_000, 10_000))
    const [a] = honest

    // (1) Through an honest validator's API.
    const [first, second] = apiRecords(load, 2)
    const orig = await submit(a, [first])
    t.is(orig.status, 200, JSON.stringify(orig.body))
    const firstId = orig.body.ids![0]
    load.acked.set(firstId, first)
    const replay = await submit(a, [second, first])
    say(t, `batch [new, final record] to ${a.node.name}: HTTP ${replay.status} ${JSON.stringify(replay.body.error ?? replay.body)}`)
    rules.expect(replay.status >= 400 && replay.status < 500, `a batch whose second record is already final is refused (HTTP ${replay.status})`)
    rules.expect(typeof replay.body.error?.code === 'string', 'the refusal says why (error code)')
    if (replay.status === 200) load.acked.set(replay.body.ids![0], second)
    for (const d of honest) rules.expect(await recordHeight(d, firstId) === orig.body.height, `${d.node.name}: the final record stays in its block (${orig.body.height})`)

    // (2) Gossiped by the attacker, signed with its validator key.
    const p = attacker.signBatch([rawRecord('replay-p')])
    const pId = toHex(recordId(p.records[0]))
    await attacker.publishBatches([p])
    const pHeight = await waitFor('the attacker\'s first batch to be final', async () => await recordHeight(a, pId), 60_000, 250)
    const q = attacker.signBatch([rawRecord('replay-q'), p.records[0]])
    const qId = toHex(recordId(q.records[0]))
    await attacker.publishBatches([q])
    const h = await net.maxHeight(honest)
    await net.waitHeight(h + 4, honest, 60_000)
    for (const d of honest) {
      rules.expect(await recordHeight(d, qId) === undefined, `${d.node.name}: a gossiped batch replaying a final record is not made final`)
      rules.expect(await recordHeight(d, pId) === pHeight, `${d.node.name}: the replayed record stays in its block (${pHeight})`)
    }

    // (3) Blocks with duplicate records, proposed at the attacker's slots.
    const dupIds: string[] = []
    const attempts = await proposeAtOwnSlots(net, attacker, honest, slots, parent => {
      const dd = rawRecord('dup-in-batch')
      const e = rawRecord('dup-across')
      const batches = [attacker.signBatch([dd, { ...dd }]), attacker.signBatch([e]), attacker.signBatch([rawRecord('dup-f'), { ...e }])]
      dupIds.push(...batches.flatMap(b => b.records.map(x => toHex(recordId(x)))))
      return attacker.buildBlock(parent, 0, batches)
    }, 120_000)
    say(t, `attacker proposed ${attempts.length} blocks with duplicate records at heights ${attempts.map(x => x.height).join(', ')}`)
    t.true(attempts.length > 0, 'the attacker reached its proposer slot')
    const committed = await committedAttempts(net, honest, attempts)
    rules.expect(committed.length === 0, `no block with duplicate records is committed (committed at ${committed.map(c => c.height).join(', ')})`)
    const finalDup: string[] = []
    for (const id of new Set(dupIds)) for (const d of honest) if (await recordHeight(d, id) !== undefined) finalDup.push(`${id.slice(0, 12)} on ${d.node.name}`)
    rules.expect(finalDup.length === 0, `no record of a block with duplicates becomes final (${finalDup.slice(0, 3).join(', ')})`)
    r.faults = 2 + attempts.length

    await attacker.stop()
    r.notes.push(`API replay: HTTP ${replay.status}; gossiped replay final: ${(await recordHeight(a, qId)) !== undefined}; duplicate-record blocks committed: ${committed.length} of ${attempts.length}`, `load errors: ${load.errorSummary()}`)
    await endAttack(t, net, rules, r, attack, [load], { nodes: honest })
  })
}
