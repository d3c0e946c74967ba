import test from 'ava'
import { startDevnet, waitFor } from '../helpers/devnet.ts'

interface Status {
  peerId: string
  peers: number
  listen: string[]
  connectedPeers: Array<{ peerId: string, name: string | null, role: string, address: string, direction: string }>
}

test.serial('/v1/status lists the connected peers with their genesis name, role and address, and where the node listens', async t => {
  const daemons = await startDevnet(t, { validators: ['hospital-a', 'hospital-b'], observers: ['regulator'], heartbeatMs: 1000 })
  const get = async (i: number): Promise<Status> => await (await fetch(`${daemons[i].api}/v1/status`)).json() as Status
  // Everyone connected to everyone.
  await waitFor('a full mesh', async () => {
    const all = await Promise.all(daemons.map(async (_d, i) => await get(i).catch(() => undefined)))
    return all.every(s => s !== undefined && s.connectedPeers.length === 2)
  }, 60_000)

  for (const [i, d] of daemons.entries()) {
    const s = await get(i)
    t.is(s.peers, 2)
    t.deepEqual(s.listen, [`/ip4/127.0.0.1/tcp/${d.node.p2pPort}/p2p/${d.node.peerId}`], d.node.name)
    const others = daemons.filter(o => o !== d).map(o => ({ peerId: o.node.peerId, name: o.node.name, role: o.node.role }))
    t.deepEqual(s.connectedPeers.map(p => ({ peerId: p.peerId, name: p.name, role: p.role })).sort((a, b) => a.name!.localeCompare(b.name!)), others.sort((a, b) => a.name.localeCompare(b.name)), d.node.name)
    for (const p of s.connectedPeers) {
      t.regex(p.address, /^\/ip4\/127\.0\.0\.1\/tcp\/\d+/, `${d.node.name} -> ${p.name}`)
      t.true(p.direction === 'inbound' || p.direction === 'outbound')
      // An outbound connection goes to the peer's listen port.
      const peer = daemons.find(o => o.node.peerId === p.peerId)!
      if (p.direction === 'outbound') t.true(p.address.startsWith(`/ip4/127.0.0.1/tcp/${peer.node.p2pPort}`), p.address)
    }
  }
})
