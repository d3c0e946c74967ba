import { Worker } from 'node:worker_threads'
import { availableParallelism } from 'node:os'
import { PUBLIC_KEY_LENGTH, SIGNATURE_LENGTH, verifySignature } from './ed25519.ts'
import { SRC_ROOT } from '../src-root.ts'

export interface SignatureCheck {
  publicKey: Uint8Array
  message: Uint8Array
  signature: Uint8Array
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
 * The parent's Node options without module loaders (--import tsx and the like): the worker is
 * plain JavaScript, and a loader would cost each worker a loader thread of its own.
 */
function workerExecArgv (): string[] {
  const out: string[] = []
  const argv = process.execArgv
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '-r' || /^--(import|require|loader|experimental-loader)$/.test(a)) { i++; continue }
    if (/^--(import|require|loader|experimental-loader)=/.test(a)) continue
    out.push(a)
  }
  return out
}

interface Job {
  checks: SignatureCheck[]
  worker: Worker
  resolve: (ok: Uint8Array) => void
}

function verifyInline (checks: SignatureCheck[]): Uint8Array {
  const ok = new Uint8Array(checks.length)
  for (let i = 0; i < checks.length; i++) ok[i] = verifySignature(checks[i].publicKey, checks[i].message, checks[i].signature) ? 1 : 0
  return ok
}

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
    const w = new Worker(WORKER_URL, { resourceLimits: WORKER_LIMITS, execArgv: workerExecArgv() })
    w.unref()
    w.on('message', ({ id, ok }: { id: number, ok: Uint8Array }) => {
      const job = this.jobs.get(id)
      if (job === undefined) return
      this.jobs.delete(id)
      this.failures = 0
      job.resolve(ok)
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
        job.resolve(verifyInline(job.checks))
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

  async verifyAll (checks: SignatureCheck[]): Promise<boolean[]> {
    if (checks.length < this.inlineBelow || this.inlineOnly) return checks.map(c => verifySignature(c.publicKey, c.message, c.signature))
    try {
      while (this.workers.length < this.size) this.workers.push(this.spawn())
    } catch (err) {
      this.failures++
      if (this.workers.length === 0) {
        if (this.failures === 3) process.emitWarning(`signature verification workers cannot start (${(err as Error).message}); verifying on the main thread`, { code: 'MEDLEDGER_VERIFY_POOL' })
        return checks.map(c => verifySignature(c.publicKey, c.message, c.signature))
      }
    }
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
      if (c.publicKey.length === PUBLIC_KEY_LENGTH && c.signature.length === SIGNATURE_LENGTH) {
        keys.set(c.publicKey, i * PUBLIC_KEY_LENGTH)
        sigs.set(c.signature, i * SIGNATURE_LENGTH)
      } else {
        malformed = true
      }
      data.set(c.message, total)
      total += c.message.length
      ends[i] = total
    }
    const w = this.workers[this.next++ % this.workers.length]
    const id = this.nextId++
    const ok = await new Promise<Uint8Array>((resolve) => {
      this.jobs.set(id, { checks, worker: w, resolve })
      w.postMessage({ id, keys, sigs, data, ends }, [keys.buffer, sigs.buffer, data.buffer, ends.buffer])
    })
    // Malformed lengths are never valid, whatever the zero-filled slot sent in their place gives.
    if (malformed) for (let i = 0; i < n; i++) if (checks[i].publicKey.length !== PUBLIC_KEY_LENGTH || checks[i].signature.length !== SIGNATURE_LENGTH) ok[i] = 0
    return ok
  }

  /** Stops the workers (a later job starts them again); jobs in flight are finished inline. */
  async close (): Promise<void> {
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer)
    this.idleTimer = undefined
    await this.stopWorkers()
  }
}
