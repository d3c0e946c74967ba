import test from 'ava'
import { ChainError, ChainErrorCode } from '../../../src/chain/errors.ts'
import { encodeBlock, encodeRecord, decodeBlock } from '../../../src/chain/codec.ts'
import { batchRecordsRoot, blockHash, certificateHash, recordId } from '../../../src/chain/hashing.ts'
import { batchRoots, recordIds } from '../../../src/chain/memo.ts'
import { sha256 } from '../../../src/crypto/hash.ts'
import type { Block, FinalizedBlock, RecordBatch } from '../../../src/chain/types.ts'
import { checkBatch, checkBlock, checkCertificate, checkEvidence } from '../../../src/chain/validate.ts'
import { fixedSchedule, type ValidatorSchedule } from '../../../src/chain/validator-schedule.ts'
import { ChainVerifier, genesisTip, VERIFY_CHUNK, type VerifiedTip } from '../../../src/chain/verifier.ts'
import { ZERO_HASH } from '../../../src/crypto/hash.ts'
import { type RootedCheck, type RootedResults, type SignatureCheck, VerifyPool } from '../../../src/crypto/verify-pool.ts'
import { bytesEqual } from '../../../src/encoding/bytes.ts'
import { makeBlock, makeCertificate, makeChain, sampleRecord, signBatch, testKey, testValidators, TEST_CHAIN_ID, TEST_TIME, validatorSetOf } from '../../helpers/fixtures.ts'

const V = testValidators(4)
const SET = validatorSetOf(V)
const OUTSIDER = testKey(99)
const GENESIS = genesisTip(ZERO_HASH, 0)

// Worker threads cannot load under the test runner's loader flags: checks verify inline, and the
// pool answers each job only after a delay that shrinks with every job, so later chunks come back
// before earlier ones (as they can from a real pool).
const inline = new VerifyPool({ inlineBelow: Number.MAX_SAFE_INTEGER })
let jobs = 0
const pool = {
  verifyAll: async (checks: SignatureCheck[]): Promise<boolean[]> => {
    const ok = await inline.verifyAll(checks)
    await new Promise(resolve => setTimeout(resolve, Math.max(0, 20 - 4 * (jobs++ % 6))))
    return ok
  }
} as unknown as VerifyPool

const later = async <T>(x: Promise<T>): Promise<T> => {
  const v = await x
  await new Promise(resolve => setTimeout(resolve, Math.max(0, 20 - 4 * (jobs++ % 6))))
  return v
}
/**
 * The same pool with verifyRooted (the records roots of batches computed beside their signatures,
 * inline here), its answers delayed like the checks'. Runs go to it decoded from their bytes, as
 * sync receives them: record ids known, batch roots not.
 */
let rootedJobs = 0
const rootedPool = {
  verifyAll: pool.verifyAll,
  verifyRooted: (checks: RootedCheck[]): RootedResults => {
    rootedJobs++
    const r = inline.verifyRooted(checks)
    return { roots: later(r.roots), ids: r.ids, ok: later(r.ok) }
  }
} as unknown as VerifyPool
/** A real pool: the roots come from the worker's own Merkle code. */
const workers = new VerifyPool({ threads: 2, inlineBelow: 1 })
test.after.always(async () => { await workers.close() })

/** The run as sync hands it to the verifier: decoded from its bytes, nothing remembered but record ids. */
const decoded = (run: FinalizedBlock[]): FinalizedBlock[] => run.map(fb => ({ block: decodeBlock(encodeBlock(fb.block)), certificate: fb.certificate }))

let serial = 0
/** `n` fresh batches of one record, authored by the validators in turn. */
function freshBatches (n: number): RecordBatch[] {
  return Array.from({ length: n }, (_, i) => {
    const author = V[i % V.length]
    return signBatch(author, [sampleRecord(author.publicKey, 1_000_000 + serial++)])
  })
}

/** A chain whose block at height h holds batchesAt(h) (default: 3 fresh batches). */
function chain (length: number, batchesAt: (h: number) => RecordBatch[] = () => freshBatches(3)): FinalizedBlock[] {
  return makeChain(V, length, { batchesAt: h => batchesAt(h) })
}

