/**
 * Spots a peer that sends the same signed consensus message again and again in fresh envelopes
 * (another `seq`, or another signature over the same bytes): each copy has a new gossip id, so
 * gossipsub's seen-cache does not stop it. An honest node sends a given message once, forwards
 * it once (only when it was new to it) and re-sends it at most once per `rebroadcast_ms` while a
 * round stalls. Close pairs happen honestly (forwarded, then re-sent on the next rebroadcast tick;
 * two ticks bunched behind a busy publish queue), so a few are free; a peer whose copies of one
 * message keep coming closer than `minResendMs` apart is flooding.
 */
export interface ResendGuardOptions {
  minResendMs: number
  /** Close repeats of one message a peer is allowed before the next is counted as flooding. */
  freeCloseRepeats: number
  /** Messages remembered per peer (oldest forgotten first) and peers remembered. */
  maxKeysPerPeer: number
  maxPeers: number
}

interface Seen { last: number, close: number }

export class ResendGuard {
  private readonly peers = new Map<string, Map<string, Seen>>()

  constructor (private readonly opts: ResendGuardOptions) {}

  /** Notes that `peer` delivered signed content `key` at `now`; true when this copy is flooding. */
  tooSoon (peer: string, key: string, now: number): boolean {
    let seen = this.peers.get(peer)
    if (seen === undefined) {
      if (this.peers.size >= this.opts.maxPeers) this.peers.delete(this.peers.keys().next().value as string)
      seen = new Map()
      this.peers.set(peer, seen)
    }
    const e = seen.get(key)
    if (e === undefined) {
      if (seen.size >= this.opts.maxKeysPerPeer) seen.delete(seen.keys().next().value as string)
      seen.set(key, { last: now, close: 0 })
      return false
    }
    const close = now - e.last < this.opts.minResendMs
    e.last = now
    // Most recently seen last: the oldest is forgotten first.
    seen.delete(key)
    seen.set(key, e)
    // A calm gap forgives earlier close pairs: only an unbroken run of close copies is flooding.
    if (!close) { e.close = 0; return false }
    e.close++
    return e.close > this.opts.freeCloseRepeats
  }
}

export const DEFAULT_RESEND_GUARD: ResendGuardOptions = { minResendMs: 500, freeCloseRepeats: 2, maxKeysPerPeer: 4096, maxPeers: 1024 }
