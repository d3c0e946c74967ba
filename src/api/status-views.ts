/** What /v1/status shows beyond the chain: who the node is connected to, and which versions it speaks and stores. */
import type { ApiNode } from './api-node.ts'
import { peerIdOfPublicKey } from '../crypto/ed25519.ts'
import { protocols, topics } from '../network/protocol-ids.ts'
import { formatVersion, PROTOCOL_VERSION, SOFTWARE_VERSION } from '../network/protocol-version.ts'
import { SCHEMA_VERSION } from '../storage/index.ts'

export type PeerRole = 'validator' | 'member' | 'observer' | 'unknown'

export interface PeerView {
  peerId: string
  /** The member's name in the genesis (or the governance change that added it); null if none. */
  name: string | null
  role: PeerRole
  /** The remote multiaddr of the connection. */
  address: string
  direction: 'inbound' | 'outbound'
}

/** Each peer id the chain knows, with its name and role: observers, then members and validators in force (latest set). */
export function knownPeers (node: ApiNode): Map<string, { name: string, role: PeerRole }> {
  const known = new Map<string, { name: string, role: PeerRole }>()
  for (const m of node.genesis.observers) known.set(peerIdOfPublicKey(m.publicKey), { name: m.name, role: 'observer' })
  // The sets in force last (governance may have added or removed some since genesis).
  for (const m of node.schedule.latestMembers().members) known.set(peerIdOfPublicKey(m.publicKey), { name: m.name, role: 'member' })
  for (const m of node.schedule.latest().members) known.set(peerIdOfPublicKey(m.publicKey), { name: m.name, role: 'validator' })
  return known
}

/** The connected peers with the name and role the chain gives them: for /v1/status. */
export function connectedPeerViews (node: ApiNode): PeerView[] {
  const known = knownPeers(node)
  return node.network.peerConnections().map(c => ({ peerId: c.peerId, name: known.get(c.peerId)?.name ?? null, role: known.get(c.peerId)?.role ?? 'unknown', address: c.address, direction: c.direction }))
}

/**
 * The versions this node speaks and stores, for rolling upgrades: the release, the wire protocol
 * version announced in the handshake (peers of another major are refused), the database layout
 * version and the versioned protocol ids and topics.
 */
export function nodeVersions (chainId: string): { software: string, protocol: string, schema: number, protocols: string[] } {
  return { software: SOFTWARE_VERSION, protocol: formatVersion(PROTOCOL_VERSION), schema: SCHEMA_VERSION, protocols: [...Object.values(protocols(chainId)), ...Object.values(topics(chainId))] }
}
