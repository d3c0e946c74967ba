import { Worker } from 'node:worker_threads'
import { availableParallelism } from 'node:os'
import { PUBLIC_KEY_LENGTH, SIGNATURE_LENGTH, verifySignature } from './ed25519.ts'
import { HASH_LENGTH, sha256 } from './hash.ts'
import { merkleRoot } from '../merkle/rfc6962.ts'
import { SRC_ROOT } from '../src-root.ts'

export interface SignatureCheck {
  publicKey: Uint8Array
  message: Uint8Array
  signature: Uint8Array
}

/**
 * A signature over a message that holds an RFC 6962 Merkle root the signer computed (a batch's
 * signed bytes hold the root over its record ids): the pool computes the root from the leaves,
 * writes it into the message at `rootAt`, then verifies, so the caller need not hash the leaves.
 */
export interface RootedCheck {
  publicKey: Uint8Array
  /** The signed message with room for the 32-byte root at `rootAt` (whatever is there is replaced). */
  message: Uint8Array
  rootAt: number
  /** The leaves' data in order (e.g. record ids): the root is RFC 6962's over them. */
  leaves: Uint8Array[]
  /**
   * When set, `leaves` are record encodings and each leaf's data is its SHA-256 (the record's id):
   * the pool hashes them too and answers the ids.
   */
  hashLeaves?: boolean
  signature: Uint8Array
}

/**
 * The answer to rooted checks, in order: the roots (and, for checks with hashLeaves, the leaves'
 * SHA-256, else undefined) come as soon as they are computed, before the signatures are verified;
 * `ok` is verifyAll's answer for the completed messages.
 */
export interface RootedResults {
  roots: Promise<Uint8Array[]>
  ids: Promise<Array<Uint8Array[] | undefined>>
  ok: Promise<boolean[]>
}

export interface VerifyPoolOptions {
  /** Worker threads. Default: one per core, at most 4 (each costs 10-25 MB resident). */
  threads?: number
  /** Jobs with fewer checks run inline: a round trip to a worker costs more than a few verifies. */
  inlineBelow?: number
  /** Workers stop after this long without a job and start again on the next one; 0 keeps them. */
  idleMs?: number
  /** Most checks in one message to a worker (bounds the worker's heap whatever the job's size). */
  maxChunk?: number
}

export const DEFAULT_MAX_THREADS = 4

/**
 * Each worker is a small V8 isolate that only holds a key cache and the job in hand: a small
 * young generation keeps it at about 10 MB resident instead of 40 MB under load.
 */
const WORKER_LIMITS = { maxYoungGenerationSizeMb: 6, maxOldGenerationSizeMb: 64 }
const WORKER_URL = new URL('crypto/verify-worker.js', SRC_ROOT)

/**
 * The parent's Node options a worker takes: without module loaders (--import tsx and the like: the
 * worker is plain JavaScript, and a loader would cost each worker a loader thread of its own), and
 * without the V8 and per-process options Node refuses in a worker (ERR_WORKER_INVALID_EXEC_ARGV):
 * the heap limits a daemon is started with (bin/medledger.js, the memory budget) are the parent's
 * alone, the worker's heap is bounded by its resourceLimits.
 */
export function workerExecArgv (argv: readonly string[] = process.execArgv): string[] {
  const out: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '-r' || /^--(import|require|loader|experimental-loader)$/.test(a) || PARENT_ONLY_WITH_VALUE.test(a)) { i++; continue }
    if (/^--(import|require|loader|experimental-loader)=/.test(a) || PARENT_ONLY.test(a)) continue
    out.push(a)
  }
  return out
}

/** V8 heap and stack options and per-process ones a worker refuses (either spelling), with their value. */
const PARENT_ONLY = /^--(max[-_]old[-_]space[-_]size|max[-_]semi[-_]space[-_]size|max[-_]young[-_]generation[-_]size|heap[-_]growing[-_]percent|stack[-_]size|expose[-_]gc|title)(=|$)/
/** The same options given as two arguments (--max-old-space-size 300). */
const PARENT_ONLY_WITH_VALUE = /^--(max[-_]old[-_]space[-_]size|max[-_]semi[-_]space[-_]size|max[-_]young[-_]generation[-_]size|heap[-_]growing[-_]percent|stack[-_]size|title)$/

/**
 * A message to one worker. `answer` takes each of the worker's answers and says whether the job
 * is complete; `inline` finishes on the main thread whatever the worker left unanswered (it died).
 */
