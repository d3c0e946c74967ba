import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'

/**
 * A TCP port free on 127.0.0.1 right now, for a daemon that binds it later.
 *
 * Chosen below the kernel's ephemeral range: a port the OS hands out for `listen(0)` comes from
 * that range, which every outgoing connection on the machine (libp2p dials, HTTP clients) also
 * draws from, so between our check and the daemon's bind a client socket could take it (seen: a
 * sim daemon exiting ADDRESS_IN_USE for its API port while another test file ran beside it).
 * Below the range only another listener can take it. Falls back to the OS's pick.
 *
 * `exclude`: ports already handed out and not bound yet (a devnet picks all its ports before any
 * daemon starts: 46 nodes draw 92 ports from about 12,800, and without it two nodes got the same
 * one about one time in four).
 */
export async function freePort (exclude: ReadonlySet<number> = new Set()): Promise<number> {
  const low = ephemeralLow()
  if (low > LOWEST + 1000) {
    for (let i = 0; i < 64; i++) {
      const port = LOWEST + Math.floor(Math.random() * (low - LOWEST))
      if (!exclude.has(port) && await listenable(port)) return port
    }
  }
  for (let i = 0; i < 64; i++) {
    const port = await listenOn(0)
    if (!exclude.has(port)) return port
  }
  throw new Error('no free TCP port found on 127.0.0.1')
}

/** Ports below this are left alone (well-known and registered services). */
const LOWEST = 20_000

function ephemeralLow (): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0])
    return Number.isSafeInteger(low) ? low : 0
  } catch {
    return 0
  }
}

async function listenable (port: number): Promise<boolean> {
  return await listenOn(port).then(() => true, () => false)
}

async function listenOn (port: number): Promise<number> {
  return await new Promise((resolve, reject) => {
    const s = createServer()
    s.unref()
    s.on('error', reject)
    s.listen(port, '127.0.0.1', () => {
      const bound = (s.address() as { port: number }).port
      s.close(() => { resolve(bound) })
    })
  })
}
