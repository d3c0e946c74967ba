// Network namespaces as hosts: one Linux network namespace per host, each with its own IP on one
// bridge, joined by a veth pair whose bridge end the lab can take down (a cut cable) and whose
// address it can change (a new DHCP lease). Needs root and iproute2 (`ip`); `netnsAvailable()`
// says why not otherwise. Every name carries a prefix with this process's pid, so a run removes
// what a killed earlier run left (`removeStale`) without touching a run still going.
// docs/testing.md, "Multi-host tier".
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'

const exec = promisify(execFile)

/** Every namespace, bridge and veth a lab makes starts with this, then the owning process's pid. */
export const NETNS_PREFIX = 'mlh'

async function ip (...args: string[]): Promise<string> {
  try {
    return (await exec('ip', args, { timeout: 30_000 })).stdout
  } catch (err) {
    const e = err as { stderr?: string, message: string }
    throw new Error(`ip ${args.join(' ')}: ${(e.stderr ?? '').trim() || e.message}`)
  }
}

/**
 * Whether this machine can run the lab: Linux, root, iproute2, and the kernel lets us make a
 * namespace, a bridge and a veth pair. The reason names what is missing.
 */
export async function netnsAvailable (): Promise<{ ok: true } | { ok: false, reason: string }> {
  if (process.platform !== 'linux') return { ok: false, reason: `network namespaces are Linux only (this is ${process.platform})` }
  const uid = process.getuid?.()
  if (uid !== 0) return { ok: false, reason: `needs root to make network namespaces (running as uid ${String(uid)})` }
  try { await exec('ip', ['-V']) } catch { return { ok: false, reason: 'no `ip` command (iproute2) on the PATH' } }
  const probe = `${NETNS_PREFIX}${process.pid}-probe`
  const br = `${NETNS_PREFIX}${process.pid}pb`
  try {
    await ip('netns', 'add', probe)
    await ip('link', 'add', br, 'type', 'bridge')
    await ip('link', 'add', `${br}0`, 'type', 'veth', 'peer', 'name', `${br}1`, 'netns', probe)
    return { ok: true }
  } catch (err) {
    return { ok: false, reason: `cannot make a network namespace, bridge and veth pair: ${(err as Error).message}` }
  } finally {
    await ip('link', 'del', `${br}0`).catch(() => {})
    await ip('link', 'del', br).catch(() => {})
    await ip('netns', 'del', probe).catch(() => {})
  }
}

const alive = (pid: number): boolean => {
  try { process.kill(pid, 0); return true } catch (err) { return (err as NodeJS.ErrnoException).code === 'EPERM' }
}

/**
 * Removes the namespaces (and the processes still inside them), bridges and veths of labs whose
 * process is gone: what a run killed before its teardown left behind.
 */
export async function removeStale (): Promise<string[]> {
  const removed: string[] = []
  const owner = (name: string): number | undefined => {
    const m = new RegExp(`^${NETNS_PREFIX}(\\d+)`).exec(name)
    return m === null ? undefined : Number(m[1])
  }
  const namespaces = (await ip('netns', 'list').catch(() => '')).split('\n').map(l => l.split(' ')[0]).filter(Boolean)
  for (const ns of namespaces) {
    const pid = owner(ns)
    if (pid === undefined || alive(pid)) continue
    await killInside(ns)
    await ip('netns', 'del', ns).catch(() => {})
    removed.push(ns)
  }
  const links = (await ip('-o', 'link', 'show').catch(() => '')).split('\n').map(l => /^\d+: ([^:@]+)/.exec(l)?.[1]).filter((x): x is string => x !== undefined)
  for (const link of links) {
    const pid = owner(link)
    if (pid === undefined || alive(pid)) continue
    await ip('link', 'del', link).catch(() => {})
    removed.push(link)
  }
  return removed
}

/** SIGKILLs every process in namespace `ns` (by pid, from `ip netns pids`). */
async function killInside (ns: string): Promise<void> {
  const pids = (await ip('netns', 'pids', ns).catch(() => '')).split('\n').map(Number).filter(p => p > 0)
  for (const pid of pids) { try { process.kill(pid, 'SIGKILL') } catch {} }
}