interface Job {
  worker: Worker
  answer: (msg: WorkerAnswer) => boolean
  inline: () => void
}

interface WorkerAnswer { id: number, ok?: Uint8Array, roots?: Uint8Array, ids?: Uint8Array }

/** Where a rooted check has no root to write (VerifyPool's wire format, see verify-worker.js). */
const NO_ROOT = 0xffffffff

interface RootedHead { roots: Uint8Array[], ids: Array<Uint8Array[] | undefined> }
interface RootedPart { head: Promise<RootedHead>, ok: Promise<Uint8Array> }

/**
 * Copies leaves end to end into `out` from byte `at`, noting where each ends (from `ends[k]`):
 * leaves that lie end to end in one buffer already (the records of a decoded batch) are copied
 * in one piece. Returns the byte after the last.
 */
function copyLeaves (xs: Uint8Array[], out: Uint8Array, at: number, ends: Uint32Array, k: number): number {
  let i = 0
  while (i < xs.length) {
    const first = xs[i]
    let j = i + 1
    let end = first.byteOffset + first.length
    while (j < xs.length && xs[j].buffer === first.buffer && xs[j].byteOffset === end) { end += xs[j].length; j++ }
    out.set(new Uint8Array(first.buffer, first.byteOffset, end - first.byteOffset), at)
    for (; i < j; i++) { at += xs[i].length; ends[k + i] = at }
  }
  return at
}

/** Most leaves in one message to a worker. */
const MAX_LEAVES = 1 << 16

/**
 * Cost of a leaf (two SHA-256 calls, about 2 µs) in signature checks (about 50 µs): how rooted
 * jobs are weighed against `inlineBelow` and split between workers.
 */
const LEAVES_PER_CHECK = 25

function verifyInline (checks: SignatureCheck[]): Uint8Array {
  const ok = new Uint8Array(checks.length)
  for (let i = 0; i < checks.length; i++) ok[i] = verifySignature(checks[i].publicKey, checks[i].message, checks[i].signature) ? 1 : 0
  return ok
}

/** A rooted check's root (and its leaves' SHA-256 with hashLeaves), computed here: what the worker computes. */
function rootInline (c: RootedCheck): { root: Uint8Array, ids: Uint8Array[] | undefined } {
  if (c.hashLeaves !== true) return { root: merkleRoot(c.leaves), ids: undefined }
  const ids = c.leaves.map(x => sha256(x))
  return { root: merkleRoot(ids), ids }
}

/** A rooted check's message with its root written in (a copy: the caller's message is left as it is). */
function completed (c: RootedCheck, root: Uint8Array): Uint8Array {
  const message = Uint8Array.from(c.message)
  if (rootFits(c)) message.set(root, c.rootAt)
  return message
}

const rootFits = (c: RootedCheck): boolean => Number.isSafeInteger(c.rootAt) && c.rootAt >= 0 && c.rootAt + HASH_LENGTH <= c.message.length

/**
 * Bulk Ed25519 verification across worker threads. Jobs are split into chunks so every worker
 * works on a large job; small jobs run inline. Returns one boolean per check, in order.
 *
 * Workers start on the first large job and stop after `idleMs` without one. A worker that fails
 * (it crashed, hit its heap limit, or its file is missing) is dropped and its jobs are verified
 * inline, so a result is always a real verification; after repeated failures the pool verifies
 * everything inline and says so once (a process warning).
 */
export class VerifyPool {
  private readonly workers: Worker[] = []
  private readonly jobs = new Map<number, Job>()
  private nextId = 0
  private next = 0
  private idleTimer: NodeJS.Timeout | undefined
  private failures = 0
  /** Workers stopped on purpose (idle, close): their exit is not a failure. */
  private readonly stopping = new WeakSet<Worker>()
  readonly size: number
  readonly inlineBelow: number
  readonly idleMs: number
  readonly maxChunk: number

  constructor (opts: VerifyPoolOptions = {}) {
    this.size = Math.max(1, opts.threads ?? Math.min(availableParallelism(), DEFAULT_MAX_THREADS))
    this.inlineBelow = opts.inlineBelow ?? 16
    this.idleMs = opts.idleMs ?? 30_000
    this.maxChunk = Math.max(1, opts.maxChunk ?? 4096)
  }

  /** Workers running now (they start on demand). */
  get running (): number { return this.workers.length }

  /** After three workers in a row failed, everything is verified inline. */
  get inlineOnly (): boolean { return this.failures >= 3 }

