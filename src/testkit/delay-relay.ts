import { connect, createServer, type Server, type Socket } from 'node:net'

/** Where a relay listens: a TCP address, or a listening socket it inherited (a file descriptor). */
export type RelayListen = { host: string, port: number } | { fd: number }

export interface DelayRelayOptions {
  listen: RelayListen
  target: { host: string, port: number }
  /** Each chunk is held this long in each direction, so the one-way latency across the relay; order is kept. */
  delayMs: number
  /**
   * Connect to the target from 127.b.c.d for a client at a.b.c.d (the target is on loopback), so
   * that a node behind the relay still tells its peers apart by address (its per-IP limits, its
   * logs) instead of seeing every peer as 127.0.0.1.
   */
  sourceOnLoopback?: boolean
  /** Bytes one direction of one connection may hold (delayed, or unsent to a slow reader) before reading from the sender pauses. */
  maxHeldBytes?: number
}

const DEFAULT_MAX_HELD_BYTES = 8 * 1024 * 1024

/**
 * A TCP relay that adds latency: every chunk read from one side is written to the other `delayMs`
 * later, in order, in both directions (a link with that one-way delay; tc netem's job where netem
 * is missing). Each direction holds at most `maxHeldBytes` before it stops reading from the
 * sender, so a fast sender meets TCP backpressure as on a real link, never an unbounded queue.
 * A half-close (FIN) is passed on after the same delay; an error or reset on either side closes
 * both at once.
 */
export class DelayRelay {
  private readonly server: Server
  private readonly sockets = new Set<Socket>()
  port = 0
  /** Connections accepted so far. */
  connections = 0
  /** The one-way delay from now on (chunks already held keep theirs, and their order). */
  delayMs: number

  constructor (private readonly opts: DelayRelayOptions) {
    if (!(opts.delayMs >= 0)) throw new Error(`delayMs must be >= 0, not ${opts.delayMs}`)
    this.delayMs = opts.delayMs
    this.server = createServer({ allowHalfOpen: true, noDelay: true }, client => { this.accept(client) })
  }

  async listen (): Promise<this> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject)
      const l = this.opts.listen
      if ('fd' in l) this.server.listen({ fd: l.fd }, () => { resolve() })
      else this.server.listen(l.port, l.host, () => { resolve() })
    })
    const addr = this.server.address()
    this.port = typeof addr === 'object' && addr !== null ? addr.port : 0
    return this
  }

  async close (): Promise<void> {
    for (const s of this.sockets) s.destroy()
    await new Promise<void>(resolve => { this.server.close(() => { resolve() }) })
  }

  private accept (client: Socket): void {
    this.connections++
    const from = client.remoteAddress
    const mapped = this.opts.sourceOnLoopback === true && from !== undefined ? loopbackTwin(from) : undefined
    const upstream = connect({ host: this.opts.target.host, port: this.opts.target.port, allowHalfOpen: true, noDelay: true, ...(mapped !== undefined ? { localAddress: mapped } : {}) })
    const both = [client, upstream]
    for (const s of both) this.sockets.add(s)
    // An error or reset on either side closes both at once; a clean close of one side (both its
    // directions ended) leaves the other to deliver what it still holds.
    const abort = (): void => { for (const s of both) s.destroy() }
    for (const s of both) {
      s.on('error', abort)
      s.on('close', (hadError: boolean) => { this.sockets.delete(s); if (hadError) abort() })
    }
    const max = this.opts.maxHeldBytes ?? DEFAULT_MAX_HELD_BYTES
    delayed(client, upstream, () => this.delayMs, max)
    delayed(upstream, client, () => this.delayMs, max)
  }
}

/** 127.b.c.d for an IPv4 a.b.c.d (also written ::ffff:a.b.c.d); undefined for anything else. */
export function loopbackTwin (address: string): string | undefined {
  const m = /^(?:::ffff:)?\d{1,3}\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(address)
  return m === null ? undefined : `127.${m[1]}.${m[2]}.${m[3]}`
}

/** Copies `from` to `to`, each chunk `delayMs` after it was read, in order; the end likewise. */
function delayed (from: Socket, to: Socket, delay: () => number, maxHeld: number): void {
  const queue: Array<{ at: number, chunk: Buffer | undefined }> = []
  let held = 0
  let timer: NodeJS.Timeout | undefined
  const full = (): boolean => held + to.writableLength >= maxHeld
  const schedule = (): void => {
    if (timer !== undefined || queue.length === 0) return
    timer = setTimeout(flush, Math.max(0, queue[0].at - performance.now()))
  }
  const flush = (): void => {
    timer = undefined
    const now = performance.now()
    while (queue.length > 0 && queue[0].at <= now) {
      const { chunk } = queue.shift() as { chunk: Buffer | undefined }
      if (to.destroyed) return
      if (chunk === undefined) { to.end(); return }
      held -= chunk.length
      to.write(chunk)
    }
    if (from.isPaused() && !full()) from.resume()
    schedule()
  }
  to.on('drain', () => { if (from.isPaused() && !full()) from.resume() })
  from.on('data', (chunk: Buffer) => {
    const delayMs = delay()
    if (delayMs === 0 && queue.length === 0) to.write(chunk)
    else {
      queue.push({ at: performance.now() + delayMs, chunk })
      held += chunk.length
      schedule()
    }
    if (full()) from.pause()
  })
  from.on('end', () => {
    const delayMs = delay()
    if (delayMs === 0 && queue.length === 0) { to.end(); return }
    queue.push({ at: performance.now() + delayMs, chunk: undefined })
    schedule()
  })
}
