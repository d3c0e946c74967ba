import type { Logger } from '../logger.ts'

export interface PeerScoresOptions {
  /** Weight of invalid messages after which a peer is banned. */
  invalidThreshold: number
  banBaseMs: number
  banMaxMs: number
  /** The invalid count halves every this many ms, so rare mistakes never add up to a ban. */
  decayHalfLifeMs?: number
}

export interface PeerScoresModules {
  logger: Logger
  /**
   * How many peers may be banned at once. A ban beyond it is downgraded to a disconnect, so that
   * false accusations (or real faults beyond f) can never cut a small trusted network apart.
   */
  maxBanned: () => number
  /** Called when a peer crosses the threshold: `banned` false means disconnect only. */
  onPenalty: (peerId: string, banned: boolean, untilMs: number) => void
  now?: () => number
}

interface Entry {
  invalid: number
  updatedAt: number
  bans: number
  bannedUntil: number
  /** Offences ever counted against the peer (not decayed), for metrics. */
  offences: number
}

/** What a peer has cost so far: for logs, metrics and the status of an operator's investigation. */
export interface PeerRecord { peer: string, offences: number, invalid: number, bans: number, banned: boolean }

/** Weights: what one offence costs. A proven lie (bad block range) costs a whole threshold. */
export const PENALTY = {
  /** A gossip message that does not decode or that the application rejects. */
  invalidGossip: 1,
  /** A request that does not follow the protocol. */
  badRequest: 2,
  /** A response that does not follow the protocol. */
  badResponse: 5,
  /** Blocks that fail verification, or another chain: ban at once. */
  fatal: Number.POSITIVE_INFINITY
} as const

// Allowlists are small (validators + observers); the cap only guards against misuse.
const MAX_TRACKED_PEERS = 4_096

/**
 * Counts invalid messages per peer and bans a peer that sends too many: its connections are closed
 * and the gater refuses it for a cooldown that doubles with each ban (banBaseMs .. banMaxMs).
 */
export class PeerScores {
  private readonly entries = new Map<string, Entry>()
  private readonly now: () => number
  private readonly halfLife: number

  constructor (private readonly opts: PeerScoresOptions, private readonly modules: PeerScoresModules) {
    this.now = modules.now ?? Date.now
    this.halfLife = opts.decayHalfLifeMs ?? 60_000
  }

  /** Adds `weight` to the peer's invalid count; returns true if the peer was cut off (banned or disconnected). */
  penalise (peerId: string, weight: number, reason: string): boolean {
    const e = this.entry(peerId)
    this.decay(e)
    e.invalid += weight
    e.offences++
    this.modules.logger.info({ peer: peerId, reason, weight, invalid: e.invalid, threshold: this.opts.invalidThreshold }, 'peer penalised')
    if (e.invalid < this.opts.invalidThreshold) return false
    e.invalid = 0
    const now = this.now()
    if (this.bannedCount() >= this.modules.maxBanned()) {
      this.modules.logger.warn({ peer: peerId, reason, maxBanned: this.modules.maxBanned() }, 'peer over the invalid-message threshold: disconnecting only, the ban cap is reached')
      this.modules.onPenalty(peerId, false, now)
      return true
    }
    const length = Math.min(this.opts.banMaxMs, this.opts.banBaseMs * 2 ** e.bans)
    e.bans++
    e.bannedUntil = now + length
    this.modules.logger.warn({ peer: peerId, reason, banMs: length, bans: e.bans }, 'peer banned')
    this.modules.onPenalty(peerId, true, e.bannedUntil)
    return true
  }

  isBanned (peerId: string): boolean {
    const e = this.entries.get(peerId)
    return e !== undefined && e.bannedUntil > this.now()
  }

  /** Invalid-message weight currently held against the peer (after decay). */
  invalidCount (peerId: string): number {
    const e = this.entries.get(peerId)
    if (e === undefined) return 0
    this.decay(e)
    return e.invalid
  }

  /** Every peer with an offence on record. */
  records (): PeerRecord[] {
    const now = this.now()
    return [...this.entries].filter(([, e]) => e.offences > 0).map(([peer, e]) => {
      this.decay(e)
      return { peer, offences: e.offences, invalid: e.invalid, bans: e.bans, banned: e.bannedUntil > now }
    })
  }

  bannedPeers (): string[] {
    const now = this.now()
    return [...this.entries].filter(([, e]) => e.bannedUntil > now).map(([id]) => id)
  }

  /** Lifts a ban (an operator action, or the peer was re-admitted by governance). */
  unban (peerId: string): void {
    const e = this.entries.get(peerId)
    if (e !== undefined) e.bannedUntil = 0
  }

  private bannedCount (): number {
    return this.bannedPeers().length
  }

  private entry (peerId: string): Entry {
    let e = this.entries.get(peerId)
    if (e === undefined) {
      if (this.entries.size >= MAX_TRACKED_PEERS) this.evictOne()
      e = { invalid: 0, updatedAt: this.now(), bans: 0, bannedUntil: 0, offences: 0 }
      this.entries.set(peerId, e)
    }
    return e
  }

  private decay (e: Entry): void {
    const now = this.now()
    const dt = now - e.updatedAt
    if (dt > 0 && e.invalid > 0 && Number.isFinite(e.invalid)) e.invalid *= 0.5 ** (dt / this.halfLife)
    e.updatedAt = now
  }

  // Forget a peer that is not banned; the oldest first (Map keeps insertion order).
  private evictOne (): void {
    const now = this.now()
    for (const [id, e] of this.entries) {
      if (e.bannedUntil <= now) { this.entries.delete(id); return }
    }
  }
}
