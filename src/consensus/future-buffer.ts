import type { ConsensusMessage } from '../chain/codec.ts'
import { toHex } from '../encoding/bytes.ts'

/** Bounds of the next-height buffer (docs/network.md, table of bounds). */
export interface FutureBufferLimits {
  /** Bytes held in all (wire size of each message). */
  maxBytes: number
  /** Messages held in all. */
  maxMessages: number
  /** Bytes and messages one signing validator may hold, and one relaying peer. */
  shareBytes: number
  shareMessages: number
}

/**
 * - kept: held until the height starts.
 * - duplicate: the same signed content is held already (whatever its envelope).
 * - slot-taken: a proposal for this (height, round, proposer) is held already; one body per slot.
 * - full: the buffer, the signer's share or the peer's share is full.
 * - invalid: it would fit, but the caller's last check (run only then) refused it.
 */
export type FutureAdd = 'kept' | 'duplicate' | 'slot-taken' | 'full' | 'invalid'

interface Usage { bytes: number, messages: number }
interface Entry { msg: ConsensusMessage, key: string, slot: string | undefined, signer: string, peer: string, bytes: number }

/**
 * Messages for the height after ours, kept until we get there. Votes and at most one proposal
 * (with its block) per (height, round, proposer), de-duplicated on signed content, within a byte
 * and a message bound, of which each signing validator and each relaying peer may fill only a
 * share: one validator (or one connection) flooding fills its own share and nothing else.
 * Nothing in here is validated beyond the signer and its signature; the height's own checks run
 * when the messages are delivered.
 */
export class FutureBuffer {
  private entries: Entry[] = []
  private readonly keys = new Set<string>()
  private readonly slots = new Set<string>()
  private readonly bySigner = new Map<string, Usage>()
  private readonly byPeer = new Map<string, Usage>()
  private held = 0

  constructor (readonly limits: FutureBufferLimits) {}

  get bytes (): number { return this.held }
  get size (): number { return this.entries.length }

  has (key: string): boolean {
    return this.keys.has(key)
  }

  /**
   * Keeps `msg` (signed content `key`, `bytes` on the wire, relayed by `peer`) if it fits and
   * `check` (costly, so run only for a message that fits) holds.
   */
  add (msg: ConsensusMessage, key: string, peer: string, bytes: number, check?: () => boolean): FutureAdd {
    if (this.keys.has(key)) return 'duplicate'
    const signer = toHex(msg.kind === 'vote' ? msg.vote.validator : msg.proposal.header.proposer)
    const slot = msg.kind === 'proposal' ? `${msg.proposal.header.height}/${msg.proposal.header.round}/${signer}` : undefined
    if (slot !== undefined && this.slots.has(slot)) return 'slot-taken'
    const l = this.limits
    if (this.entries.length + 1 > l.maxMessages || this.held + bytes > l.maxBytes) return 'full'
    const s = this.bySigner.get(signer) ?? { bytes: 0, messages: 0 }
    const p = this.byPeer.get(peer) ?? { bytes: 0, messages: 0 }
    if (s.messages + 1 > l.shareMessages || s.bytes + bytes > l.shareBytes) return 'full'
    if (p.messages + 1 > l.shareMessages || p.bytes + bytes > l.shareBytes) return 'full'
    if (check !== undefined && !check()) return 'invalid'
    s.messages++; s.bytes += bytes; this.bySigner.set(signer, s)
    p.messages++; p.bytes += bytes; this.byPeer.set(peer, p)
    this.entries.push({ msg, key, slot, signer, peer, bytes })
    this.keys.add(key)
    if (slot !== undefined) this.slots.add(slot)
    this.held += bytes
    return 'kept'
  }

  /** Hands over the messages of `height` and forgets all others (older heights are final, later ones were never ours to keep). */
  take (height: number): ConsensusMessage[] {
    const out = this.entries.filter(e => (e.msg.kind === 'vote' ? e.msg.vote.height : e.msg.proposal.header.height) === height).map(e => e.msg)
    this.entries = []
    this.keys.clear()
    this.slots.clear()
    this.bySigner.clear()
    this.byPeer.clear()
    this.held = 0
    return out
  }

  /** Bytes held for one signer (hex public key) and for one peer. */
  usage (who: { signer?: string, peer?: string }): Usage {
    const u = who.signer !== undefined ? this.bySigner.get(who.signer) : this.byPeer.get(who.peer ?? '')
    return u ?? { bytes: 0, messages: 0 }
  }
}

/**
 * Each signer's and each peer's share: an equal part of the buffer, but never less than one
 * largest block and its votes, so the honest proposer of the next height always fits.
 */
export function futureLimits (o: { maxBytes: number, maxMessages: number, maxBlockBytes: number, validators: number }): FutureBufferLimits {
  const n = Math.max(1, o.validators)
  return {
    maxBytes: o.maxBytes,
    maxMessages: o.maxMessages,
    shareBytes: Math.min(o.maxBytes, Math.max(Math.floor(o.maxBytes / n), o.maxBlockBytes + 256 * 1024)),
    shareMessages: Math.min(o.maxMessages, Math.max(Math.floor(o.maxMessages / n), 256))
  }
}
