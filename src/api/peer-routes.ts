import type { FastifyInstance } from 'fastify'
import type { ApiNode } from './api-node.ts'
import { formatVersion, parseAgentVersion } from '../network/protocol-version.ts'
import { knownPeers, type PeerView } from './status-views.ts'

/** Peers with an offence on record listed at most (the worst first): the list the network keeps is bounded, this answer more so. */
export const MAX_PENALISED_LISTED = 256

export interface PeerDetail extends PeerView {
  /** Round trip of libp2p's last connection-monitor ping (every 10 s); null before the first. */
  latencyMs: number | null
  /** The identify agent version the peer announced, and the wire protocol version in it (null: a release from before versions). */
  agent: string | null
  protocol: string | null
  /** The peer's last reported chain height (status protocol); null before the first exchange. */
  height: number | null
  /** Gossipsub's score of the peer, and our own invalid-message weight and ban (src/network/peer-scores.ts). */
  score: { gossip: number, invalid: number, banned: boolean }
}

export interface PeersAnswer {
  peerId: string
  listen: string[]
  peers: PeerDetail[]
  /** Every peer with an offence on record, connected or not (banned peers are refused, so never connected). */
  penalised: Array<{ peerId: string, name: string | null, role: string, offences: number, invalid: number, bans: number, banned: boolean }>
}

/** Who this node is connected to and how each peer fares: for operators (GET /v1/peers). */
export function peersAnswer (node: ApiNode): PeersAnswer {
  const known = knownPeers(node)
  const heights = node.network.peerHeights()
  const peers = node.network.peerConnections().map(c => {
    const score = node.network.peerScore(c.peerId)
    const version = parseAgentVersion(c.agent)
    return {
      peerId: c.peerId,
      name: known.get(c.peerId)?.name ?? null,
      role: known.get(c.peerId)?.role ?? 'unknown',
      address: c.address,
      direction: c.direction,
      latencyMs: c.rttMs ?? null,
      agent: c.agent ?? null,
      protocol: version === undefined ? null : formatVersion(version),
      height: heights.get(c.peerId) ?? null,
      score: { gossip: node.network.gossipScore(c.peerId), invalid: score.invalid, banned: score.banned }
    }
  })
  const penalised = node.network.peerRecords()
    .sort((a, b) => Number(b.banned) - Number(a.banned) || b.invalid - a.invalid || b.offences - a.offences)
    .slice(0, MAX_PENALISED_LISTED)
    .map(r => ({ peerId: r.peer, name: known.get(r.peer)?.name ?? null, role: known.get(r.peer)?.role ?? 'unknown', offences: r.offences, invalid: r.invalid, bans: r.bans, banned: r.banned }))
  return { peerId: node.key.peerId, listen: node.network.addresses, peers, penalised }
}

/**
 * GET /v1/peers: topology (peer ids, names, addresses), so a `read` route: where the node requires
 * read tokens only their holders see it, the rule /v1/status applies to its peer list.
 */
export function registerPeerRoutes (app: FastifyInstance, node: ApiNode): void {
  app.get('/v1/peers', { config: { role: 'read' } }, async () => peersAnswer(node))
}
