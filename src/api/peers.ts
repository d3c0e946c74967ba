import type { MedledgerNode } from '../node/node.ts'
import { peerIdOfPublicKey } from '../crypto/ed25519.ts'

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
export function connectedPeerViews (node: MedledgerNode): PeerView[] {
  const members = new Map<string, { name: string, role: 'validator' | 'observer' }>()
  for (const m of node.genesis.observers) members.set(peerIdOfPublicKey(m.publicKey), { name: m.name, role: 'observer' })
  // Validators of the set in force last (governance may have added or removed some since genesis).
  for (const m of node.schedule.latest().members) members.set(peerIdOfPublicKey(m.publicKey), { name: m.name, role: 'validator' })
  return node.network.peerConnections().map(c => ({ peerId: c.peerId, name: members.get(c.peerId)?.name ?? null, role: members.get(c.peerId)?.role ?? 'unknown', address: c.address, direction: c.direction }))
}