const forged = (b: RecordBatch): RecordBatch => ({ ...b, signature: new Uint8Array(64).fill(7) })
const outsiderBatch = (): RecordBatch => signBatch(OUTSIDER, [sampleRecord(OUTSIDER.publicKey, 2_000_000 + serial++)])

/** A store-like lookup over the record ids of known batches, counting its calls. */
function lookupOf (known: RecordBatch[]): { hasRecords: (ids: Uint8Array[]) => Promise<boolean[]>, calls: number[] } {
  const hex = new Set(known.flatMap(b => b.records.map(r => Buffer.from(recordId(r)).toString('hex'))))
  const calls: number[] = []
  return {
    calls,
    hasRecords: async (ids) => { calls.push(ids.length); return ids.map(id => hex.has(Buffer.from(id).toString('hex'))) }
  }
}

/**
 * The verifier as it was before checks went to the pool in chunks and replay lookups were
 * batched (with the replay rule of every record id, not only a batch's first): every failure of
 * the new one must be this one's, code, message and height.
 */
async function reference (schedule: ValidatorSchedule, p: VerifyPool, hasRecord: ((id: Uint8Array) => Promise<boolean>) | undefined, tip: VerifiedTip, run: FinalizedBlock[]): Promise<VerifiedTip> {
  const chainId = TEST_CHAIN_ID
  const checks: SignatureCheck[] = []
  const owners: Array<{ height: number, code: ChainErrorCode, what: string }> = []
  const add = (height: number, code: ChainErrorCode, what: string, cs: SignatureCheck[]): void => {
    for (const c of cs) { checks.push(c); owners.push({ height, code, what }) }
  }
  const seen = new Map<string, number>()
  let cur = tip
  let unobserved: FinalizedBlock[] = []
  const settle = async (): Promise<void> => {
    const ok = await p.verifyAll(checks)
    const bad = ok.indexOf(false)
    if (bad >= 0) {
      const o = owners[bad]
      throw new ChainError(o.code, `block ${o.height}: ${o.what} does not verify`, { height: o.height })
    }
    checks.length = 0
    owners.length = 0
    for (const fb of unobserved) schedule.observe?.(fb.block)
    unobserved = []
  }
  for (const fb of run) {
    const { block, certificate } = fb
    const h = block.header.height
    const validators = schedule.at(h)
    checkBlock(chainId, block, cur.link, validators)
    const lc = block.body.lastCommit
    if (lc !== null && cur.header !== null && !(cur.certificate !== null && bytesEqual(certificateHash(lc), certificateHash(cur.certificate)))) {
      add(h, ChainErrorCode.CERT_SIGNATURE, 'the previous block\'s certificate', checkCertificate(chainId, lc, cur.header, schedule.at(h - 1)))
    }
    for (const batch of block.body.batches) {
      add(h, ChainErrorCode.BATCH_SIGNATURE, 'a batch signature', [checkBatch(chainId, batch, validators)])
      // Every record id of the batch (not only its first), against the run and then the chain.
      for (const r of batch.records) {
        const id = Buffer.from(recordId(r)).toString('hex')
        const at = seen.get(id)
        if (at === h) throw new ChainError(ChainErrorCode.RECORD_DUPLICATE, `block ${h} carries record ${id.slice(0, 16)} twice`, { height: h })
        if (at !== undefined) throw new ChainError(ChainErrorCode.BATCH_DUPLICATE, `block ${h} repeats a record that is already on the chain`, { height: h })
        seen.set(id, h)
      }
      for (const r of batch.records) {
        if (hasRecord !== undefined && await hasRecord(recordId(r))) throw new ChainError(ChainErrorCode.BATCH_DUPLICATE, `block ${h} repeats a record that is already on the chain`, { height: h })
      }
    }
    for (const e of block.body.evidence) add(h, ChainErrorCode.EVIDENCE_INVALID, 'an evidence signature', checkEvidence(chainId, e, schedule.at(e.a.height)))
    add(h, ChainErrorCode.CERT_SIGNATURE, 'its commit certificate', checkCertificate(chainId, certificate, block.header, validators))
    const governance = schedule.checkBlock?.(chainId, block) ?? []
    add(h, ChainErrorCode.GOVERNANCE_INVALID, 'a governance approval', governance)
    cur = { link: { height: h, hash: blockHash(block.header), time: block.header.time }, header: block.header, certificate }
    unobserved.push(fb)
    if (governance.length > 0) await settle()
  }
  await settle()
  return cur
}

