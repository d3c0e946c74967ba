import type { Logger } from '../logger.ts'

/**
 * Gossipsub has no send backpressure: publish() writes into every peer's stream buffer at once,
 * and a burst of thousands of messages overruns yamux windows and drops connections. Messages
 * therefore wait here and a pump hands them to gossipsub only while the outbound gossip streams
 * have room. Consensus messages go first. Each lane is bounded (count and bytes): when one
 * overflows its oldest message is dropped with a warning. Dropping is safe for both lanes
 * (consensus recovers lost votes through round timeouts, a batch stays in its author's mempool)
 * but it is never silent.
 */
export interface Lane {
  name: string
  topic: string
  maxMessages: number
  maxBytes: number
  /**
   * Items of this lane go out together: waiting items (up to maxItems and maxBytes) are wrapped
   * into one message. Under load one message then carries many small items, so the per-message
   * cost of gossip (framing, encryption, ids, validation) is paid once for all of them.
   */
  bundle?: { maxItems: number, maxBytes: number, wrap: (items: Uint8Array[]) => Uint8Array }
  /**
   * With a bundle: how long the first waiting item may wait for others to join it (a full bundle
   * goes at once). Trades a few milliseconds of latency for far fewer messages under load.
   */
  lingerMs?: number
}

export interface PublishQueueModules {
  logger: Logger
  publish: (topic: string, data: Uint8Array) => Promise<unknown>
  /** Largest number of unsent bytes in any outbound gossip stream. */
  backlog: () => number
}

interface LaneState extends Lane {
  /** When the oldest waiting item arrived in the empty lane. */
  since: number
  items: Uint8Array[]
  head: number
  bytes: number
  dropped: number
  lastDropLog: number
}

export class PublishQueue {
  private readonly lanes: LaneState[]
  private timer: NodeJS.Timeout | NodeJS.Immediate | undefined
  private timerDue = 0
  private running = false
  published = 0

  /** Lanes in priority order. */
  constructor (lanes: Lane[], private readonly highWaterBytes: number, private readonly modules: PublishQueueModules) {
    this.lanes = lanes.map(l => ({ ...l, since: 0, items: [], head: 0, bytes: 0, dropped: 0, lastDropLog: 0 }))
  }

  start (): void {
    this.running = true
    this.schedule(0)
  }

  stop (): void {
    this.running = false
    this.clearTimer()
    for (const l of this.lanes) { l.items = []; l.head = 0; l.bytes = 0 }
  }

  push (laneName: string, data: Uint8Array): void {
    const lane = this.lanes.find(l => l.name === laneName)
    if (lane === undefined) throw new Error(`no publish lane ${laneName}`)
    if (this.length(lane) === 0) lane.since = Date.now()
    lane.items.push(data)
    lane.bytes += data.length
    while (this.length(lane) > lane.maxMessages || (lane.bytes > lane.maxBytes && this.length(lane) > 1)) {
      const old = lane.items[lane.head]
      lane.items[lane.head++] = EMPTY
      lane.bytes -= old.length
      lane.dropped++
      this.logDrop(lane)
    }
    this.compact(lane)
    if (this.running) this.schedule(this.waitFor(lane))
  }

  /** Messages waiting, per lane. */
  pending (): Record<string, number> {
    return Object.fromEntries(this.lanes.map(l => [l.name, this.length(l)]))
  }

  dropped (): Record<string, number> {
    return Object.fromEntries(this.lanes.map(l => [l.name, l.dropped]))
  }

  private pump (): void {
    this.timer = undefined
    if (!this.running) return
    let sent = 0
    let count = 0
    while (true) {
      const lane = this.lanes.find(l => this.length(l) > 0 && this.waitFor(l) === 0)
      if (lane === undefined) {
        const waiting = this.lanes.filter(l => this.length(l) > 0)
        if (waiting.length > 0) this.schedule(Math.min(...waiting.map(l => this.waitFor(l))))
        return
      }
      if (this.modules.backlog() > this.highWaterBytes) { this.schedule(2); return }
      const data = this.take(lane)
      this.published++
      this.modules.publish(lane.topic, data).catch(err => {
        this.modules.logger.warn({ topic: lane.topic, err: (err as Error).message }, 'gossip publish failed')
      })
      sent += data.length
      // Yield after a high-water's worth (so the sockets write before we measure again) or a
      // handful of messages (so receiving and consensus timers are not starved by a burst).
      if (sent >= this.highWaterBytes || ++count >= MESSAGES_PER_TICK) { this.schedule(0); return }
    }
  }

  /** The next message of a lane: its oldest item, or a bundle of the oldest items. */
  private take (lane: LaneState): Uint8Array {
    const items: Uint8Array[] = []
    let size = 0
    const b = lane.bundle
    do {
      const data = lane.items[lane.head]
      if (b !== undefined && items.length > 0 && size + data.length > b.maxBytes) break
      lane.items[lane.head++] = EMPTY
      lane.bytes -= data.length
      items.push(data)
      size += data.length
    } while (b !== undefined && items.length < b.maxItems && this.length(lane) > 0)
    this.compact(lane)
    return b === undefined ? items[0] : b.wrap(items)
  }

  /** Milliseconds before a non-empty lane's next message may go: 0, or what is left of its linger. */
  private waitFor (l: LaneState): number {
    const b = l.bundle
    if (l.lingerMs === undefined || b === undefined) return 0
    if (this.length(l) >= b.maxItems || l.bytes >= b.maxBytes) return 0
    return Math.max(0, l.since + l.lingerMs - Date.now())
  }

  /** Pumps in `ms` (0: on the next turn), unless a pump is due sooner already. */
  private schedule (ms: number): void {
    const due = Date.now() + ms
    if (this.timer !== undefined) {
      if (this.timerDue <= due) return
      this.clearTimer()
    }
    this.timerDue = due
    this.timer = ms === 0 ? setImmediate(() => { this.pump() }) : setTimeout(() => { this.pump() }, ms)
  }

  private clearTimer (): void {
    if (this.timer !== undefined) { clearTimeout(this.timer as NodeJS.Timeout); clearImmediate(this.timer as NodeJS.Immediate) }
    this.timer = undefined
  }

  private length (l: LaneState): number {
    return l.items.length - l.head
  }

  private compact (l: LaneState): void {
    if (l.head > 1024 && l.head * 2 > l.items.length) { l.items = l.items.slice(l.head); l.head = 0 }
  }

  private logDrop (l: LaneState): void {
    const now = Date.now()
    if (now - l.lastDropLog < 1_000) return
    l.lastDropLog = now
    this.modules.logger.warn({ lane: l.name, dropped: l.dropped, maxMessages: l.maxMessages, maxBytes: l.maxBytes }, 'publish queue full: dropped the oldest message')
  }
}

const EMPTY = new Uint8Array(0)
const MESSAGES_PER_TICK = 32
