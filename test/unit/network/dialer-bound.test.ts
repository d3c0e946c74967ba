/**
 * The dialer's bound (p2p.max_peers): a member of a large network dials the validators first and
 * no more peers than the bound; without a bound it keeps a full mesh.
 */
import test from 'ava'
import type { Libp2p } from 'libp2p'
import { PeerDialer } from '../../../src/network/dialer.ts'
import { silentLogger } from '../../../src/logger.ts'
import { testKey } from '../../helpers/fixtures.ts'

const ids = Array.from({ length: 8 }, (_, i) => testKey(80 + i).peerId)
const validators = new Set(ids.slice(5))

/** A libp2p stand-in: every dial connects at once; every peer's address is known. */
function fakeLibp2p (): { libp2p: Libp2p, connected: Set<string>, dialed: string[] } {
  const connected = new Set<string>()
  const dialed: string[] = []
  const libp2p = {
    peerId: testKey(79).peerId,
    getPeers: () => [...connected].map(id => ({ toString: () => id })),
    dial: async (peer: { toString: () => string }) => { dialed.push(peer.toString()); connected.add(peer.toString()) },
    peerStore: { get: async () => ({ addresses: [{}] }), merge: async () => {} }
  } as unknown as Libp2p
  return { libp2p, connected, dialed }
}

async function run (maxPeers: number): Promise<{ dialed: string[], connected: Set<string> }> {
  const f = fakeLibp2p()
  const dialer = new PeerDialer({ reconnectBaseMs: 60_000, reconnectMaxMs: 60_000 }, { libp2p: f.libp2p, logger: silentLogger, bootstrap: [], targets: () => ids, maxPeers, preferred: id => validators.has(id) })
  await dialer.start()
  for (let i = 0; i < 20 && f.connected.size < Math.min(maxPeers || ids.length, ids.length); i++) await new Promise(resolve => setTimeout(resolve, 50))
  // More ticks change nothing once the bound is reached.
  dialer.tick()
  await new Promise(resolve => setTimeout(resolve, 100))
  dialer.stop()
  return f
}

test('with max_peers, the validators are dialled first and no more peers than the bound', async t => {
  const { dialed, connected } = await run(4)
  t.is(connected.size, 4)
  t.is(dialed.length, 4)
  for (const v of validators) t.true(connected.has(v), 'every validator is connected')
})

test('without a bound, every allowed peer is dialled (full mesh)', async t => {
  const { connected } = await run(0)
  t.is(connected.size, ids.length)
})