type Outcome = { ok: true, height: number, hash: string } | { ok: false, code: string, message: string, height: unknown }
async function outcome (f: () => Promise<VerifiedTip>): Promise<Outcome> {
  try {
    const tip = await f()
    return { ok: true, height: tip.link.height, hash: Buffer.from(tip.link.hash).toString('hex') }
  } catch (err) {
    const e = err as ChainError
    return { ok: false, code: e.code, message: e.message, height: e.meta?.height }
  }
}

/** Runs the verifier (batched lookup) and the reference; both must agree. */
async function agree (t: import('ava').ExecutionContext, run: FinalizedBlock[], known: RecordBatch[] = []): Promise<Outcome> {
  const lookup = lookupOf(known)
  const perId = async (id: Uint8Array): Promise<boolean> => (await lookup.hasRecords([id]))[0]
  const want = await outcome(async () => await reference(fixedSchedule(SET), pool, perId, GENESIS, run))
  t.deepEqual(await outcome(async () => await new ChainVerifier(TEST_CHAIN_ID, fixedSchedule(SET), pool, lookup).verifyRun(GENESIS, run)), want)
  // Roots computed by the pool beside the signatures: the same outcome, code, message and height.
  t.deepEqual(await outcome(async () => await new ChainVerifier(TEST_CHAIN_ID, fixedSchedule(SET), rootedPool, lookup).verifyRun(GENESIS, decoded(run))), want, 'roots from verifyRooted')
  return want
}

/** Replaces the batches of block `h` (1-based) and rebuilds the chain from there so links hold. */
function withBatches (run: FinalizedBlock[], h: number, edit: (bs: RecordBatch[]) => RecordBatch[]): FinalizedBlock[] {
  const byHeight = new Map(run.map(fb => [fb.block.header.height, fb.block.body.batches]))
  byHeight.set(h, edit(byHeight.get(h) as RecordBatch[]))
  return chain(run.length, x => byHeight.get(x) as RecordBatch[])
}

test('a valid run verifies and returns its last block as the tip', async t => {
  const run = chain(5)
  const before = rootedJobs
  const got = await agree(t, run)
  t.true(rootedJobs > before, 'the decoded run\'s batches went to verifyRooted')
  t.deepEqual(got, { ok: true, height: 5, hash: Buffer.from(blockHash(run[4].block.header)).toString('hex') })
})

test('a run larger than one chunk: the first forged signature in chain order is the one reported', async t => {
  const per = VERIFY_CHUNK / 2 + 10
  let run = chain(5, () => freshBatches(per))
  run = withBatches(run, 4, bs => bs.map((b, i) => i === 3 ? forged(b) : b))
  run = withBatches(run, 2, bs => bs.map((b, i) => i === per - 1 ? forged(b) : b))
  const got = await agree(t, run)
  t.like(got, { ok: false, code: ChainErrorCode.BATCH_SIGNATURE, height: 2 })
})

test('checks go to the pool while the run is still being walked', async t => {
  const per = Math.ceil(VERIFY_CHUNK / 2)
  const run = chain(6, () => freshBatches(per))
  const events: string[] = []
  const counting = {
    verifyAll: async (cs: SignatureCheck[]) => { events.push(`verify ${cs.length}`); return await pool.verifyAll(cs) }
  } as unknown as VerifyPool
  const lookup = { hasRecords: async (ids: Uint8Array[]) => { events.push('lookup'); return ids.map(() => false) } }
  await new ChainVerifier(TEST_CHAIN_ID, fixedSchedule(SET), counting, lookup).verifyRun(GENESIS, run)
  const verifies = events.filter(e => e.startsWith('verify'))
  t.true(verifies.length >= 3, events.join(', '))
  // The first chunk left before the last block was looked up.
  t.true(events.indexOf(verifies[0]) < events.lastIndexOf('lookup'))
  t.is(verifies.reduce((n, e) => n + Number(e.split(' ')[1]), 0), 6 * per + 6 * V.length)
})

