/** What the hub needs of a client's response: Node's http.ServerResponse fits. */
export interface EventSink {
  readonly writableLength: number
  write: (chunk: string) => boolean
  destroy: () => void
}

/**
 * The clients of GET /v1/events (server-sent events). Bounded twice: at most `maxClients` at once
 * (a new one beyond is refused), and a client that does not read, so that more than
 * `maxBufferedBytes` wait in its socket buffer, is dropped instead of growing this process's memory.
 */
export class EventHub {
  readonly #clients = new Set<EventSink>()
  #dropped = 0

  constructor (readonly maxClients: number, readonly maxBufferedBytes: number) {}

  get size (): number { return this.#clients.size }
  /** Clients dropped for not reading. */
  get dropped (): number { return this.#dropped }

  /** Adds a client; false when the hub is full. */
  add (sink: EventSink): boolean {
    if (this.#clients.size >= this.maxClients) return false
    this.#clients.add(sink)
    return true
  }

  remove (sink: EventSink): void {
    this.#clients.delete(sink)
  }

  /** Sends one event to every client; drops each client whose unread bytes would pass the bound. */
  send (event: string, data: unknown): void {
    const frame = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`
    for (const c of this.#clients) this.sendTo(c, frame)
  }

  /** Writes a frame to one client (the first status frame), under the same bound. */
  sendTo (sink: EventSink, frame: string): void {
    if (sink.writableLength + frame.length > this.maxBufferedBytes) {
      this.#clients.delete(sink)
      this.#dropped++
      sink.destroy()
      return
    }
    sink.write(frame)
  }
}
