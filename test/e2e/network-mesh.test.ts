import test from 'ava'
import { decodeConsensusMessage, encodeBatch, encodeConsensusMessage } from '../../src/chain/codec.ts'
import { VoteType } from '../../src/chain/types.ts'
import { topics } from '../../src/network/index.ts'
import { GOSSIP_MAX_OUTBOUND_BUFFER_BYTES } from '../../src/network/libp2p-node.ts'
import { connections, fullyConnected, makeGenesis, makeKeys, sampleBatch, sleep, startMesh, startNode, waitFor, type TestNode } from './network/helpers.ts'

function subscribedToAll (nodes: TestNode[], topic: string): boolean {
  return nodes.every(n => {
    const subs = new Set(n.net.host!.services.pubsub.getSubscribers(topic).map(String))
    return nodes.every(m => m === n || subs.has(m.net.peerId))
  })
}

test.serial('4 validators and 1 observer form a full mesh and gossip batches and consensus messages to all', async t => {
  const keys = await makeKeys(5)
  const genesis = makeGenesis('mesh-test', keys.slice(0, 4), keys.slice(4))
  const allowed = keys.map(k => k.peerId)
  const started = Date.now()
  // The burst below is queued at once: room for all of it.
  const nodes = await startMesh(t, keys, genesis, allowed, undefined, { maxQueuedBatches: 4_096 })
  await waitFor('full mesh', () => fullyConnected(nodes))
  const t0 = topics(genesis.chainId)
  await waitFor('subscriptions', () => subscribedToAll(nodes, t0.batches) && subscribedToAll(nodes, t0.consensus))
  t.log(`mesh of 5 ready in ${Date.now() - started} ms`)

  const batch = sampleBatch(1)
  t.true(nodes[0].net.publishBatch(encodeBatch(batch)))
  const vote = { type: VoteType.PREVOTE, height: 1, round: 0, blockHash: null, validator: keys[2].publicKey, signature: new Uint8Array(64).fill(3) }
  const voteBytes = encodeConsensusMessage({ kind: 'vote', vote })
  t.true(nodes[2].net.publishConsensus(voteBytes))
  await waitFor('gossip everywhere', () => nodes.every((n, i) => (i === 0 || n.chain.batches.length === 1) && (i === 2 || n.chain.consensus.length === 1)))
  for (const [i, n] of nodes.entries()) {
    if (i !== 0) t.deepEqual(n.chain.batches[0].batch, batch)
    if (i !== 2) t.deepEqual(n.chain.consensus[0].msg, decodeConsensusMessage(voteBytes))
  }
  // Each node reported its status to the others.
  await waitFor('status heights', () => nodes.every(n => n.net.peerHeights().size === 4))

  // Throughput: 2,000 batches of ~200 B from one node, counted at the observer.
  const count = 2_000
  const before = nodes[4].chain.batches.length
  const t1 = Date.now()
  for (let i = 0; i < count; i++) nodes[1].net.publishBatch(encodeBatch(sampleBatch(10 + i, 100)))
  await waitFor('burst delivered', () => nodes[4].chain.batches.length - before === count, 90_000)
  const ms = Date.now() - t1
  t.log(`gossip: ${count} batches of ${encodeBatch(sampleBatch(0, 100)).length} B delivered to the observer in ${ms} ms (${Math.round(count * 1000 / ms)} msg/s)`)
  t.true(fullyConnected(nodes), 'the burst dropped no connection')
  // No duplicates reached the application (content-hash message ids).
  t.is(nodes[4].chain.batches.length - before, count)
})