test('one batched lookup per block, with the first record id of each of its batches', async t => {
  const run = chain(4, h => freshBatches(h))
  const lookup = lookupOf([])
  await new ChainVerifier(TEST_CHAIN_ID, fixedSchedule(SET), pool, lookup).verifyRun(GENESIS, run)
  t.deepEqual(lookup.calls, [1, 2, 3, 4])
})

/** A batch of `n` fresh records by validator `v`, followed by `extra` (records of the same author). */
function batchOf (v: number, n: number, extra: RecordBatch['records'] = []): RecordBatch {
  const author = V[v]
  return signBatch(author, [...Array.from({ length: n }, () => sampleRecord(author.publicKey, 3_000_000 + serial++)), ...extra])
}

test('one batched lookup per block asks about every record of every batch', async t => {
  const run = chain(3, h => [batchOf(0, h), batchOf(1, 2)])
  const lookup = lookupOf([])
  await new ChainVerifier(TEST_CHAIN_ID, fixedSchedule(SET), pool, lookup).verifyRun(GENESIS, run)
  t.deepEqual(lookup.calls, [3, 4, 5])
})

test('a record already on the chain is a replay even when it is not its batch\'s first', async t => {
  const final = batchOf(2, 3)
  // Block 3 carries a new batch by the same author: two fresh records, then the final batch's second.
  const run = chain(4, h => h === 3 ? [batchOf(0, 1), batchOf(2, 2, [final.records[1]])] : freshBatches(2))
  t.like(await agree(t, run, [final]), { ok: false, code: ChainErrorCode.BATCH_DUPLICATE, height: 3 })
})

test('a record of an earlier block of the run is a replay even when it is not its batch\'s first', async t => {
  const first = batchOf(1, 3)
  const run = chain(4, h => h === 1 ? [first] : h === 4 ? [batchOf(1, 1, [first.records[2]])] : freshBatches(2))
  t.like(await agree(t, run), { ok: false, code: ChainErrorCode.BATCH_DUPLICATE, height: 4 })
})

test('a record twice in one block is refused, in two batches or in one', async t => {
  const a = batchOf(3, 2)
  const across = chain(3, h => h === 2 ? [a, batchOf(0, 1), batchOf(3, 1, [a.records[1]])] : freshBatches(2))
  t.like(await agree(t, across), { ok: false, code: ChainErrorCode.RECORD_DUPLICATE, height: 2 })
  const b = batchOf(3, 2)
  const within = chain(3, h => h === 2 ? [batchOf(0, 1), batchOf(3, 1, [b.records[0], b.records[0]])] : freshBatches(2))
  t.like(await agree(t, within), { ok: false, code: ChainErrorCode.RECORD_DUPLICATE })
})

test('a block no later than its parent is refused; final blocks are never held to a clock', async t => {
  const timed = (timeAt: (h: number) => number): FinalizedBlock[] => makeChain(V, 4, { timeAt, batchesAt: () => freshBatches(1) })
  // Block 3 at block 2's time (the old rule, "never less than the parent's", let it through).
  t.like(await agree(t, timed(h => h === 3 ? TEST_TIME + 2000 : TEST_TIME + h * 1000)), { ok: false, code: ChainErrorCode.HEADER_TIME, height: 3 })
  // Sync, import and audit verify with this verifier: a chain already final in 2100 still verifies.
  const future = timed(h => Date.UTC(2100, 0, 1) + h)
  t.like(await agree(t, future), { ok: true, height: 4 })
})

test('a batch already on the chain is a replay, reported at its block', async t => {
  const run = chain(4)
  const known = [run[2].block.body.batches[1]]
  t.like(await agree(t, run, known), { ok: false, code: ChainErrorCode.BATCH_DUPLICATE, height: 3 })
})

test('a batch repeated within the run is a replay', async t => {
  const run = chain(4)
  const again = withBatches(run, 4, bs => [bs[0], run[1].block.body.batches[2]])
  t.like(await agree(t, again), { ok: false, code: ChainErrorCode.BATCH_DUPLICATE, height: 4 })
})

