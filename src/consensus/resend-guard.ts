/**
 * Spots a peer that sends the same signed consensus message again and again in fresh envelopes
 * (another `seq`, or another signature over the same bytes): each copy has a new gossip id once
 * the id epoch turns (network/message-id.ts), so gossipsub's seen-cache does not stop it. An honest
 * node sends a given message once, forwards it once (only when it was new to it) and re-sends it
 * at most once per `rebroadcast_ms` (at least 1,000 ms) while a round stalls. So each (peer,
 * message) gets a token bucket: `burst` copies beyond the first at once (a forward and a rebroadcast
 * tick close together, ticks bunched behind a busy publish queue), refilled one per `refillMs`
 * (below the slowest honest rate); a copy with no token left is a flood.
 */
export interface ResendGuardOptions {
  refillMs: number
  burst: number
  /** Messages remembered per peer (least recently seen forgotten first) and peers remembered. */
  maxKeysPerPeer: number
  maxPeers: number
}

interface Bucket { tokens: number, at: number }

export class ResendGuard {
  private readonly peers = new Map<string, Map<string, Bucket>>()

  constructor (private readonly opts: ResendGuardOptions) {}

  /** Notes that `peer` delivered signed content `key` at `now`; true when this copy is flooding. */
  tooSoon (peer: string, key: string, now: number): boolean {
    let seen = this.peers.get(peer)
    if (seen === undefined) {
      if (this.peers.size >= this.opts.maxPeers) this.peers.delete(this.peers.keys().next().value as string)
      seen = new Map()
      this.peers.set(peer, seen)
    }
    const b = seen.get(key)
    if (b === undefined) {
      if (seen.size >= this.opts.maxKeysPerPeer) seen.delete(seen.keys().next().value as string)
      seen.set(key, { tokens: this.opts.burst, at: now })
      return false
    }
    b.tokens = Math.min(this.opts.burst, b.tokens + Math.max(0, now - b.at) / this.opts.refillMs)
    b.at = now
    // Most recently seen last: the least recently seen is forgotten first.
    seen.delete(key)
    seen.set(key, b)
    if (b.tokens < 1) return true
    b.tokens -= 1
    return false
  }
}

export const DEFAULT_RESEND_GUARD: ResendGuardOptions = { refillMs: 800, burst: 3, maxKeysPerPeer: 4096, maxPeers: 1024 }
