import type { FinalizedBlock } from '../chain/types.ts'
import { isMedledgerError, PeerAction } from '../errors.ts'
import type { Logger } from '../logger.ts'
import type { SyncedDetail } from './interface.ts'

export interface SyncOptions {
  syncIntervalMs: number
  maxBlocksPerRequest: number
  /** How long a peer that served bad blocks is skipped by sync (even if the ban cap spared it). */
  badPeerCooldownMs: number
}

export interface SyncModules {
  logger: Logger
  localHeight: () => number
  connectedPeers: () => string[]
  /** Runs the status exchange; the peer's height is then known to `peerHeight`. */
  refreshStatus: (peerId: string, signal: AbortSignal) => Promise<unknown>
  peerHeight: (peerId: string) => number | undefined
  requestBlocks: (peerId: string, from: number, count: number, signal: AbortSignal) => Promise<FinalizedBlock[]>
  applyBlocks: (blocks: FinalizedBlock[], peerId: string) => Promise<void>
  /** The peer served data that failed verification (REJECT). */
  onBadPeer: (peerId: string, err: Error) => void
  onSynced: (detail: SyncedDetail) => void
}

// A peer that had nothing to give (timeout, empty range) is skipped this long.
const UNHELPFUL_COOLDOWN_MS = 5_000
const PROGRESS_LOG_MS = 5_000
/** Peers asked for their status per timer tick (in turn), beside the ones that ask us. */
export const STATUS_PEERS_PER_TICK = 2

/**
 * Catch-up: learn peers' heights from status exchanges (each one tells both sides: the request
 * carries our status), and while one is ahead, fetch ranges from our height + 1 from the highest
 * peer. On the timer a node asks only STATUS_PEERS_PER_TICK peers, in turn (with N peers it still
 * hears from about twice that many a tick, as they ask it too): asking every peer every tick was
 * N^2 exchanges a second across the network, a cost that grew faster than the network (issue 16).
 * On request (consensus saw a height it cannot reach, or a decided block it lacks) it asks every
 * peer at once; a status showing a peer ahead starts syncing without asking again. Fetching the
 * next range while the current one is applied. The application verifies and commits each range;
 * a range that fails verification makes us drop that peer and try the next one. Sync always
 * restarts from the local height, so an interrupted sync (stop, crash, lost peer) resumes where
 * the store left off. One loop runs at a time.
 */
export class BlockSync {
  private readonly avoid = new Map<string, number>()
  private timer: NodeJS.Timeout | undefined
  private running: Promise<void> | undefined
  private again = false
  /** Whom the next round asks for a status first: 'all', or a few in turn (the timer), or none. */
  private ask: 'all' | 'some' | 'none' = 'none'
  private turn = 0
  private abort = new AbortController()
  private stopped = true

  constructor (private readonly opts: SyncOptions, private readonly modules: SyncModules) {}

  start (): void {
    this.stopped = false
    this.abort = new AbortController()
    this.timer = setInterval(() => { this.trigger('some') }, this.opts.syncIntervalMs)
  }

  async stop (): Promise<void> {
    this.stopped = true
    clearInterval(this.timer)
    this.abort.abort()
    await this.running
  }

  /**
   * Run a sync round now (or right after the current one), asking `ask` peers for their status
   * first: every peer (the default: consensus asked for it), a few in turn (the timer), or none
   * (a status just showed a peer ahead).
   */
  trigger (ask: 'all' | 'some' | 'none' = 'all'): void {
    if (this.stopped) return
    if (ask === 'all' || (ask === 'some' && this.ask === 'none')) this.ask = ask
    if (this.running !== undefined) { this.again = true; return }
    this.running = this.loop().finally(() => { this.running = undefined })
  }

  get isSyncing (): boolean {
    return this.running !== undefined
  }

  private async loop (): Promise<void> {
    do {
      this.again = false
      try {
        await this.round(this.abort.signal)
      } catch (err) {
        if (!this.stopped) this.modules.logger.error({ err: (err as Error).message }, 'sync round failed')
      }
    } while (this.again && !this.stopped)
  }