test('within a block, a replay before a bad batch wins; a bad batch before a replay wins', async t => {
  const run = chain(3)
  const known = [run[1].block.body.batches[0]]
  const replayFirst = withBatches(run, 2, bs => [bs[0], outsiderBatch(), bs[2]])
  t.like(await agree(t, replayFirst, [replayFirst[1].block.body.batches[0]]), { ok: false, code: ChainErrorCode.BATCH_DUPLICATE, height: 2 })
  const badFirst = withBatches(run, 2, bs => [outsiderBatch(), bs[0], bs[2]])
  t.like(await agree(t, badFirst, known), { ok: false, code: ChainErrorCode.BATCH_AUTHOR_UNKNOWN })
  // A repeat within the run after a replay of the chain: still the same error at that block.
  const both = withBatches(run, 3, bs => [bs[0], run[0].block.body.batches[0], outsiderBatch()])
  t.like(await agree(t, both, [both[2].block.body.batches[0]]), { ok: false, code: ChainErrorCode.BATCH_DUPLICATE, height: 3 })
})

test('a rule broken in a later block is reported before a forged signature in an earlier one, as before', async t => {
  let run = chain(3, () => freshBatches(VERIFY_CHUNK / 2 + 10))
  run = withBatches(run, 1, bs => bs.map((b, i) => i === 0 ? forged(b) : b))
  run = withBatches(run, 3, bs => [...bs, outsiderBatch()])
  t.like(await agree(t, run), { ok: false, code: ChainErrorCode.BATCH_AUTHOR_UNKNOWN })
})

test('header failures and a bad certificate agree with the reference', async t => {
  const run = chain(4)
  const badLink = run.map((fb, i) => i === 2 ? { ...fb, block: { ...fb.block, header: { ...fb.block.header, parentHash: ZERO_HASH } } } : fb)
  t.like(await agree(t, badLink), { ok: false, code: ChainErrorCode.HEADER_PARENT, height: 3 })
  const cert = run[3].certificate
  const badCert = run.map((fb, i) => i === 3 ? { ...fb, certificate: { ...cert, signatures: cert.signatures.map((s, j) => j === 1 ? { ...s, signature: new Uint8Array(64) } : s) } } : fb)
  t.like(await agree(t, badCert), { ok: false, code: ChainErrorCode.CERT_SIGNATURE, height: 4 })
})

test('a failed pool is reported, and chunks left behind by an earlier failure are not unhandled', async t => {
  const per = VERIFY_CHUNK
  const run = chain(3, () => freshBatches(per / 2 + 10))
  const failing = { verifyAll: async () => { throw new Error('signature verification worker failed') } } as unknown as VerifyPool
  await t.throwsAsync(new ChainVerifier(TEST_CHAIN_ID, fixedSchedule(SET), failing).verifyRun(GENESIS, run), { message: 'signature verification worker failed' })
  // Block 3 breaks a rule after block 2's chunk went to the failing pool: the rule is reported.
  const broken = withBatches(run, 3, bs => [outsiderBatch(), ...bs])
  await t.throwsAsync(new ChainVerifier(TEST_CHAIN_ID, fixedSchedule(SET), failing).verifyRun(GENESIS, broken), { code: ChainErrorCode.BATCH_AUTHOR_UNKNOWN })
  // A lookup that fails is reported too, unless the block fails before needing it.
  const down = { hasRecords: async () => { throw new Error('store down') } }
  await t.throwsAsync(new ChainVerifier(TEST_CHAIN_ID, fixedSchedule(SET), pool, down).verifyRun(GENESIS, run), { message: 'store down' })
  const badAtFirst = withBatches(run, 1, bs => [outsiderBatch(), ...bs])
  await t.throwsAsync(new ChainVerifier(TEST_CHAIN_ID, fixedSchedule(SET), pool, down).verifyRun(GENESIS, badAtFirst), { code: ChainErrorCode.BATCH_AUTHOR_UNKNOWN })
  await new Promise(resolve => setTimeout(resolve, 50))
  t.pass()
})

/** A schedule whose block `govAt` carries one approval check (valid or not) and which logs what it is asked. */
function governed (govAt: number, valid: boolean, log: string[]): ValidatorSchedule {
  const message = new Uint8Array([1, 2, 3])
  const check: SignatureCheck = { publicKey: V[0].publicKey, message, signature: valid ? V[0].sign(message) : new Uint8Array(64) }
  return {
    at: (h) => { log.push(`at ${h}`); return SET },
    checkBlock: (_c: string, b: Block) => b.header.height === govAt ? [check] : [],
    observe: (b: Block) => { log.push(`observe ${b.header.height}`) }
  }
}