test.serial('a peer not on the allowlist is refused: no connection survives and its requests fail', async t => {
  const keys = await makeKeys(3)
  const [rogueKey] = await makeKeys(1)
  const genesis = makeGenesis('fence-test', keys)
  const allowed = keys.map(k => k.peerId)
  const nodes = await startMesh(t, keys, genesis, allowed)
  await waitFor('full mesh', () => fullyConnected(nodes))

  // The rogue knows the chain and lists everyone (itself included): only the others' fence stops it.
  const rogue = await startNode(t, { key: rogueKey, genesis, allowed: [...allowed, rogueKey.peerId], bootstrap: nodes.flatMap(n => n.net.addresses) })
  const libp2p = rogue.net.host!
  // A refused dial may resolve and then close: what matters is that nothing works.
  await libp2p.dial(nodes[0].net.host!.getMultiaddrs()[0]).catch(() => {})
  const protocol = `/medledger/${genesis.chainId}/status/1`
  await t.throwsAsync(async () => {
    const s = await libp2p.dialProtocol(nodes[0].net.host!.getMultiaddrs()[0], protocol, { signal: AbortSignal.timeout(5_000) })
    // If negotiation raced the gater, the stream still dies before any response.
    for await (const chunk of s) if (chunk.byteLength > 0) break
    throw new Error('stream stayed open')
  })
  rogue.net.publishBatch(new Uint8Array([1, 2, 3]))
  await sleep(1_500)
  for (const n of nodes) {
    t.is(connections(n, rogueKey.peerId), 0, 'no node holds a connection to the rogue')
    t.false(n.net.peerHeights().has(rogueKey.peerId))
    t.is(n.chain.batches.length, 0)
  }
  t.deepEqual(rogue.net.connectedPeers(), [])
})

test.serial('setAllowed removing the observer disconnects it and keeps it out', async t => {
  const keys = await makeKeys(5)
  const genesis = makeGenesis('allow-test', keys.slice(0, 4), keys.slice(4))
  const allowed = keys.map(k => k.peerId)
  const nodes = await startMesh(t, keys, genesis, allowed)
  await waitFor('full mesh', () => fullyConnected(nodes))
  const observer = nodes[4]
  const validators = nodes.slice(0, 4)
  const withoutObserver = allowed.slice(0, 4)
  for (const v of validators) v.net.setAllowed(withoutObserver)
  await waitFor('observer cut off', () => validators.every(v => connections(v, observer.net.peerId) === 0) && observer.net.connectedPeers().length === 0)
  // The observer keeps redialling (its own list still has them): the fence holds.
  await sleep(2_000)
  for (const v of validators) t.is(connections(v, observer.net.peerId), 0)
  t.true(fullyConnected(validators), 'validators stay connected to each other')
  // Re-admitting it restores the connection without a restart.
  for (const v of validators) v.net.setAllowed(allowed)
  await waitFor('observer back', () => fullyConnected(nodes), 40_000)
  t.pass()
})

test.serial('a node that restarts is redialled by the others (backoff) without bootstrapping to them', async t => {
  const keys = await makeKeys(3)
  const genesis = makeGenesis('redial-test', keys)
  const allowed = keys.map(k => k.peerId)
  const nodes = await startMesh(t, keys, genesis, allowed)
  await waitFor('full mesh', () => fullyConnected(nodes))
  // The first node bootstrapped to nobody: the others know its address from their bootstrap list.
  const addr = nodes[0].net.addresses[0]
  const port = addr.split('/')[4]
  await nodes[0].net.stop()
  await waitFor('others see it gone', () => nodes.slice(1).every(n => !n.net.connectedPeers().includes(keys[0].peerId)))
  await sleep(2_000)
  const again = await startNode(t, { key: keys[0], genesis, allowed, opts: { listen: [`/ip4/127.0.0.1/tcp/${port}`] } })
  const started = Date.now()
  await waitFor('redialled', () => fullyConnected([again, ...nodes.slice(1)]), 40_000)
  t.log(`redialled ${Date.now() - started} ms after the restart`)
  t.pass()
})