  private spawn (): Worker {
    let w: Worker
    try {
      w = new Worker(WORKER_URL, { resourceLimits: WORKER_LIMITS, execArgv: workerExecArgv() })
    } catch (err) {
      // Another option a worker refuses: the worker goes without the parent's options rather than
      // not at all (every check would then be verified on the main thread).
      if ((err as NodeJS.ErrnoException).code !== 'ERR_WORKER_INVALID_EXEC_ARGV') throw err
      w = new Worker(WORKER_URL, { resourceLimits: WORKER_LIMITS, execArgv: [] })
    }
    w.unref()
    w.on('message', (msg: WorkerAnswer) => {
      const job = this.jobs.get(msg.id)
      if (job === undefined) return
      this.failures = 0
      if (!job.answer(msg)) return
      this.jobs.delete(msg.id)
      if (this.jobs.size === 0) this.armIdle()
    })
    let failed = false
    const fail = (err?: Error): void => {
      if (failed) return
      failed = true
      const i = this.workers.indexOf(w)
      if (i >= 0) this.workers.splice(i, 1)
      const orphaned = [...this.jobs].filter(([, job]) => job.worker === w)
      if (!this.stopping.has(w) && (err !== undefined || orphaned.length > 0)) {
        this.failures++
        if (this.failures === 3) process.emitWarning(`signature verification workers keep failing (${err?.message ?? 'exited'}); verifying on the main thread`, { code: 'MEDLEDGER_VERIFY_POOL' })
      }
      for (const [id, job] of orphaned) {
        this.jobs.delete(id)
        job.inline()
      }
    }
    w.on('error', fail)
    w.on('exit', () => { fail() })
    return w
  }

