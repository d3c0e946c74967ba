/**
 * Token buckets by key (one per API token, or per client address): `perMinute` calls a minute on
 * average, bursts up to `perMinute`. At most `maxKeys` buckets are kept: past that, buckets that
 * have refilled (the same as no bucket) are dropped, and if none has, the oldest.
 */
export class RateLimiter {
  readonly #buckets = new Map<string, { tokens: number, at: number }>()

  constructor (readonly perMinute: number, private readonly now: () => number = Date.now, readonly maxKeys = 10_000) {}

  get size (): number { return this.#buckets.size }

  /** Takes one call from the key's bucket: 0 when allowed, else the milliseconds until the next one is. */
  take (key: string): number {
    const now = this.now()
    const b = this.#buckets.get(key) ?? { tokens: this.perMinute, at: now }
    b.tokens = Math.min(this.perMinute, b.tokens + (now - b.at) * this.perMinute / 60_000)
    b.at = now
    if (!this.#buckets.has(key) && this.#buckets.size >= this.maxKeys) this.prune(now)
    this.#buckets.set(key, b)
    if (b.tokens >= 1) {
      b.tokens -= 1
      return 0
    }
    return Math.ceil((1 - b.tokens) * 60_000 / this.perMinute)
  }

  private prune (now: number): void {
    for (const [k, b] of this.#buckets) if (b.tokens + (now - b.at) * this.perMinute / 60_000 >= this.perMinute) this.#buckets.delete(k)
    // Still full of draining buckets: drop the oldest (a caller at many addresses gains a little burst, no memory).
    for (const k of this.#buckets.keys()) { if (this.#buckets.size < this.maxKeys) break; this.#buckets.delete(k) }
  }
}
