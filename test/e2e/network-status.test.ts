import test from 'ava'
import { connections, makeGenesis, makeKeys, sleep, startNode, waitFor } from './network/helpers.ts'

// Both peers list each other: only the status step can tell that they follow different chains.

test.serial('a peer with another chain id is refused at the status step and disconnected', async t => {
  const keys = await makeKeys(2)
  const allowed = keys.map(k => k.peerId)
  const a = await startNode(t, { key: keys[0], genesis: makeGenesis('chain-a', keys), allowed })
  const b = await startNode(t, { key: keys[1], genesis: makeGenesis('chain-b', keys), allowed, bootstrap: a.net.addresses })
  // The protocol ids carry the chain id: each side finds the other does not speak its status protocol.
  await waitFor('refused', () => a.net.peerScore(b.net.peerId).banned || b.net.peerScore(a.net.peerId).banned)
  await sleep(1_000)
  t.is(connections(a, b.net.peerId), 0)
  t.is(connections(b, a.net.peerId), 0)
  t.false(a.net.peerHeights().has(b.net.peerId))
  t.false(b.net.peerHeights().has(a.net.peerId))
})

test.serial('a peer with the same chain id but another genesis is refused at the status step', async t => {
  const keys = await makeKeys(2)
  const allowed = keys.map(k => k.peerId)
  const a = await startNode(t, { key: keys[0], genesis: makeGenesis('chain-x', keys, [], 1_700_000_000_000), allowed })
  const b = await startNode(t, { key: keys[1], genesis: makeGenesis('chain-x', keys, [], 1_700_000_000_001), allowed, bootstrap: a.net.addresses })
  await waitFor('both refused', () => a.net.peerScore(b.net.peerId).banned && b.net.peerScore(a.net.peerId).banned)
  await sleep(1_000)
  t.is(connections(a, b.net.peerId), 0)
  t.is(connections(b, a.net.peerId), 0)
  t.deepEqual(a.net.connectedPeers(), [])
})

test.serial('peers of the same chain exchange heights', async t => {
  const keys = await makeKeys(2)
  const allowed = keys.map(k => k.peerId)
  const genesis = makeGenesis('chain-ok', keys)
  const a = await startNode(t, { key: keys[0], genesis, allowed })
  const b = await startNode(t, { key: keys[1], genesis, allowed, bootstrap: a.net.addresses })
  await waitFor('heights', () => a.net.peerHeights().get(b.net.peerId) === 0 && b.net.peerHeights().get(a.net.peerId) === 0)
  t.false(a.net.peerScore(b.net.peerId).banned)
})
