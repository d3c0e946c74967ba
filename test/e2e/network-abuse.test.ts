import test from 'ava'
import { randomBytes } from 'node:crypto'
import { encodeBatch } from '../../src/chain/codec.ts'
import { encodeCbor } from '../../src/encoding/cbor.ts'
import { LIMITS } from '../../src/chain/limits.ts'
import { topics } from '../../src/network/index.ts'
import { connections, fullyConnected, makeGenesis, makeKeys, sampleBatch, sleep, startMesh, waitFor } from './network/helpers.ts'

test.serial('a peer that gossips malformed, oversized and garbage messages is banned; the others keep working', async t => {
  const keys = await makeKeys(4)
  const genesis = makeGenesis('abuse-test', keys)
  const allowed = keys.map(k => k.peerId)
  const nodes = await startMesh(t, keys, genesis, allowed)
  await waitFor('full mesh', () => fullyConnected(nodes))
  const [honest0, honest1, honest2, bad] = nodes
  const honest = [honest0, honest1, honest2]
  const tp = topics(genesis.chainId)
  // The bad peer must know every honest subscriber too, or its publishes never reach some of them.
  await waitFor('subscriptions', () => nodes.every(n => n.net.host!.services.pubsub.getSubscribers(tp.batches).length === 3))

  // Over gossipsub's 4 MiB cap: refused locally with a log line, never sent.
  t.false(bad.net.publishBatch(new Uint8Array(5 * 1024 * 1024)))
  // Straight through gossipsub, bypassing our queue: receivers drop the frame at the stream.
  await bad.net.host!.services.pubsub.publish(tp.batches, new Uint8Array(5 * 1024 * 1024)).catch(() => {})
  // Each of the following is its own gossip message, published straight through gossipsub (our
  // queue would bundle batches): an attacker controls its messages.
  const publishRaw = async (data: Uint8Array): Promise<void> => { await bad.net.host!.services.pubsub.publish(tp.batches, data).catch(() => {}) }
  // Under the gossip cap but over the batch message limit: OVERSIZE; a batch over the batch limit.
  await publishRaw(new Uint8Array(LIMITS.consensusMessageBytes + 1))
  await publishRaw(encodeCbor([[new Uint8Array(LIMITS.batchBytes + 1)]]))
  // Well-formed CBOR of the wrong shape, an empty batch message, and plain garbage.
  await publishRaw(encodeCbor([[1, 2, 3]]))
  await publishRaw(encodeCbor([]))
  bad.net.publishConsensus(encodeCbor([9, [], 0]))
  for (let i = 0; i < 12; i++) await publishRaw(randomBytes(200 + i))
  // Through our own queue, garbage is bundled as it is and refused all the same.
  bad.net.publishBatch(randomBytes(300))

  await waitFor('bad peer banned by all', () => honest.every(n => n.net.peerScore(bad.net.peerId).banned), 20_000).catch((err) => {
    t.log(honest.map(n => ({ score: n.net.peerScore(bad.net.peerId), gossip: n.net.gossipStats })))
    throw err
  })
  await waitFor('bad peer disconnected', () => honest.every(n => connections(n, bad.net.peerId) === 0))
  for (const n of honest) {
    t.is(n.chain.batches.length, 0, 'no invalid message reached the application')
    t.true(n.net.gossipStats!.rejected >= 10)
  }

  // The honest nodes still gossip to each other.
  const batch = sampleBatch(42)
  honest0.net.publishBatch(encodeBatch(batch))
  await waitFor('honest gossip', () => honest1.chain.batches.length === 1 && honest2.chain.batches.length === 1)
  t.deepEqual(honest2.chain.batches[0].batch, batch)
  t.true(fullyConnected(honest))
  // The ban holds against redials.
  await sleep(1_500)
  t.true(honest.every(n => connections(n, bad.net.peerId) === 0))
})

test.serial('messages the application rejects count against the sender', async t => {
  const keys = await makeKeys(3)
  const genesis = makeGenesis('reject-test', keys)
  const nodes = await startMesh(t, keys, genesis, keys.map(k => k.peerId))
  await waitFor('full mesh', () => fullyConnected(nodes))
  const tp = topics(genesis.chainId)
  await waitFor('subscriptions', () => nodes.every(n => n.net.host!.services.pubsub.getSubscribers(tp.batches).length === 2))
  nodes[1].chain.batchVerdict = 'reject'
  // Two messages (published one after the other is delivered; together they would be bundled).
  nodes[0].net.publishBatch(encodeBatch(sampleBatch(1)))
  await waitFor('first delivered', () => nodes[1].chain.batches.length === 1)
  nodes[0].net.publishBatch(encodeBatch(sampleBatch(2)))
  await waitFor('delivered', () => nodes[1].chain.batches.length === 2 && nodes[2].chain.batches.length === 2)
  await waitFor('counted', () => nodes[1].net.peerScore(nodes[0].net.peerId).invalid > 1.5)
  t.is(nodes[2].net.peerScore(nodes[0].net.peerId).invalid, 0)
  t.false(nodes[1].net.peerScore(nodes[0].net.peerId).banned)
})
