import test from 'ava'
import { multiaddr } from '@multiformats/multiaddr'
import { encodeBatch } from '../../src/chain/codec.ts'
import { protocols, topics } from '../../src/network/index.ts'
import { encodeBlocksRequest } from '../../src/network/reqresp/blocks.ts'
import type { FinalizedBlock } from '../../src/chain/types.ts'
import { connections, fabricateChain, FakeChain, fullyConnected, makeGenesis, makeKeys, sampleBatch, sleep, startMesh, startNode, waitFor } from './network/helpers.ts'

test.serial('setAllowed cuts a member that left off at once: no open connection when it returns, its requests and redials refused', async t => {
  const keys = await makeKeys(3)
  const genesis = makeGenesis('membership-cut', keys)
  const chains = [new FakeChain(genesis, fabricateChain(genesis, 5)), new FakeChain(genesis), new FakeChain(genesis)]
  const [a, b, removed] = await startMesh(t, keys, genesis, keys.map(k => k.peerId), chains)
  await waitFor('full mesh', () => fullyConnected([a, b, removed]))

  a.net.setAllowed([a.net.peerId, b.net.peerId])
  b.net.setAllowed([a.net.peerId, b.net.peerId])
  // Aborted, not closing gracefully: nothing sent after this call can reach it.
  for (const n of [a, b]) {
    const open = n.net.host!.getConnections().filter(c => c.remotePeer.toString() === removed.net.peerId && c.status === 'open')
    t.is(open.length, 0, 'no open connection to the removed member once setAllowed returned')
  }
  await waitFor('connections gone', () => connections(a, removed.net.peerId) === 0 && connections(b, removed.net.peerId) === 0)

  // It still allows them and redials (its own dialer); they refuse it after Noise, every time.
  const blocks = protocols(genesis.chainId).blocks
  const addr = multiaddr(`${a.net.addresses[0]}`)
  const asked = await removed.net.host!.dialProtocol(addr, blocks, { signal: AbortSignal.timeout(5000) })
    .then(async (stream) => { stream.send(encodeBlocksRequest({ from: 1, count: 5, maxBytes: 1 << 20 })); return 'stream opened' }, (err: Error) => err.name)
  t.not(asked, 'stream opened', 'the removed member opened a blocks stream')
  await sleep(2_000)
  t.is(connections(a, removed.net.peerId), 0)
  t.is(connections(b, removed.net.peerId), 0)
  t.is(chains[2].height, 0, 'it got no block')
  t.true(fullyConnected([a, b]))
})

test.serial('while a member whose removal is final is still connected, a node delivers gossip but relays none of it', async t => {
  const keys = await makeKeys(3)
  const genesis = makeGenesis('membership-relay', keys)
  const [a, b, leaving] = await startMesh(t, keys, genesis, keys.map(k => k.peerId))
  await waitFor('full mesh', () => fullyConnected([a, b, leaving]))
  const tp = topics(genesis.chainId)
  await waitFor('subscriptions', () => [a, b, leaving].every(n => n.net.host!.services.pubsub.getSubscribers(tp.batches).length === 2))

  // a has reached the effect height and cut it off; b, a height behind, still admits it, but knows it is leaving.
  a.net.setAllowed([a.net.peerId, b.net.peerId])
  b.net.setAllowed(keys.map(k => k.peerId), [leaving.net.peerId])
  await waitFor('a cut it off', () => connections(a, leaving.net.peerId) === 0)
  t.true(connections(b, leaving.net.peerId) > 0)

  a.net.publishBatch(encodeBatch(sampleBatch(1)))
  await waitFor('b got it', () => b.chain.batches.length === 1)
  await sleep(1_500)
  t.is(leaving.chain.batches.length, 0, 'b relayed a batch made after a had cut the leaving member off')

  // Control: once b no longer holds back (nothing leaving), the same path relays.
  b.net.setAllowed(keys.map(k => k.peerId), [])
  a.net.publishBatch(encodeBatch(sampleBatch(2)))
  await waitFor('relayed through b', () => leaving.chain.batches.length === 1, 60_000)
  t.is(leaving.chain.batches[0].from, b.net.peerId)
})

/** A chain whose block verification is slow, so that catching up takes a while. */
class SlowChain extends FakeChain {
  override async applyBlocks (blocks: FinalizedBlock[], peer: string): Promise<void> {
    await sleep(250)
    await super.applyBlocks(blocks, peer)
  }
}

test.serial('a node that sync is catching up relays no gossip (it may not know yet whom governance removed)', async t => {
  t.timeout(4 * 60_000)
  const keys = await makeKeys(3)
  const genesis = makeGenesis('membership-sync', keys)
  const all = keys.map(k => k.peerId)
  // a is ahead and has cut `removed` off; b is far behind and still admits it (it has not seen the removal).
  const a = await startNode(t, { key: keys[0], genesis, allowed: [keys[0].peerId, keys[1].peerId], chain: new FakeChain(genesis, fabricateChain(genesis, 600)) })
  const b = await startNode(t, { key: keys[1], genesis, allowed: all, chain: new SlowChain(genesis), bootstrap: a.net.addresses, opts: { maxBlocksPerRequest: 10 } })
  const removed = await startNode(t, { key: keys[2], genesis, allowed: all, bootstrap: b.net.addresses })
  const tp = topics(genesis.chainId)
  await waitFor('b catching up', () => b.chain.height > 0, 30_000)
  await waitFor('subscriptions', () => b.net.host!.services.pubsub.getSubscribers(tp.batches).length === 2 && a.net.host!.services.pubsub.getSubscribers(tp.batches).length === 1, 30_000)
  t.is(connections(a, removed.net.peerId), 0)
  t.true(b.chain.height < 550, 'still catching up')

  a.net.publishBatch(encodeBatch(sampleBatch(1)))
  await waitFor('b got it', () => b.chain.batches.length === 1)
  await sleep(1_000)
  t.is(removed.chain.batches.length, 0, 'b relayed while catching up')

  // Control: caught up (and a moment later), b relays again.
  await waitFor('b caught up', () => b.chain.height === 600, 120_000)
  await sleep(2_500)
  a.net.publishBatch(encodeBatch(sampleBatch(2)))
  await waitFor('relayed through b', () => removed.chain.batches.length === 1, 60_000)
  t.is(removed.chain.batches[0].from, b.net.peerId)
})
