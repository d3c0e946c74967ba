import { randomBytes } from 'node:crypto'
import { toHex } from '../encoding/bytes.ts'

/**
 * One-time secrets with an expiry, at most `max` at once (challenge nonces, patient sessions,
 * enrolment codes). Who fills it: any caller of a public route, so the routes rate-limit by
 * address first; when it is full, expired entries are dropped, and if it is still full a new
 * entry is refused (the caller gets 503) rather than evicting a live one.
 */
export class ExpiringSecrets<V> {
  readonly #entries = new Map<string, { value: V, expiresAt: number }>()

  constructor (readonly ttlMs: number, readonly max: number, private readonly now: () => number = Date.now) {}

  get size (): number { return this.#entries.size }

  /** A fresh random secret (hex) for `value`, or undefined when the store is full of live entries. */
  issue (value: V, bytes = 32): { secret: string, expiresAt: number } | undefined {
    if (this.#entries.size >= this.max) this.sweep()
    if (this.#entries.size >= this.max) return undefined
    const secret = toHex(new Uint8Array(randomBytes(bytes)))
    const expiresAt = this.now() + this.ttlMs
    this.#entries.set(secret, { value, expiresAt })
    return { secret, expiresAt }
  }

  /** The value of a live secret; it stays usable until it expires. */
  peek (secret: string): V | undefined {
    const e = this.#entries.get(secret)
    if (e === undefined) return undefined
    if (this.now() >= e.expiresAt) { this.#entries.delete(secret); return undefined }
    return e.value
  }

  /** The value of a live secret, which is spent by this call whatever the caller does next (single use). */
  take (secret: string): V | undefined {
    const v = this.peek(secret)
    this.#entries.delete(secret)
    return v
  }

  private sweep (): void {
    const now = this.now()
    for (const [k, e] of this.#entries) if (now >= e.expiresAt) this.#entries.delete(k)
  }
}
