import type { Connection, PeerId } from '@libp2p/interface'
import type { Logger } from '../logger.ts'
import type { MedledgerLibp2p } from './libp2p-node.ts'

/**
 * What this module reaches inside gossipsub (17.x): the peers it routes to, its one outbound
 * stream per peer, and the queue through which it opens one. None of them is in the exported
 * interface; `gossipInternals` checks their shape when the network starts, so an upgrade that
 * changes them stops every node (and every network test) instead of silently losing the repair.
 */
interface GossipsubInternals {
  peers: Map<string, PeerId>
  streamsOutbound: Map<string, unknown>
  outboundInflightQueue: { push: (item: { peerId: PeerId, connection: Connection }) => void }
}

export function gossipInternals (pubsub: unknown): GossipsubInternals {
  const g = pubsub as Partial<GossipsubInternals>
  if (!(g.peers instanceof Map) || !(g.streamsOutbound instanceof Map) || typeof g.outboundInflightQueue?.push !== 'function') {
    throw new Error('gossipsub internals changed: peers, streamsOutbound or outboundInflightQueue missing (src/network/gossip-streams.ts)')
  }
  return g as GossipsubInternals
}

/** How often connected peers are checked for a missing outbound gossip stream. */
export const GOSSIP_STREAM_CHECK_MS = 1_000

/**
 * Keeps an outbound gossip stream open to every connected peer. Gossipsub opens its one outbound
 * stream to a peer when the peer connects (or opens a stream to us) and forgets it when it
 * closes; it opens no other while the peer stays connected. A peer often has two connections for
 * a while: a redial while the old connection is dead but not yet closed (a cut cable, a changed
 * address), or two dials crossing. When the connection carrying the stream closes, the peer is
 * still connected over the other, no peer:disconnect comes, and every later message to it is
 * lost: a validator whose votes reach nobody, the chain halted with every node connected
 * (the multi-host tier's halt and resume, 2026-12-03). Each check opens a stream, through
 * gossipsub's own queue, on an open connection of every peer gossipsub routes to and holds no
 * stream for. Cost: one pass over the connections per second (at most max_connections).
 */
export class GossipStreamKeeper {
  private timer: NodeJS.Timeout | undefined
  /** Gossipsub's internals, checked once when the keeper starts. */
  private internals: GossipsubInternals | undefined

  constructor (private readonly modules: { libp2p: MedledgerLibp2p, logger: Logger, onReopen?: (peers: number) => void }, private readonly everyMs = GOSSIP_STREAM_CHECK_MS) {}

  start (): void {
    this.internals = gossipInternals(this.modules.libp2p.services.pubsub)
    this.timer = setInterval(() => { this.check() }, this.everyMs)
    this.timer.unref()
  }

  stop (): void {
    clearInterval(this.timer)
    this.timer = undefined
  }

  /** Opens the missing streams (none before start); returns the peers it asked gossipsub to open one to. */
  check (): string[] {
    const g = this.internals
    if (g === undefined) return []
    const asked = new Set<string>()
    for (const connection of this.modules.libp2p.getConnections()) {
      const id = connection.remotePeer.toString()
      if (connection.status !== 'open' || connection.limits !== undefined || asked.has(id)) continue
      if (!g.peers.has(id) || g.streamsOutbound.has(id)) continue
      // Gossipsub's queue opens streams one at a time and checks again that none exists.
      g.outboundInflightQueue.push({ peerId: connection.remotePeer, connection })
      asked.add(id)
    }
    if (asked.size > 0) {
      this.modules.onReopen?.(asked.size)
      this.modules.logger.debug({ peers: [...asked] }, 'gossip: no outbound stream to a connected peer; opening one')
    }
    return [...asked]
  }
}