test('a governance block settles every signature before the schedule observes it', async t => {
  const run = chain(5, () => freshBatches(VERIFY_CHUNK / 3))
  const log: string[] = []
  const refLog: string[] = []
  const lookup = lookupOf([])
  await new ChainVerifier(TEST_CHAIN_ID, governed(3, true, log), pool, lookup).verifyRun(GENESIS, run)
  await reference(governed(3, true, refLog), pool, undefined, GENESIS, run)
  t.deepEqual(log, refLog)
  t.true(log.indexOf('observe 3') < log.indexOf('at 4'))

  // A forged approval: nothing is observed, and an earlier forged batch still comes first.
  const bad: string[] = []
  await t.throwsAsync(new ChainVerifier(TEST_CHAIN_ID, governed(3, false, bad), pool).verifyRun(GENESIS, run), { code: ChainErrorCode.GOVERNANCE_INVALID, message: /block 3/ })
  t.false(bad.some(e => e.startsWith('observe')))
  const earlier = withBatches(run, 2, bs => bs.map((b, i) => i === 5 ? forged(b) : b))
  await t.throwsAsync(new ChainVerifier(TEST_CHAIN_ID, governed(3, false, []), pool).verifyRun(GENESIS, earlier), { code: ChainErrorCode.BATCH_SIGNATURE, message: /block 2/ })
})

test('a run continues from a tip', async t => {
  const run = chain(6)
  const v = new ChainVerifier(TEST_CHAIN_ID, fixedSchedule(SET), pool, lookupOf([]))
  const mid = await v.verifyRun(GENESIS, run.slice(0, 3))
  const end = await v.verifyRun(mid, run.slice(3))
  t.is(end.link.height, 6)
  t.true(bytesEqual(end.link.hash, blockHash(run[5].block.header)))
})

test('roots from the pool: every batch of a decoded run gets its records root and record ids remembered, the main thread\'s', async t => {
  const run = decoded(chain(4, h => [batchOf(0, 1), batchOf(1, 2 * h + 1), batchOf(2, 1000), batchOf(3, 0 + h)]))
  const batches = run.flatMap(fb => fb.block.body.batches)
  t.false(batches.some(b => batchRoots.has(b)), 'decoding remembers no batch root')
  t.false(batches.some(b => b.records.some(r => recordIds.has(r))), 'nor a record id: the workers hash the records')
  const tip = await new ChainVerifier(TEST_CHAIN_ID, fixedSchedule(SET), workers, lookupOf([])).verifyRun(GENESIS, run)
  t.is(tip.link.height, 4)
  for (const b of batches) {
    t.deepEqual(b.records.map(r => recordIds.get(r)), b.records.map(r => sha256(encodeRecord(r))), `ids of ${b.records.length} records`)
    t.deepEqual(batchRoots.get(b), batchRecordsRoot(b.records), `root of ${b.records.length} records`)
  }
})

test('roots from the pool: a batch sent to the workers has its signature checked there, and a forged one is reported as before', async t => {
  const per = 40
  let run = chain(5, () => freshBatches(per))
  run = withBatches(run, 4, bs => bs.map((b, i) => i === 3 ? forged(b) : b))
  run = withBatches(run, 2, bs => bs.map((b, i) => i === per - 1 ? forged(b) : b))
  const want = await outcome(async () => await reference(fixedSchedule(SET), pool, undefined, GENESIS, run))
  t.like(want, { ok: false, code: ChainErrorCode.BATCH_SIGNATURE, height: 2 })
  t.deepEqual(await outcome(async () => await new ChainVerifier(TEST_CHAIN_ID, fixedSchedule(SET), workers).verifyRun(GENESIS, decoded(run))), want)
})

