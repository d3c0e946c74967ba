import { Worker } from 'node:worker_threads'
import { availableParallelism } from 'node:os'
import { verifySignature } from './ed25519.ts'

export interface SignatureCheck {
  publicKey: Uint8Array
  message: Uint8Array
  signature: Uint8Array
}

/**
 * Bulk Ed25519 verification across worker threads, one per core. Jobs are split into chunks so
 * every core works on a large job; small jobs run inline (a round trip to a worker costs more
 * than a few verifies). Returns one boolean per check, in order.
 */
export class VerifyPool {
  private readonly workers: Worker[] = []
  private readonly pending = new Map<number, (ok: Uint8Array) => void>()
  private nextId = 0
  private next = 0
  readonly size: number
  readonly inlineBelow: number

  constructor (opts: { threads?: number, inlineBelow?: number } = {}) {
    this.size = Math.max(1, opts.threads ?? availableParallelism())
    this.inlineBelow = opts.inlineBelow ?? 16
  }

  private ensureWorkers (): void {
    if (this.workers.length > 0) return
    for (let i = 0; i < this.size; i++) {
      const w = new Worker(new URL('./verify-worker.js', import.meta.url))
      w.unref()
      w.on('message', ({ id, ok }: { id: number, ok: Uint8Array }) => {
        const done = this.pending.get(id)
        this.pending.delete(id)
        done?.(ok)
      })
      w.on('error', (err) => {
        // A worker that dies fails nothing silently: the pending jobs reject via inline fallback.
        for (const [id, done] of this.pending) { this.pending.delete(id); done(new Uint8Array(0)) }
        throw err
      })
      this.workers.push(w)
    }
  }

  async verifyAll (checks: SignatureCheck[]): Promise<boolean[]> {
    if (checks.length < this.inlineBelow) return checks.map(c => verifySignature(c.publicKey, c.message, c.signature))
    this.ensureWorkers()
    const chunks = Math.min(this.workers.length, Math.ceil(checks.length / this.inlineBelow))
    const per = Math.ceil(checks.length / chunks)
    const parts: Array<Promise<Uint8Array>> = []
    for (let start = 0; start < checks.length; start += per) parts.push(this.run(checks.slice(start, start + per)))
    const results = await Promise.all(parts)
    const out: boolean[] = []
    let i = 0
    for (const r of results) {
      for (let j = 0; j < r.length; j++) out.push(r[j] === 1)
      i += r.length
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
    const keys = new Uint8Array(n * 32)
    const sigs = new Uint8Array(n * 64)
    const msgs: Uint8Array[] = []
    for (let i = 0; i < n; i++) {
      const c = checks[i]
      // Malformed lengths cannot be valid; a zero key/signature fails verification in the worker.
      if (c.publicKey.length === 32) keys.set(c.publicKey, i * 32)
      if (c.signature.length === 64 && c.publicKey.length === 32) sigs.set(c.signature, i * 64)
      msgs.push(c.message)
    }
    const id = this.nextId++
    const w = this.workers[this.next++ % this.workers.length]
    return await new Promise<Uint8Array>((resolve) => {
      this.pending.set(id, resolve)
      w.postMessage({ id, keys, sigs, msgs })
    })
  }

  async close (): Promise<void> {
    await Promise.all(this.workers.map(async w => await w.terminate()))
    this.workers.length = 0
  }
}
