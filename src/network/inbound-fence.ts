import type { MultiaddrConnection } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Logger } from '../logger.ts'
import { CidrSet } from './cidr.ts'

export interface InboundFenceOptions {
  /** Source addresses (CIDR or single IPs) that may open a connection at all; empty: any. */
  allow: readonly string[]
  /** Inbound connections one IP may have in the handshake (before Noise proves a peer id) at once. */
  maxPendingPerIp: number
  /** A slot not released by close or upgrade is reclaimed after this long (the upgrade timeout bounds a handshake). */
  pendingExpiryMs: number
}

/** At most one summary line of refusals per this interval, so a flood cannot flood the log too. */
const LOG_EVERY_MS = 10_000

/**
 * What the node decides about an inbound TCP connection before any byte of the Noise handshake,
 * when all it knows is the source address (libp2p's `denyInboundConnection`):
 *
 * - refuse a source outside `p2p.inbound_allow` (when set);
 * - refuse a source that already has `maxPendingPerIp` connections in the handshake, so that one
 *   host with stalled handshakes holds only its share of libp2p's global pending-connection slots
 *   (`maxIncomingPendingConnections`) and an honest member can still get in.
 *
 * A slot is released when the connection finishes its upgrade (`settled`, from the gater's
 * upgraded-connection hook), when it closes (refused after Noise, timed out, reset), or at the
 * latest after `pendingExpiryMs`.
 */
export class InboundFence {
  private readonly allow: CidrSet
  private readonly pending = new Map<string, Map<MultiaddrConnection, number>>()
  private refused = { address: 0, pending: 0 }
  private lastLog = 0

  constructor (private readonly opts: InboundFenceOptions, private readonly log: Logger) {
    this.allow = new CidrSet(opts.allow)
  }

  /** True when the connection must be refused now. */
  denyInbound (maConn: MultiaddrConnection): boolean {
    const ip = remoteIp(maConn.remoteAddr)
    // Not an IP transport (none is configured today): only an explicit allowlist refuses it.
    if (ip === undefined) return this.allow.size > 0
    if (this.allow.size > 0 && !this.allow.contains(ip)) return this.refuse('address', ip)
    const now = Date.now()
    let held = this.pending.get(ip)
    if (held !== undefined) {
      for (const [c, expires] of held) if (expires <= now) held.delete(c)
      if (held.size >= this.opts.maxPendingPerIp) return this.refuse('pending', ip)
    } else {
      held = new Map()
      this.pending.set(ip, held)
    }
    held.set(maConn, now + this.opts.pendingExpiryMs)
    maConn.addEventListener('close', () => { this.settled(maConn) }, { once: true })
    return false
  }

  /** The connection left the handshake (upgraded or closed): its slot is free. */
  settled (maConn: MultiaddrConnection): void {
    const ip = remoteIp(maConn.remoteAddr)
    if (ip === undefined) return
    const held = this.pending.get(ip)
    if (held === undefined) return
    held.delete(maConn)
    if (held.size === 0) this.pending.delete(ip)
  }

  /** Connections from `ip` now in the handshake (tests, diagnostics). */
  pendingFrom (ip: string): number {
    return this.pending.get(ip)?.size ?? 0
  }

  /** Refusals since start, by reason. */
  get refusals (): { address: number, pending: number } {
    return { ...this.refused }
  }

  private refuse (reason: 'address' | 'pending', ip: string): true {
    this.refused[reason]++
    const now = Date.now()
    if (now - this.lastLog >= LOG_EVERY_MS) {
      this.lastLog = now
      this.log.warn({ lastSource: ip, refusedOutsideAllowlist: this.refused.address, refusedTooManyPending: this.refused.pending },
        reason === 'address'
          ? `refused an inbound connection from ${ip}: not in p2p.inbound_allow`
          : `refused an inbound connection from ${ip}: it already has ${this.opts.maxPendingPerIp} connections in the handshake`)
    }
    return true
  }
}

/** The IP literal of a /ip4 or /ip6 multiaddr, undefined for anything else. */
export function remoteIp (ma: Multiaddr): string | undefined {
  const c = ma.getComponents().find(c => c.name === 'ip4' || c.name === 'ip6')
  return c?.value
}
