import { execFile } from 'node:child_process'
import { promisify } from 'node:util'

/** One established TCP socket on this machine, from `ss -tinp`: its ports, owner and bytes received. */
export interface TcpSocket { localPort: number, peerPort: number, pid: number | undefined, bytesReceived: number }

/**
 * Parses `ss -tinpH state established` (the state column left out): each socket is a line with
 * the queues, both addresses and the owning process, followed by a line of TCP info that holds
 * `bytes_received:N` (absent while nothing was received).
 */
export function parseSs (text: string): TcpSocket[] {
  const out: TcpSocket[] = []
  let cur: TcpSocket | undefined
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue
    if (/^\s/.test(line)) {
      if (cur !== undefined) {
        const m = /\bbytes_received:(\d+)/.exec(line)
        if (m !== null) cur.bytesReceived = Number(m[1])
      }
      continue
    }
    const f = line.trim().split(/\s+/)
    const port = (addr: string | undefined): number => Number(addr?.slice(addr.lastIndexOf(':') + 1))
    const pid = /pid=(\d+)/.exec(line)?.[1]
    cur = { localPort: port(f[2]), peerPort: port(f[3]), pid: pid === undefined ? undefined : Number(pid), bytesReceived: 0 }
    out.push(cur)
  }
  return out
}

/** Every established TCP socket of the machine (our own processes show their pid). */
export async function tcpSockets (): Promise<TcpSocket[]> {
  const { stdout } = await promisify(execFile)('ss', ['-tinpH', 'state', 'established'], { maxBuffer: 64 * 1024 * 1024 })
  return parseSs(stdout)
}

/**
 * Bytes a node received on its libp2p connections (TCP payload: Noise, Yamux, gossip, sync, all
 * of it): its sockets whose local port is its p2p port (inbound) or whose peer port is another
 * node's p2p port (outbound). Sockets closed meanwhile take their counts with them.
 */
export function p2pBytesReceived (sockets: TcpSocket[], pid: number | undefined, ownPort: number, p2pPorts: ReadonlySet<number>): { bytes: number, connections: number } {
  let bytes = 0
  let connections = 0
  if (pid === undefined) return { bytes, connections }
  for (const s of sockets) {
    if (s.pid !== pid) continue
    if (s.localPort === ownPort || p2pPorts.has(s.peerPort)) { bytes += s.bytesReceived; connections++ }
  }
  return { bytes, connections }
}
