/** What /v1/status shows beyond the chain: who the node is connected to, and which versions it speaks and stores. */
import type { ApiNode } from './api-node.ts'
import { peerIdOfPublicKey } from '../crypto/ed25519.ts'
import { protocols, topics } from '../network/protocol-ids.ts'
import { SCHEMA_VERSION } from '../storage/index.ts'

export interface PeerView {
  peerId: string
  /** The member's name in the genesis (or the governance change that added it); null if none. */
  name: string | null
  role: 'validator' | 'observer' | 'unknown'
  /** The remote multiaddr of the connection. */
  address: string
  direction: 'inbound' | 'outbound'
}

/** The connected peers with the name and role the chain gives them: for /v1/status. */
export function connectedPeerViews (node: ApiNode): PeerView[] {
  const members = new Map<string, { name: string, role: 'validator' | 'observer' }>()
  for (const m of node.genesis.observers) members.set(peerIdOfPublicKey(m.publicKey), { name: m.name, role: 'observer' })
  // Validators of the set in force last (governance may have added or removed some since genesis).
  for (const m of node.schedule.latest().members) members.set(peerIdOfPublicKey(m.publicKey), { name: m.name, role: 'validator' })
  return node.network.peerConnections().map(c => ({ peerId: c.peerId, name: members.get(c.peerId)?.name ?? null, role: members.get(c.peerId)?.role ?? 'unknown', address: c.address, direction: c.direction }))
}

/** The database layout version this node writes, and the versioned wire protocols and topics it speaks. */
export function nodeVersions (chainId: string): { schema: number, protocols: string[] } {
  return { schema: SCHEMA_VERSION, protocols: [...Object.values(protocols(chainId)), ...Object.values(topics(chainId))] }
}
