import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import type { Libp2p } from 'libp2p'
import type { Logger } from '../logger.ts'

export interface DialerOptions {
  reconnectBaseMs: number
  reconnectMaxMs: number
}

export interface DialerModules {
  libp2p: Libp2p
  logger: Logger
  /** Peers we should stay connected to: allowed, not banned, not ourselves. */
  targets: () => string[]
  bootstrap: string[]
  /** Most peers to dial and keep (0 or absent: every target, a full mesh). */
  maxPeers?: number
  /** Targets dialled first when maxPeers bounds the dials (a member: the validators). */
  preferred?: (peerId: string) => boolean
}

interface Backoff { failures: number, nextAt: number, dialing: boolean }

const TICK_MS = 250
const DIAL_TIMEOUT_MS = 10_000
/**
 * Start-up: for this long after start, a failed dial is retried within STARTUP_RETRY_MAX_MS
 * whatever the count of failures. The network's nodes start in any order and a peer not
 * listening yet refuses at once (cheap to retry); with the plain exponential backoff a node that
 * had tried a late peer six times waited 16-30 s for the next try, and N = 16 validators took 35 s
 * to converge (issue 16). After the window the backoff grows as before.
 */
export const STARTUP_WINDOW_MS = 60_000
export const STARTUP_RETRY_MAX_MS = 1_000

/**
 * Keeps a full mesh in a small network (or, with maxPeers, at most that many peers, preferred
 * ones first: a member keeps the validators and a few others): dials the bootstrap peers and every allowed peer whose
 * address we know (from bootstrap or from identify), and redials after a disconnect with
 * exponential backoff and jitter. The backoff resets only once the peer proved useful
 * (`markHealthy`, after a good status exchange), so a peer that accepts TCP and then hangs up
 * (it does not allow us) is not redialled in a tight loop.
 */
export class PeerDialer {
  private readonly backoff = new Map<string, Backoff>()
  private readonly bootstrapAddrs = new Map<string, Multiaddr[]>()
  private timer: NodeJS.Timeout | undefined
  private running = false
  private startedAt = 0

  constructor (private readonly opts: DialerOptions, private readonly modules: DialerModules) {
    for (const s of modules.bootstrap) {
      const ma = multiaddr(s)
      const id = ma.getComponents().findLast(c => c.name === 'p2p')?.value
      if (id === undefined) { modules.logger.warn({ addr: s }, 'bootstrap address has no /p2p/<peerId>: ignored'); continue }
      this.bootstrapAddrs.set(id, [...(this.bootstrapAddrs.get(id) ?? []), ma])
    }
  }

  async start (): Promise<void> {
    this.running = true
    this.startedAt = Date.now()
    for (const [id, addrs] of this.bootstrapAddrs) {
      if (id === this.modules.libp2p.peerId.toString()) continue
      await this.modules.libp2p.peerStore.merge(peerIdFromString(id), { multiaddrs: addrs })
    }
    this.tick()
  }

  stop (): void {
    this.running = false
    clearTimeout(this.timer)
    this.timer = undefined
  }

  markHealthy (peerId: string): void {
    this.backoff.delete(peerId)
  }

  /** Peers that left the allowlist: drop their redial state (they are no longer targets). */
  forget (peerIds: string[]): void {
    for (const id of peerIds) this.backoff.delete(id)
  }

  /** Dial now whoever is due (also called on disconnects). */
  tick (): void {
    clearTimeout(this.timer)
    if (!this.running) return
    const now = Date.now()
    const connected = new Set(this.modules.libp2p.getPeers().map(p => p.toString()))
    const max = this.modules.maxPeers ?? 0
    const preferred = this.modules.preferred
    let targets = this.modules.targets().filter(id => !connected.has(id))
    // Bounded (hundreds of members need not connect to everyone): preferred peers first, and no
    // more dials than the room left beside the connections and dials already open.
    let room = Number.POSITIVE_INFINITY
    if (max > 0) {
      if (preferred !== undefined) targets = [...targets.filter(id => preferred(id)), ...targets.filter(id => !preferred(id))]
      const dialing = [...this.backoff.values()].filter(b => b.dialing).length
      room = max - connected.size - dialing
    }
    for (const id of targets) {
      const b = this.backoff.get(id) ?? { failures: 0, nextAt: 0, dialing: false }
      this.backoff.set(id, b)
      if (b.dialing || b.nextAt > now) continue
      if (room <= 0) break
      room--
      void this.dial(id, b)
    }
    this.timer = setTimeout(() => { this.tick() }, TICK_MS)
  }

  private async dialBootstrap (id: string): Promise<boolean> {
    for (const ma of this.bootstrapAddrs.get(id) ?? []) {
      if (!this.running) return false
      try {
        await this.modules.libp2p.dial(ma, { signal: AbortSignal.timeout(DIAL_TIMEOUT_MS) })
        return true
      } catch {}
    }
    return false
  }

  private async dial (id: string, b: Backoff): Promise<void> {
    const libp2p = this.modules.libp2p
    const peerId = peerIdFromString(id)
    // Only peers whose address we know; peers that dialled us are reached again through identify's addresses.
    if (!this.bootstrapAddrs.has(id)) {
      const known = await libp2p.peerStore.get(peerId).then(p => p.addresses.length > 0, () => false)
      if (!known) return
    }
    b.dialing = true
    // Every attempt pushes the next one back; only markHealthy resets it.
    b.failures++
    const ceiling = Date.now() - this.startedAt < STARTUP_WINDOW_MS ? Math.min(STARTUP_RETRY_MAX_MS, this.opts.reconnectMaxMs) : this.opts.reconnectMaxMs
    const wait = Math.min(ceiling, this.opts.reconnectBaseMs * 2 ** (b.failures - 1))
    b.nextAt = Date.now() + wait * (0.75 + Math.random() * 0.5)
    try {
      await libp2p.dial(peerId, { signal: AbortSignal.timeout(DIAL_TIMEOUT_MS) })
    } catch (err) {
      // Identify may have replaced the configured address with one the peer announces; when that
      // one does not answer (a relay, NAT, a changed port), the operator's bootstrap address still may.
      const fallback = await this.dialBootstrap(id)
      if (!fallback && this.running) this.modules.logger.debug({ peer: id, failures: b.failures, retryInMs: Math.round(b.nextAt - Date.now()), err: (err as Error).message }, 'dial failed')
    } finally {
      b.dialing = false
    }
  }
}