  private async round (signal: AbortSignal): Promise<void> {
    const ask = this.ask
    this.ask = 'none'
    const peers = this.modules.connectedPeers()
    let asked = peers
    if (ask === 'none') asked = []
    else if (ask === 'some' && peers.length > STATUS_PEERS_PER_TICK) {
      asked = Array.from({ length: STATUS_PEERS_PER_TICK }, (_, i) => peers[(this.turn + i) % peers.length])
      this.turn = (this.turn + STATUS_PEERS_PER_TICK) % peers.length
    }
    await Promise.allSettled(asked.map(async p => await this.modules.refreshStatus(p, signal)))
    const tried = new Set<string>()
    while (!signal.aborted) {
      const peer = this.pickPeer(tried)
      if (peer === undefined) return
      tried.add(peer)
      await this.syncFrom(peer, signal)
    }
  }

  private pickPeer (tried: Set<string>): string | undefined {
    const now = Date.now()
    const local = this.modules.localHeight()
    let best: string | undefined
    let bestHeight = local
    for (const p of this.modules.connectedPeers()) {
      const h = this.modules.peerHeight(p)
      if (h === undefined || h <= bestHeight || tried.has(p) || (this.avoid.get(p) ?? 0) > now) continue
      best = p
      bestHeight = h
    }
    return best
  }

  private async syncFrom (peer: string, signal: AbortSignal): Promise<void> {
    const log = this.modules.logger
    const start = this.modules.localHeight()
    const startedAt = Date.now()
    let lastLog = startedAt
    let local = start
    let target = this.modules.peerHeight(peer) ?? 0
    log.info({ peer, local, target }, 'sync: fetching blocks')
    let prefetch: { from: number, blocks: Promise<FinalizedBlock[]> } | undefined
    const fetch = (from: number): Promise<FinalizedBlock[]> => {
      const p = this.modules.requestBlocks(peer, from, Math.min(this.opts.maxBlocksPerRequest, target - from + 1), signal)
      p.catch(() => {}) // a discarded prefetch must not become an unhandled rejection
      return p
    }
    try {
      while (local < target && !signal.aborted) {
        const from = local + 1
        const blocks = await (prefetch?.from === from ? prefetch.blocks : fetch(from))
        prefetch = undefined
        if (blocks.length === 0) {
          log.info({ peer, from, target }, 'sync: peer returned no blocks; trying another')
          this.avoid.set(peer, Date.now() + UNHELPFUL_COOLDOWN_MS)
          return
        }
        const to = from + blocks.length - 1
        if (to < target) prefetch = { from: to + 1, blocks: fetch(to + 1) }
        await this.modules.applyBlocks(blocks, peer)
        this.modules.onSynced({ peer, from, to })
        local = this.modules.localHeight()
        target = Math.max(target, this.modules.peerHeight(peer) ?? 0)
        if (Date.now() - lastLog >= PROGRESS_LOG_MS) {
          lastLog = Date.now()
          log.info({ peer, height: local, target, blocksPerSec: Math.round((local - start) * 1000 / (lastLog - startedAt)) }, 'sync: progress')
        }
      }
      if (local > start) {
        const ms = Date.now() - startedAt
        log.info({ peer, from: start + 1, to: local, ms, blocksPerSec: Math.round((local - start) * 1000 / Math.max(1, ms)) }, 'sync: caught up with peer')
      }
    } catch (err) {
      if (signal.aborted) return
      const e = err as Error
      if (isMedledgerError(e) && e.action === PeerAction.REJECT) {
        log.warn({ peer, height: local, err: e.message }, 'sync: peer served invalid blocks; dropping it and trying another')
        this.avoid.set(peer, Date.now() + this.opts.badPeerCooldownMs)
        this.modules.onBadPeer(peer, e)
      } else {
        log.info({ peer, height: local, err: e.message }, 'sync: peer failed; trying another')
        this.avoid.set(peer, Date.now() + UNHELPFUL_COOLDOWN_MS)
      }
    }
  }
}
