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
}

export const DEFAULT_NETWORK_OPTIONS = {
  relay: true,
  syncIntervalMs: 1_000,
  maxBlocksPerRequest: 256,
  maxResponseBytes: 16 * 1024 * 1024,
  requestTimeoutMs: 10_000,
  reconnectBaseMs: 500,
  reconnectMaxMs: 30_000,
  invalidThreshold: 10,
  banBaseMs: 30_000,
  banMaxMs: 30 * 60_000,
  maxQueuedBatches: 1_024,
  maxQueuedConsensus: 4_096,
  publishHighWaterBytes: 1024 * 1024,
  maxInFlightBytes: 64 * 1024 * 1024
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
    bootstrap: opts.bootstrap ?? []
  }
  r.maxBlocksPerRequest = clampInt(r.maxBlocksPerRequest, 1, MAX_BLOCKS_PER_REQUEST, 'maxBlocksPerRequest')
  r.maxResponseBytes = clampInt(r.maxResponseBytes, 64 * 1024, MAX_RESPONSE_BYTES, 'maxResponseBytes')
  r.syncIntervalMs = clampInt(r.syncIntervalMs, 50, 3_600_000, 'syncIntervalMs')
  return r
}

function clampInt (v: number, min: number, max: number, what: string): number {
  if (!Number.isSafeInteger(v)) throw new TypeError(`network option ${what} must be an integer`)
  return Math.min(max, Math.max(min, v))
}

function stripUndefined<T extends object> (o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>
}