test.serial('gossip survives a peer\'s older connection closing while a newer one stays open (both directions)', async t => {
  // Two connections to one peer happen: a redial while the old connection is dead but not yet
  // closed (a cable cut; the multi-host tier's halt), or two dials crossing. Gossipsub keeps one
  // outbound stream per peer, on whichever connection came first; when that connection closes
  // the peer is still connected (no peer:disconnect), so gossipsub by itself opens no new stream
  // and every later message to that peer is lost: a validator that cannot send its votes.
  const keys = await makeKeys(2)
  const genesis = makeGenesis('two-conns', keys)
  const allowed = keys.map(k => k.peerId)
  const [a, m] = await startMesh(t, keys, genesis, allowed)
  await waitFor('connected', () => fullyConnected([a, m]))
  const t0 = topics(genesis.chainId)
  await waitFor('subscriptions', () => subscribedToAll([a, m], t0.consensus))
  const vote = (i: number, from: TestNode['key']): Uint8Array => encodeConsensusMessage({ kind: 'vote', vote: { type: VoteType.PREVOTE, height: i, round: 0, blockHash: null, validator: from.publicKey, signature: new Uint8Array(64).fill(i) } })
  const old = a.net.host!.getConnections().filter(c => c.remotePeer.toString() === m.net.peerId)
  t.is(old.length, 1)
  // A second connection, then the first one closes.
  await a.net.host!.dial(m.net.host!.getMultiaddrs()[0], { force: true })
  await waitFor('two connections on both sides', () => connections(a, m.net.peerId) === 2 && connections(m, a.net.peerId) === 2)
  await old[0].close()
  await waitFor('one connection left', () => connections(a, m.net.peerId) === 1 && connections(m, a.net.peerId) === 1)
  t.true(fullyConnected([a, m]), 'still connected: no peer:disconnect was seen')
  // Gossip is lossy while a connection changes; each side sends a fresh vote every 500 ms, as a
  // stalled validator re-sends its votes, until the other has one.
  let i = 0
  const resend = setInterval(() => { i += 2; a.net.publishConsensus(vote(i, a.key)); m.net.publishConsensus(vote(i + 1, m.key)) }, 500)
  try {
    await waitFor('each gets the other\'s messages over the newer connection', () => m.chain.consensus.length > 0 && a.chain.consensus.length > 0, 60_000)
  } finally {
    clearInterval(resend)
  }
  t.true(m.chain.consensus.every(c => c.msg.kind === 'vote'))
  t.log(`delivered both ways after ${i / 2} re-sends; streams reopened: ${a.net.gossipStats?.streamsReopened} on one side, ${m.net.gossipStats?.streamsReopened} on the other`)
})

test.serial('a peer that stops reading holds up no one: the others still get every message, and its backlog is bounded', async t => {
  // A member whose node stops reading its gossip stream (hostile, or hung): before, the publish
  // pump waited while any peer's stream held 1 MiB unsent, so one such peer stopped the node
  // publishing to everybody.
  const keys = await makeKeys(3)
  const genesis = makeGenesis('sloth', keys)
  const allowed = keys.map(k => k.peerId)
  const [a, b, sloth] = await startMesh(t, keys, genesis, allowed, undefined, { maxQueuedBatches: 4_096 })
  await waitFor('full mesh', () => fullyConnected([a, b, sloth]))
  const t0 = topics(genesis.chainId)
  await waitFor('subscriptions', () => subscribedToAll([a, b, sloth], t0.batches))
  // The sloth stops reading what a sends it.
  const fromA = (): Array<{ pause: () => void, writeBufferLength: number }> => sloth.net.host!.getConnections().filter(c => c.remotePeer.toString() === a.net.peerId).flatMap(c => c.streams.filter(s => s.direction === 'inbound' && s.protocol?.startsWith('/meshsub/') === true))
  t.true(fromA().length > 0)
  for (const s of fromA()) s.pause()
  // More than a's cap for one peer (GOSSIP_MAX_OUTBOUND_BUFFER_BYTES, 32 MiB).
  const count = 1_200
  for (let i = 0; i < count; i++) a.net.publishBatch(encodeBatch(sampleBatch(1_000 + i, 32 * 1024)))
  await waitFor('b gets every batch although the sloth reads nothing', () => b.chain.batches.length === count, 120_000)
  t.is(b.chain.batches.length, count)
  // What a holds for the sloth is bounded: its stream is reset past the cap, never grown without bound.
  const held = a.net.host!.getConnections().filter(c => c.remotePeer.toString() === sloth.net.peerId).flatMap(c => c.streams).reduce((n, s) => n + s.writeBufferLength, 0)
  t.true(held <= GOSSIP_MAX_OUTBOUND_BUFFER_BYTES, `a holds ${held} bytes for the sloth`)
  await waitFor('a reset its stream to the sloth past the cap and opened another', () => (a.net.gossipStats?.streamsReopened ?? 0) >= 1, 30_000)
  t.true(fullyConnected([a, b]), 'a and b stay connected')
})
