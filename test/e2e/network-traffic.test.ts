import test from 'ava'
import { encodeBatch } from '../../src/chain/codec.ts'
import { topics } from '../../src/network/index.ts'
import { fullyConnected, makeGenesis, makeKeys, sampleBatch, startMesh, waitFor } from './network/helpers.ts'

// The bench's duplicate ratio (npm run bench -- --only=scale) reads these counters from /metrics.
test.serial('gossip traffic counts every copy received and each distinct message once, per topic', async t => {
  const keys = await makeKeys(4)
  const genesis = makeGenesis('traffic-test', keys.slice(0, 4), [])
  const nodes = await startMesh(t, keys, genesis, keys.map(k => k.peerId))
  await waitFor('full mesh', () => fullyConnected(nodes))
  const tp = topics(genesis.chainId)
  await waitFor('subscriptions', () => nodes.every(n => n.net.host!.services.pubsub.getSubscribers(tp.batches).length === 3))
  const bytes = encodeBatch(sampleBatch(1))
  t.true(nodes[0].net.publishBatch(bytes))
  await waitFor('batch everywhere', () => nodes.slice(1).every(n => n.chain.batches.length === 1))
  // Forwarded copies may still be on their way: wait a little for them to settle, then count.
  await new Promise(resolve => setTimeout(resolve, 1500))
  for (const n of nodes.slice(1)) {
    const b = n.net.traffic.byTopic.batches
    t.is(b.distinct, 1, 'one distinct message')
    t.true(b.copies >= 1, 'at least the copy it handled')
    t.true(b.distinctBytes > 0 && b.copyBytes >= b.distinctBytes)
    t.is(n.net.traffic.byTopic.other.copies, 0)
  }
  // The publisher received no batch message of its own as a distinct one.
  t.is(nodes[0].net.traffic.byTopic.batches.distinct, 0)
})
