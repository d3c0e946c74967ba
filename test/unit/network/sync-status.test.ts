/**
 * Status polling at N peers (issue 16): on 44cd276 every node asked every connected peer for its
 * status on every sync tick (each second), N^2 exchanges a second across the network. Now a tick
 * asks STATUS_PEERS_PER_TICK peers in turn (each exchange tells both sides), a request from
 * consensus asks them all, and a status showing a peer ahead starts syncing without asking again.
 */
import test from 'ava'
import { BlockSync, STATUS_PEERS_PER_TICK } from '../../../src/network/sync.ts'
import { silentLogger } from '../../../src/logger.ts'

function newSync (peers: string[], heights: Map<string, number>, syncIntervalMs = 100): { sync: BlockSync, asked: string[], fetched: string[] } {
  const asked: string[] = []
  const fetched: string[] = []
  const sync = new BlockSync({ syncIntervalMs, maxBlocksPerRequest: 16, badPeerCooldownMs: 1000 }, {
    logger: silentLogger,
    localHeight: () => 5,
    connectedPeers: () => peers,
    refreshStatus: async (p) => { asked.push(p) },
    peerHeight: p => heights.get(p),
    requestBlocks: async (p) => { fetched.push(p); return [] },
    applyBlocks: async () => {},
    onBadPeer: () => {},
    onSynced: () => {}
  })
  return { sync, asked, fetched }
}

async function until (cond: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!cond() && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 10))
}

test('each sync tick asks a few peers in turn, not every peer', async t => {
  const peers = Array.from({ length: 15 }, (_, i) => `peer-${i}`)
  const { sync, asked } = newSync(peers, new Map())
  t.teardown(async () => { await sync.stop() })
  sync.start()
  await until(() => asked.length >= 3 * STATUS_PEERS_PER_TICK)
  await sync.stop()
  const ticks = Math.ceil(asked.length / STATUS_PEERS_PER_TICK)
  t.true(asked.length <= ticks * STATUS_PEERS_PER_TICK, `${asked.length} status requests in ${ticks} ticks`)
  t.deepEqual(asked.slice(0, 3 * STATUS_PEERS_PER_TICK), peers.slice(0, 3 * STATUS_PEERS_PER_TICK), 'peers are asked in turn')
})

test('a request from consensus asks every peer; a known peer ahead is synced from without asking', async t => {
  const peers = Array.from({ length: 15 }, (_, i) => `peer-${i}`)
  const heights = new Map<string, number>()
  // A timer that never fires here: only the triggers run rounds.
  const { sync, asked, fetched } = newSync(peers, heights, 3_600_000)
  t.teardown(async () => { await sync.stop() })
  sync.start()
  sync.trigger()
  await until(() => asked.length >= peers.length)
  t.deepEqual([...asked].sort(), [...peers].sort(), 'every peer asked')
  asked.length = 0
  heights.set('peer-7', 9)
  sync.trigger('none')
  await until(() => fetched.length > 0)
  t.deepEqual(fetched, ['peer-7'], 'blocks fetched from the peer ahead')
  t.deepEqual(asked, [], 'nobody asked again')
})