export interface LabHost {
  name: string
  /** The namespace: run a command in it with `ip netns exec <ns> ...` (`lab.wrap(name)`). */
  ns: string
  /** The veth end on the bridge, in the root namespace: down is a cut cable. */
  hostVeth: string
  ip: string
}

/**
 * A bridge in the root namespace on a free 10.213.X.0/24 (the root namespace holds .1, so this
 * process reaches every host), and one namespace per host with a veth to the bridge, named eth0
 * inside, its address .11, .12, ... and its own loopback.
 */
export class NetnsLab {
  readonly hosts = new Map<string, LabHost>()
  private readonly base: string
  private closed = false

  private constructor (readonly subnet: string, readonly bridge: string) {
    this.base = `${NETNS_PREFIX}${process.pid}`
  }

  /** The root namespace's address on the bridge. */
  get gateway (): string { return `${this.subnet}.1` }

  static async create (names: string[]): Promise<NetnsLab> {
    const bridge = `${NETNS_PREFIX}${process.pid}br`
    const used = await ip('-4', '-o', 'addr', 'show')
    const routes = await ip('-4', 'route', 'show')
    let third = process.pid % 240 + 10
    while (used.includes(`10.213.${third}.`) || routes.includes(`10.213.${third}.`)) third = (third + 1) % 250 + 1
    const lab = new NetnsLab(`10.213.${third}`, bridge)
    try {
      await ip('link', 'add', bridge, 'type', 'bridge')
      await ip('addr', 'add', `${lab.gateway}/24`, 'dev', bridge)
      await ip('link', 'set', bridge, 'up')
      for (const [i, name] of names.entries()) await lab.addHost(name, `${lab.subnet}.${11 + i}`, i)
    } catch (err) {
      await lab.destroy()
      throw err
    }
    return lab
  }

  private async addHost (name: string, addr: string, i: number): Promise<void> {
    const ns = `${this.base}-${i}`
    const hostVeth = `${this.base}h${i}`
    const peer = `${this.base}n${i}`
    await ip('netns', 'add', ns)
    this.hosts.set(name, { name, ns, hostVeth, ip: addr })
    await ip('link', 'add', hostVeth, 'type', 'veth', 'peer', 'name', peer, 'netns', ns)
    await ip('link', 'set', hostVeth, 'master', this.bridge)
    await ip('link', 'set', hostVeth, 'up')
    await ip('-n', ns, 'link', 'set', peer, 'name', 'eth0')
    await ip('-n', ns, 'addr', 'add', `${addr}/24`, 'dev', 'eth0')
    await ip('-n', ns, 'link', 'set', 'eth0', 'up')
    await ip('-n', ns, 'link', 'set', 'lo', 'up')
  }

  host (name: string): LabHost {
    const h = this.hosts.get(name)
    if (h === undefined) throw new Error(`no host ${name} in the lab`)
    return h
  }

  /** The command prefix that runs a program inside the host's namespace. */
  wrap (name: string): string[] {
    return ['ip', 'netns', 'exec', this.host(name).ns]
  }

  /** Takes the host's cable out: its veth end on the bridge goes down; nothing reaches it or leaves it. */
  async cut (name: string): Promise<void> {
    await ip('link', 'set', this.host(name).hostVeth, 'down')
  }

  async reconnect (name: string): Promise<void> {
    await ip('link', 'set', this.host(name).hostVeth, 'up')
  }

  /**
   * Gives the host a new address, as a new DHCP lease would: the old one is removed (connections
   * bound to it go dead, nothing tells the peers) and the new one added.
   */
  async readdress (name: string, addr: string): Promise<void> {
    const h = this.host(name)
    await ip('-n', h.ns, 'addr', 'del', `${h.ip}/24`, 'dev', 'eth0')
    await ip('-n', h.ns, 'addr', 'add', `${addr}/24`, 'dev', 'eth0')
    h.ip = addr
  }

  /** Kills whatever still runs in the namespaces, then removes them (their veths go with them) and the bridge. Safe to call twice. */
  async destroy (): Promise<void> {
    if (this.closed) return
    this.closed = true
    for (const h of this.hosts.values()) {
      await killInside(h.ns)
      await ip('netns', 'del', h.ns).catch(() => {})
      await ip('link', 'del', h.hostVeth).catch(() => {})
    }
    await ip('link', 'del', this.bridge).catch(() => {})
  }
}
