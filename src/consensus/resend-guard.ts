/**
 * Spots a peer that sends the same signed consensus message again and again in fresh envelopes
 * (another `seq`, or another signature over the same bytes): each copy has a new gossip id once
 * the id epoch turns (network/message-id.ts), so gossipsub's seen-cache does not stop it. Each
 * (peer, message) gets a token bucket: `burst` copies beyond the first at once, refilled one per
 * `refillMs`; a copy with no token left is a flood. The two kinds are sent differently, so each
 * has its own bucket (see the defaults below).
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

/**
 * Votes: an honest node sends a vote once, forwards it once (only when it was new to it) and
 * re-sends it at most once per `rebroadcast_ms` (at least 1,000 ms) while a round stalls: 3 close
 * copies (a forward and a rebroadcast tick together, ticks bunched behind a busy publish queue),
 * then one per 800 ms, below the slowest honest rate.
 */
export const DEFAULT_RESEND_GUARD: ResendGuardOptions = { refillMs: 800, burst: 3, maxKeysPerPeer: 4096, maxPeers: 1024 }

/**
 * Proposals: never re-sent (the stall rebroadcast sends votes only), so an honest peer delivers a
 * given proposal once: the proposer publishes it once (its double-sign guard refuses to sign the
 * slot again, even after a restart) and a relay forwards it once, only when it was new to it. One
 * more copy is tolerated (a relay that restarted and lost its seen-cache); a third within 30 s is
 * a flood. The rule no longer depends on how fast the flooder can send: its copies of one
 * proposal live only while that height is current or next (about two heights), so on a busy
 * machine it gets few of them through, and the vote rule's burst of 3 let it off (sim i1,
 * docs/simulation.md Finding 13).
 */
export const PROPOSAL_RESEND_GUARD: ResendGuardOptions = { refillMs: 30_000, burst: 1, maxKeysPerPeer: 256, maxPeers: 1024 }
