import { createServer, connect, type Server, type Socket } from 'node:net'

/**
 * A loopback TCP relay for one direction of one pair of nodes (X dials Y through it), so a test
 * can cut the link (existing connections are destroyed, new ones refused at once) and restore it.
 */
export class Link {
  private readonly server: Server
  private readonly pairs = new Set<[Socket, Socket]>()
  private cut = false
  /** Bytes from this side are held (not forwarded) while muted; cut drops them. */
  private readonly muted = { client: false, upstream: false }
  private readonly held = new Map<Socket, Buffer[]>()
  port = 0
  connections = 0
  refused = 0

  constructor (readonly name: string, readonly targetPort: number) {
    this.server = createServer(client => { this.accept(client) })
  }

  async listen (): Promise<this> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject)
      this.server.listen(0, '127.0.0.1', () => { resolve() })
    })
    this.port = (this.server.address() as { port: number }).port
    return this
  }

  get isCut (): boolean { return this.cut }

  /** Destroys every connection through the link and refuses new ones until `restore`. */
  sever (): void {
    this.cut = true
    for (const [a, b] of this.pairs) { a.destroy(); b.destroy() }
    this.pairs.clear()
    this.held.clear()
  }

  restore (): void {
    this.cut = false
  }

  /**
   * Holds back everything one side sends (the other direction flows): the sender's messages are
   * signed and gone as far as it knows, yet nobody receives them. `unmute` delivers them late;
   * `sever` drops them for good.
   */
  mute (side: 'client' | 'upstream'): void {
    this.muted[side] = true
  }

  unmute (): void {
    this.muted.client = false
    this.muted.upstream = false
    for (const [a, b] of this.pairs) {
      for (const [from, to] of [[a, b], [b, a]]) {
        for (const chunk of this.held.get(from) ?? []) to.write(chunk)
        this.held.delete(from)
      }
    }
  }

  async close (): Promise<void> {
    this.sever()
    await new Promise<void>(resolve => { this.server.close(() => { resolve() }) })
  }

  private accept (client: Socket): void {
    if (this.cut) { this.refused++; client.destroy(); return }
    this.connections++
    const upstream = connect(this.targetPort, '127.0.0.1')
    const pair: [Socket, Socket] = [client, upstream]
    this.pairs.add(pair)
    const done = (): void => { client.destroy(); upstream.destroy(); this.pairs.delete(pair); this.held.delete(client); this.held.delete(upstream) }
    client.on('error', done).on('close', done)
    upstream.on('error', done).on('close', done)
    const forward = (from: Socket, to: Socket, side: 'client' | 'upstream'): void => {
      from.on('data', (chunk: Buffer) => {
        if (this.muted[side]) {
          this.held.set(from, [...(this.held.get(from) ?? []), chunk])
          return
        }
        if (!to.write(chunk)) { from.pause(); to.once('drain', () => from.resume()) }
      })
    }
    forward(client, upstream, 'client')
    forward(upstream, client, 'upstream')
  }
}

/**
 * One link per ordered pair of nodes (what each node's bootstrap list names), and one shared link
 * per node (what it announces, so what identify teaches the others: a node dials it when it
 * reconnects). A relay cannot tell who dials through a shared link (everything comes from
 * 127.0.0.1), so `partition` cuts every pair link between the two groups and every shared link:
 * connections inside a group that run over pair links survive, nothing crosses. `heal` restores all.
 */
export class LinkMesh {
  readonly links = new Map<string, Link>()
  readonly shared = new Map<string, Link>()

  static key (from: string, to: string): string { return `${from}->${to}` }

  static async create (nodes: Array<{ name: string, p2pPort: number }>): Promise<LinkMesh> {
    const mesh = new LinkMesh()
    for (const from of nodes) {
      for (const to of nodes) {
        if (from === to) continue
        mesh.links.set(LinkMesh.key(from.name, to.name), await new Link(LinkMesh.key(from.name, to.name), to.p2pPort).listen())
      }
      mesh.shared.set(from.name, await new Link(`*->${from.name}`, from.p2pPort).listen())
    }
    return mesh
  }

  link (from: string, to: string): Link {
    const l = this.links.get(LinkMesh.key(from, to))
    if (l === undefined) throw new Error(`no link ${from} -> ${to}`)
    return l
  }

  sharedLink (to: string): Link {
    const l = this.shared.get(to)
    if (l === undefined) throw new Error(`no shared link to ${to}`)
    return l
  }

  get all (): Link[] { return [...this.links.values(), ...this.shared.values()] }

  partition (a: string[], b: string[]): void {
    for (const x of a) for (const y of b) { this.link(x, y).sever(); this.link(y, x).sever() }
    for (const l of this.shared.values()) l.sever()
  }

  heal (): void {
    for (const l of this.all) l.restore()
  }

  /** Everything `name` sends is held back; what it receives flows. */
  muteOutgoing (name: string): void {
    for (const [key, l] of this.links) {
      if (key.startsWith(`${name}->`)) l.mute('client')
      if (key.endsWith(`->${name}`)) l.mute('upstream')
    }
    this.sharedLink(name).mute('upstream')
  }

  /** Cuts every link to and from `name` (held bytes are dropped), and restores them at once. */
  blip (name: string): void {
    for (const [key, l] of this.links) if (key.startsWith(`${name}->`) || key.endsWith(`->${name}`)) { l.sever(); l.restore() }
    this.sharedLink(name).sever()
    this.sharedLink(name).restore()
  }

  unmuteAll (): void {
    for (const l of this.all) l.unmute()
  }

  async close (): Promise<void> {
    await Promise.all(this.all.map(async l => { await l.close() }))
  }
}
