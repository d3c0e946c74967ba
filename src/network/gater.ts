import type { ConnectionGater, PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { InboundFence } from './inbound-fence.ts'

/**
 * The permissioned network's fence: the set of peer ids (validators and listed observers) that may
 * connect. It follows governance: `set` replaces the list at run time and reports who left.
 */
export class PeerAllowlist {
  private ids: Set<string>

  constructor (peerIds: Iterable<string>) {
    this.ids = new Set(peerIds)
  }

  has (peerId: string): boolean {
    return this.ids.has(peerId)
  }

  /** Replaces the list; returns the peer ids that joined it and those that left it. */
  set (peerIds: Iterable<string>): { added: string[], removed: string[] } {
    const next = new Set(peerIds)
    const added = [...next].filter(id => !this.ids.has(id))
    const removed = [...this.ids].filter(id => !next.has(id))
    this.ids = next
    return { added, removed }
  }

  list (): string[] {
    return [...this.ids]
  }
}

/**
 * A libp2p ConnectionGater that refuses every peer for which `admit` is false, at every hook where
 * the remote peer id is known: before dialling, after the Noise handshake (the first point where
 * an inbound peer's id is proven) and after the upgrade. A refused connection is closed by libp2p
 * before any protocol handler runs. Before Noise only the source address is known: `fence`
 * (inbound-fence.ts) decides there (address allowlist, handshakes per IP).
 */
export function createConnectionGater (admit: (peerId: string) => boolean, fence?: InboundFence): ConnectionGater {
  const deny = (peerId: PeerId): boolean => !admit(peerId.toString())
  return {
    denyDialPeer: deny,
    // A bootstrap or peer-store address names its peer: refuse before opening a socket.
    denyDialMultiaddr: (ma: Multiaddr): boolean => {
      const p2p = ma.getComponents().findLast(c => c.name === 'p2p')
      return p2p?.value !== undefined && !admit(p2p.value)
    },
    // Before encryption the peer id is unknown (TCP gives only an address): the fence judges the
    // address and the handshakes it already has open; the peer id is decided after Noise.
    denyInboundConnection: (maConn) => fence?.denyInbound(maConn) ?? false,
    denyOutboundConnection: (peerId: PeerId) => deny(peerId),
    denyInboundEncryptedConnection: (peerId: PeerId) => deny(peerId),
    denyOutboundEncryptedConnection: (peerId: PeerId) => deny(peerId),
    denyInboundUpgradedConnection: (peerId: PeerId, maConn) => {
      fence?.settled(maConn)
      return deny(peerId)
    },
    denyOutboundUpgradedConnection: (peerId: PeerId) => deny(peerId),
    // No relays in a permissioned network.
    denyInboundRelayReservation: () => true,
    denyOutboundRelayedConnection: () => true,
    denyInboundRelayedConnection: () => true
  }
}
