/**
 * Token buckets by key (one per API token): `perMinute` calls a minute on average, bursts up to
 * `perMinute`. Keys are the few configured tokens' roles, so the map stays as small as that.
 */
export class RateLimiter {
  readonly #buckets = new Map<string, { tokens: number, at: number }>()

  constructor (readonly perMinute: number, private readonly now: () => number = Date.now) {}

  /** Takes one call from the key's bucket: 0 when allowed, else the milliseconds until the next one is. */
  take (key: string): number {
    const now = this.now()
    const b = this.#buckets.get(key) ?? { tokens: this.perMinute, at: now }
    b.tokens = Math.min(this.perMinute, b.tokens + (now - b.at) * this.perMinute / 60_000)
    b.at = now
    this.#buckets.set(key, b)
    if (b.tokens >= 1) {
      b.tokens -= 1
      return 0
    }
    return Math.ceil((1 - b.tokens) * 60_000 / this.perMinute)
  }
}