  private armIdle (): void {
    if (this.idleMs <= 0 || this.workers.length === 0) return
    if (this.idleTimer !== undefined) { this.idleTimer.refresh(); return }
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined
      if (this.jobs.size === 0) void this.stopWorkers()
      else this.armIdle()
    }, this.idleMs)
    this.idleTimer.unref()
  }

  private async stopWorkers (): Promise<void> {
    const ws = this.workers.splice(0)
    for (const w of ws) this.stopping.add(w)
    await Promise.all(ws.map(async w => await w.terminate()))
  }

  /** Starts workers up to the pool's size; false when none could start (verify inline then). */
  private startWorkers (): boolean {
    try {
      while (this.workers.length < this.size) this.workers.push(this.spawn())
    } catch (err) {
      this.failures++
      if (this.workers.length === 0) {
        if (this.failures === 3) process.emitWarning(`signature verification workers cannot start (${(err as Error).message}); verifying on the main thread`, { code: 'MEDLEDGER_VERIFY_POOL' })
        return false
      }
    }
    return true
  }

  async verifyAll (checks: SignatureCheck[]): Promise<boolean[]> {
    if (checks.length < this.inlineBelow || this.inlineOnly || !this.startWorkers()) return checks.map(c => verifySignature(c.publicKey, c.message, c.signature))
    const chunks = Math.max(Math.min(this.size, Math.ceil(checks.length / this.inlineBelow)), Math.ceil(checks.length / this.maxChunk))
    const per = Math.ceil(checks.length / chunks)
    const parts: Array<Promise<Uint8Array>> = []
    for (let start = 0; start < checks.length; start += per) parts.push(this.run(checks.slice(start, start + per)))
    const results = await Promise.all(parts)
    const out = new Array<boolean>(checks.length)
    let i = 0
    for (const r of results) {
      for (let j = 0; j < r.length; j++) out[i++] = r[j] === 1
    }
    if (i !== checks.length) throw new Error('signature verification worker failed')
    return out
  }

  /** True when every check holds. */
  async verifyEvery (checks: SignatureCheck[]): Promise<boolean> {
    return (await this.verifyAll(checks)).every(Boolean)
  }

  /**
   * Rooted checks (see RootedCheck), one answer per check in order: each check's root, computed
   * from its leaves, and whether its signature verifies over its message with that root written
   * in. The roots come first: a worker answers them before it verifies. Split and run inline like
   * verifyAll, a leaf weighing 1/25 of a signature check.
   */
  verifyRooted (checks: RootedCheck[]): RootedResults {
    let leaves = 0
    for (const c of checks) leaves += c.leaves.length
    const weight = checks.length + leaves / LEAVES_PER_CHECK
    if (weight < this.inlineBelow || this.inlineOnly || !this.startWorkers()) {
      const got = checks.map(rootInline)
      const ok = checks.map((c, i) => verifySignature(c.publicKey, completed(c, got[i].root), c.signature))
      return { roots: Promise.resolve(got.map(g => g.root)), ids: Promise.resolve(got.map(g => g.ids)), ok: Promise.resolve(ok) }
    }
    const chunks = Math.max(Math.min(this.size, Math.ceil(weight / this.inlineBelow)), Math.ceil(checks.length / this.maxChunk), Math.ceil(leaves / MAX_LEAVES))
    const target = weight / chunks
    const parts: RootedPart[] = []
    let start = 0
    let w = 0
    let l = 0
    for (let i = 0; i < checks.length; i++) {
      const n = checks[i].leaves.length
      if (i > start && (w >= target || i - start >= this.maxChunk || l + n > MAX_LEAVES)) {
        parts.push(this.runRooted(checks.slice(start, i)))
        start = i
        w = 0
        l = 0
      }
      w += 1 + n / LEAVES_PER_CHECK
      l += n
    }
    if (start < checks.length) parts.push(this.runRooted(checks.slice(start)))
    const head = Promise.all(parts.map(async p => await p.head)).then(hs => {
      const roots = hs.flatMap(h => h.roots)
      const ids = hs.flatMap(h => h.ids)
      if (roots.length !== checks.length) throw new Error('signature verification worker failed')
      return { roots, ids }
    })
    const ok = Promise.all(parts.map(async p => await p.ok)).then(oks => {
      const out = new Array<boolean>(checks.length)
      let i = 0
      for (const r of oks) for (let j = 0; j < r.length; j++) out[i++] = r[j] === 1
      if (i !== checks.length) throw new Error('signature verification worker failed')
      return out
    })
    return { roots: head.then(h => h.roots), ids: head.then(h => h.ids), ok }
  }

  /** One worker message of rooted checks: the roots and ids (views into what the worker sent), then the verdicts (1 = valid). */
  private runRooted (checks: RootedCheck[]): RootedPart {
    const n = checks.length
    const keys = new Uint8Array(n * PUBLIC_KEY_LENGTH)
    const sigs = new Uint8Array(n * SIGNATURE_LENGTH)
    const ends = new Uint32Array(n)
    const rootAt = new Uint32Array(n)
    const countEnds = new Uint32Array(n)
    const hashed = new Uint8Array(n)
    // Checks whose root the worker cannot write (no room in the message; leaves that are not 32
    // bytes and not to be hashed), which no caller in this code base sends, get it from the main
    // thread, with their message completed here.
    const here = new Map<number, { root: Uint8Array, ids: Uint8Array[] | undefined }>()
    let total = 0
    let leafCount = 0
    let leafBytes = 0
    for (let i = 0; i < n; i++) {
      const c = checks[i]
      total += c.message.length
      if (!rootFits(c) || (c.hashLeaves !== true && c.leaves.some(x => x.length !== HASH_LENGTH))) {
        here.set(i, rootInline(c))
        continue
      }
      leafCount += c.leaves.length
      for (const x of c.leaves) leafBytes += x.length
    }
    const data = new Uint8Array(total)
    const leaves = new Uint8Array(leafBytes)
    const leafEnds = new Uint32Array(leafCount)
    let malformed = false
    total = 0
    leafCount = 0
    leafBytes = 0
    for (let i = 0; i < n; i++) {
      const c = checks[i]
      if (!packKey(c, i, keys, sigs)) malformed = true
      const inline = here.get(i)
      if (inline === undefined) {
        data.set(c.message, total)
        rootAt[i] = c.rootAt
        hashed[i] = c.hashLeaves === true ? 1 : 0
        leafBytes = copyLeaves(c.leaves, leaves, leafBytes, leafEnds, leafCount)
        leafCount += c.leaves.length
      } else {
        data.set(completed(c, inline.root), total)
        rootAt[i] = NO_ROOT
      }
      total += c.message.length
      ends[i] = total
      countEnds[i] = leafCount
    }
    const fix = (ok: Uint8Array): Uint8Array => malformed ? refuseMalformed(checks, ok) : ok
    let resolveHead!: (h: RootedHead) => void
    let resolveOk!: (ok: Uint8Array) => void
    const head = new Promise<RootedHead>(resolve => { resolveHead = resolve })
    const ok = new Promise<Uint8Array>(resolve => { resolveOk = resolve })
    let got: RootedHead | undefined
    const w = this.workers[this.next++ % this.workers.length]
    const id = this.nextId++
    this.jobs.set(id, {
      worker: w,
      answer: (msg) => {
        if (msg.roots !== undefined && msg.ids !== undefined && got === undefined) {
          const roots: Uint8Array[] = []
          const ids: Array<Uint8Array[] | undefined> = []
          let at = 0
          for (let i = 0; i < n; i++) {
            const inline = here.get(i)
            roots.push(inline?.root ?? msg.roots.subarray(i * HASH_LENGTH, (i + 1) * HASH_LENGTH))
            // (`hashed` went to the worker: the checks say which were hashed.)
            if (inline !== undefined || checks[i].hashLeaves !== true) { ids.push(inline?.ids); continue }
            const mine: Uint8Array[] = new Array(checks[i].leaves.length)
            for (let j = 0; j < mine.length; j++, at += HASH_LENGTH) mine[j] = msg.ids.subarray(at, at + HASH_LENGTH)
            ids.push(mine)
          }
          got = { roots, ids }
          resolveHead(got)
          return false
        }
        if (msg.ok === undefined) return false
        resolveOk(fix(msg.ok))
        return true
      },
      inline: () => {
        if (got === undefined) {
          const all = checks.map((c, i) => here.get(i) ?? rootInline(c))
          got = { roots: all.map(a => a.root), ids: all.map(a => a.ids) }
          resolveHead(got)
        }
        const r = got.roots
        const out = new Uint8Array(n)
        for (let i = 0; i < n; i++) out[i] = verifySignature(checks[i].publicKey, completed(checks[i], r[i]), checks[i].signature) ? 1 : 0
        resolveOk(out)
      }
    })
    w.postMessage({ id, keys, sigs, data, ends, rootAt, countEnds, leafEnds, leaves, hashed }, [keys.buffer, sigs.buffer, data.buffer, ends.buffer, rootAt.buffer, countEnds.buffer, leafEnds.buffer, leaves.buffer, hashed.buffer])
    return { head, ok }
  }

  private async run (checks: SignatureCheck[]): Promise<Uint8Array> {
    const n = checks.length
    const keys = new Uint8Array(n * PUBLIC_KEY_LENGTH)
    const sigs = new Uint8Array(n * SIGNATURE_LENGTH)
    const ends = new Uint32Array(n)
    let total = 0
    for (let i = 0; i < n; i++) total += checks[i].message.length
    const data = new Uint8Array(total)
    let malformed = false
    total = 0
    for (let i = 0; i < n; i++) {
      const c = checks[i]
      if (!packKey(c, i, keys, sigs)) malformed = true
      data.set(c.message, total)
      total += c.message.length
      ends[i] = total
    }
    const w = this.workers[this.next++ % this.workers.length]
    const id = this.nextId++
    const ok = await new Promise<Uint8Array>((resolve) => {
      this.jobs.set(id, {
        worker: w,
        answer: (msg) => { if (msg.ok === undefined) return false; resolve(msg.ok); return true },
        inline: () => { resolve(verifyInline(checks)) }
      })
      w.postMessage({ id, keys, sigs, data, ends }, [keys.buffer, sigs.buffer, data.buffer, ends.buffer])
    })
    return malformed ? refuseMalformed(checks, ok) : ok
  }

  /** Stops the workers (a later job starts them again); jobs in flight are finished inline. */
  async close (): Promise<void> {
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer)
    this.idleTimer = undefined
    await this.stopWorkers()
  }
}

/**
 * Puts check i's key and signature in their slots of the buffers sent to a worker; false (the
 * slots left zero) when either has the wrong length.
 */
function packKey (c: Pick<SignatureCheck, 'publicKey' | 'signature'>, i: number, keys: Uint8Array, sigs: Uint8Array): boolean {
  if (c.publicKey.length !== PUBLIC_KEY_LENGTH || c.signature.length !== SIGNATURE_LENGTH) return false
  keys.set(c.publicKey, i * PUBLIC_KEY_LENGTH)
  sigs.set(c.signature, i * SIGNATURE_LENGTH)
  return true
}

/** Malformed lengths are never valid, whatever the zero-filled slot sent in their place gives. */
function refuseMalformed (checks: Array<Pick<SignatureCheck, 'publicKey' | 'signature'>>, ok: Uint8Array): Uint8Array {
  for (let i = 0; i < checks.length; i++) if (checks[i].publicKey.length !== PUBLIC_KEY_LENGTH || checks[i].signature.length !== SIGNATURE_LENGTH) ok[i] = 0
  return ok
}