/** Block `h` of a valid run with one record of its second batch changed after signing; `reheader` rebuilds the header over it. */
function tampered (run: FinalizedBlock[], h: number, reheader: boolean): FinalizedBlock[] {
  return run.map(fb => {
    if (fb.block.header.height !== h) return fb
    const batches = fb.block.body.batches.map((b, i) => i === 1 ? { ...b, records: b.records.map((r, j) => j === 1 ? { ...r, payload: new TextEncoder().encode('tampered') } : r) } : b)
    if (!reheader) return { ...fb, block: { ...fb.block, body: { ...fb.block.body, batches } } }
    const hd = fb.block.header
    const proposer = V.find(k => bytesEqual(k.publicKey, hd.proposer)) as typeof V[number]
    const block = makeBlock({ chainId: TEST_CHAIN_ID, height: h, time: hd.time, proposer, parentHash: hd.parentHash, validatorSetHash: hd.validatorSetHash, batches, lastCommit: fb.block.body.lastCommit })
    return { block, certificate: makeCertificate(V, { height: h, round: 0, blockHash: blockHash(block.header) }) }
  })
}

test('roots from the pool: a tampered record fails sync verification with the same error as before', async t => {
  const run = chain(4, () => [batchOf(0, 3), batchOf(1, 5), batchOf(2, 2)])
  // The header no longer matches the body: the records root check of checkBlock, at block 3.
  const body = tampered(run, 3, false)
  const want = await outcome(async () => await reference(fixedSchedule(SET), pool, undefined, GENESIS, body))
  t.like(want, { ok: false, code: ChainErrorCode.HEADER_RECORDS_ROOT, height: 3 })
  for (const p of [pool, rootedPool, workers]) {
    t.deepEqual(await outcome(async () => await new ChainVerifier(TEST_CHAIN_ID, fixedSchedule(SET), p).verifyRun(GENESIS, decoded(body))), want)
  }
  // A header rebuilt over the tampered body (and certified, but for block 4's link): the author's
  // signature no longer covers the batch. Block 3 alone, from block 2's tip.
  const tip2 = await new ChainVerifier(TEST_CHAIN_ID, fixedSchedule(SET), pool).verifyRun(GENESIS, run.slice(0, 2))
  const signed = tampered(run, 3, true).slice(2, 3)
  const want2 = await outcome(async () => await reference(fixedSchedule(SET), pool, undefined, tip2, signed))
  t.like(want2, { ok: false, code: ChainErrorCode.BATCH_SIGNATURE, height: 3 })
  for (const p of [pool, rootedPool, workers]) {
    t.deepEqual(await outcome(async () => await new ChainVerifier(TEST_CHAIN_ID, fixedSchedule(SET), p).verifyRun(tip2, decoded(signed))), want2)
  }
})

test('roots from the pool: a pool that fails is reported, and rooted chunks left behind are not unhandled', async t => {
  const run = chain(3, () => freshBatches(20))
  const failed = (): Promise<never> => Promise.reject(new Error('signature verification worker failed'))
  const broken = { verifyAll: pool.verifyAll, verifyRooted: () => ({ roots: failed(), ids: failed(), ok: failed() }) } as unknown as VerifyPool
  await t.throwsAsync(new ChainVerifier(TEST_CHAIN_ID, fixedSchedule(SET), broken).verifyRun(GENESIS, decoded(run)), { message: 'signature verification worker failed' })
  // Roots in, verdicts failing: reported at the end of the run, as a failing verifyAll is.
  const noVerdicts = { verifyAll: pool.verifyAll, verifyRooted: (cs: RootedCheck[]) => { const r = inline.verifyRooted(cs); return { roots: r.roots, ids: r.ids, ok: failed() } } } as unknown as VerifyPool
  await t.throwsAsync(new ChainVerifier(TEST_CHAIN_ID, fixedSchedule(SET), noVerdicts).verifyRun(GENESIS, decoded(run)), { message: 'signature verification worker failed' })
  // A rule broken in block 1 is reported though every rooted chunk fails.
  const bad = withBatches(run, 1, bs => [outsiderBatch(), ...bs])
  await t.throwsAsync(new ChainVerifier(TEST_CHAIN_ID, fixedSchedule(SET), noVerdicts).verifyRun(GENESIS, decoded(bad)), { code: ChainErrorCode.BATCH_AUTHOR_UNKNOWN })
  await new Promise(resolve => setTimeout(resolve, 50))
  t.pass()
})
