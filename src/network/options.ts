import { PROTOCOL_VERSION, type ProtocolVersion } from './protocol-version.ts'

/**
 * What the operator configures for the network layer, and the defaults. Sizes are bytes, times
 * milliseconds.
 */
export interface NetworkOptions {
  /** Listen multiaddrs, e.g. ['/ip4/127.0.0.1/tcp/0']. */
  listen: string[]
  /** Addresses to advertise instead of the listen addresses (NAT, containers). */
  announce?: string[]
  /**
   * Forward valid gossip to other peers (default true). Observers are leaves: every validator
   * publishes its messages to all peers directly, so an observer's forwarded copies only cost
   * the validators work; with false, valid messages are reported to gossipsub as IGNORE (no
   * forwarding, no penalty for the sender).
   */
  relay?: boolean
  /** Peers to dial at start and keep connected: multiaddrs ending in /p2p/<peerId>. */
  bootstrap: string[]
  /** libp2p pnet swarm key file bytes (`/key/swarm/psk/1.0.0/`): a second fence besides the allowlist. */
  preSharedKey?: Uint8Array
  /** How often sync asks connected peers for their status. */
  syncIntervalMs?: number
  /** Most blocks asked for (and served) in one blocks request. */
  maxBlocksPerRequest?: number
  /** Most bytes of encoded blocks in one blocks response. */
  maxResponseBytes?: number
  /**
   * Source addresses (CIDR ranges or single IPs, e.g. '10.0.0.0/8') that may open an inbound
   * connection at all, checked before the handshake; empty: any address (the peer-id allowlist
   * still applies after Noise).
   */
  inboundAllow?: string[]
  /** An inbound connection must finish Noise and Yamux within this time, or it is closed. */
  inboundUpgradeTimeoutMs?: number
  /** Inbound connections in the handshake at once, from all sources (libp2p maxIncomingPendingConnections). */
  maxPendingInbound?: number
  /** Inbound connections in the handshake at once from one IP address. */
  maxPendingInboundPerIp?: number
  /** Inbound connection attempts one IP address may make per second (libp2p inboundConnectionThreshold). */
  inboundConnectionsPerIpPerSecond?: number
  /**
   * Most peers this node dials and keeps (0: every allowed peer, a full mesh). Preferred peers
   * (NetworkModules.preferred: the validators, for a member) are dialled first.
   */
  maxPeers?: number
}

/** Every tunable with its value; `resolveOptions` fills what the operator left out. */
export interface ResolvedNetworkOptions extends Required<Omit<NetworkOptions, 'preSharedKey' | 'announce'>> {
  announce: string[]
  preSharedKey?: Uint8Array
  /** A request that gets no answer in this time fails (and counts against nobody). */
  requestTimeoutMs: number
  /** Reconnect backoff to a known allowed peer: first wait, growth factor, ceiling. */
  reconnectBaseMs: number
  reconnectMaxMs: number
  /** Invalid messages (by weight) a peer may send before it is banned. */
  invalidThreshold: number
  /** First ban length; each further ban of the same peer doubles it, up to banMaxMs. */
  banBaseMs: number
  banMaxMs: number
  /** Publish queues: messages waiting for the wire, per topic. */
  maxQueuedBatches: number
  maxQueuedConsensus: number
  /** The publish pump waits while any gossip stream has more than this many bytes unsent. */
  publishHighWaterBytes: number
  /** Bytes of received gossip in validation at once (one peer at most half); beyond it new messages are ignored. */
  maxInFlightBytes: number
  /** The wire protocol version announced in the handshake (tests set another to play an older or newer node). */
  protocolVersion: ProtocolVersion
}

export const DEFAULT_NETWORK_OPTIONS = {
  relay: true,
  syncIntervalMs: 1_000,
  maxBlocksPerRequest: 256,
  maxResponseBytes: 16 * 1024 * 1024,
  inboundAllow: [],
  // A small permissioned network: a member's Noise + Yamux handshake takes milliseconds on a LAN
  // and well under a second across a continent (5 s leaves room for a CPU-starved node); members
  // reconnect rarely (with backoff), and several may share one address (a NAT, a devnet on loopback).
  inboundUpgradeTimeoutMs: 5_000,
  maxPendingInbound: 8,
  maxPendingInboundPerIp: 4,
  inboundConnectionsPerIpPerSecond: 5,
  maxPeers: 0,
  requestTimeoutMs: 10_000,
  reconnectBaseMs: 500,
  reconnectMaxMs: 30_000,
  invalidThreshold: 10,
  banBaseMs: 30_000,
  banMaxMs: 30 * 60_000,
  maxQueuedBatches: 1_024,
  maxQueuedConsensus: 4_096,
  publishHighWaterBytes: 1024 * 1024,
  maxInFlightBytes: 16 * 1024 * 1024,
  protocolVersion: PROTOCOL_VERSION
} as const

/** Hard ceilings: a config asking for more is clamped, so one peer can never make us buffer without bound. */
export const MAX_BLOCKS_PER_REQUEST = 4_096
export const MAX_RESPONSE_BYTES = 64 * 1024 * 1024

export function resolveOptions (opts: NetworkOptions & Partial<ResolvedNetworkOptions>): ResolvedNetworkOptions {
  const r: ResolvedNetworkOptions = {
    ...DEFAULT_NETWORK_OPTIONS,
    ...stripUndefined(opts),
    listen: opts.listen,
    announce: opts.announce ?? [],
    bootstrap: opts.bootstrap ?? [],
    inboundAllow: [...(opts.inboundAllow ?? [])]
  }
  r.maxBlocksPerRequest = clampInt(r.maxBlocksPerRequest, 1, MAX_BLOCKS_PER_REQUEST, 'maxBlocksPerRequest')
  r.maxResponseBytes = clampInt(r.maxResponseBytes, 64 * 1024, MAX_RESPONSE_BYTES, 'maxResponseBytes')
  r.syncIntervalMs = clampInt(r.syncIntervalMs, 50, 3_600_000, 'syncIntervalMs')
  r.inboundUpgradeTimeoutMs = clampInt(r.inboundUpgradeTimeoutMs, 500, 60_000, 'inboundUpgradeTimeoutMs')
  r.maxPendingInbound = clampInt(r.maxPendingInbound, 1, 1_024, 'maxPendingInbound')
  r.maxPendingInboundPerIp = clampInt(r.maxPendingInboundPerIp, 1, r.maxPendingInbound, 'maxPendingInboundPerIp')
  r.inboundConnectionsPerIpPerSecond = clampInt(r.inboundConnectionsPerIpPerSecond, 1, 1_000, 'inboundConnectionsPerIpPerSecond')
  return r
}

function clampInt (v: number, min: number, max: number, what: string): number {
  if (!Number.isSafeInteger(v)) throw new TypeError(`network option ${what} must be an integer`)
  return Math.min(max, Math.max(min, v))
}

function stripUndefined<T extends object> (o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>
}
