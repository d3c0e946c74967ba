import test from 'ava'
import { finalizedToCbor } from '../../src/chain/codec.ts'
import { encodeCbor } from '../../src/encoding/cbor.ts'
import { connections, fabricateChain, FakeChain, makeGenesis, makeKeys, startNode, waitFor } from './network/helpers.ts'

test.serial('a node that is behind syncs 2,000 blocks and resumes after being stopped mid-way', async t => {
  const keys = await makeKeys(3)
  const genesis = makeGenesis('sync-test', keys)
  const allowed = keys.map(k => k.peerId)
  const blocks = fabricateChain(genesis, 2_000)
  const a = await startNode(t, { key: keys[0], genesis, allowed, chain: new FakeChain(genesis, blocks) })
  const b = await startNode(t, { key: keys[1], genesis, allowed, chain: new FakeChain(genesis, blocks), bootstrap: a.net.addresses })
  const bootstrap = [...a.net.addresses, ...b.net.addresses]

  // First run: stop as soon as a few ranges are in.
  const chain = new FakeChain(genesis)
  const first = await startNode(t, { key: keys[2], genesis, allowed, chain, bootstrap, opts: { maxBlocksPerRequest: 100 } })
  const stoppedAt = await new Promise<number>(resolve => {
    first.net.addEventListener('synced', () => { if (chain.height >= 500) resolve(chain.height) })
  })
  await first.net.stop()
  t.true(stoppedAt >= 500 && stoppedAt < 2_000, `stopped mid-way at ${stoppedAt}`)
  const interrupted = chain.height
  const appliedBefore = chain.applied.length

  // Second run on the same store: picks up at height + 1.
  const started = Date.now()
  const second = await startNode(t, { key: keys[2], genesis, allowed, chain, bootstrap })
  await waitFor('caught up', () => chain.height === 2_000, 60_000)
  const ms = Date.now() - started
  t.is(chain.applied[appliedBefore].from, interrupted + 1)
  t.log(`resumed at ${interrupted + 1}; synced ${2_000 - interrupted} blocks in ${ms} ms (${Math.round((2_000 - interrupted) * 1000 / ms)} blocks/s incl. connect)`)
  for (let i = 1; i < chain.applied.length; i++) t.is(chain.applied[i].from, chain.applied[i - 1].to + 1)
  t.true(second.net.peerHeights().get(a.net.peerId) === 2_000)
})

test.serial('sync speed: 2,000 blocks from scratch', async t => {
  const keys = await makeKeys(2)
  const genesis = makeGenesis('sync-speed', keys)
  const allowed = keys.map(k => k.peerId)
  const a = await startNode(t, { key: keys[0], genesis, allowed, chain: new FakeChain(genesis, fabricateChain(genesis, 2_000)) })
  const chain = new FakeChain(genesis)
  const behind = await startNode(t, { key: keys[1], genesis, allowed, chain, bootstrap: a.net.addresses })
  await waitFor('first range', () => chain.height > 0, 60_000)
  const started = Date.now()
  const h0 = chain.height
  await waitFor('caught up', () => chain.height === 2_000, 60_000)
  const ms = Math.max(1, Date.now() - started)
  t.log(`sync: ${2_000 - h0} blocks of ~${Math.round(encodedSize(a.chain) / 2_000)} B in ${ms} ms (${Math.round((2_000 - h0) * 1000 / ms)} blocks/s)`)
  t.true(behind.net.peerHeights().get(a.net.peerId) === 2_000)
})

test.serial('a peer that serves bad blocks is dropped and another peer is used', async t => {
  const keys = await makeKeys(3)
  const genesis = makeGenesis('bad-blocks', keys)
  const allowed = keys.map(k => k.peerId)
  // The liar claims a chain of 600 (its block 1 does not link to genesis) and is the only peer at
  // first, so sync asks it. (With both in the bootstrap list, which peer's status came first, and
  // so which was asked first, hung on the machine's load.)
  const liar = await startNode(t, { key: keys[0], genesis, allowed, chain: new FakeChain(genesis, fabricateChain(genesis, 600, { badParentAt: 1 })) })
  const chain = new FakeChain(genesis)
  const node = await startNode(t, { key: keys[2], genesis, allowed, chain, bootstrap: liar.net.addresses })
  await waitFor('the liar asked for blocks', () => liar.chain.readBlockCalls > 0, 30_000)
  // An honest peer with a shorter chain dials in: sync goes on from it, and keeps nothing of the liar's.
  const honest = await startNode(t, { key: keys[1], genesis, allowed, chain: new FakeChain(genesis, fabricateChain(genesis, 500)), bootstrap: node.net.addresses })
  await waitFor('synced from the honest peer', () => chain.height === 500, 30_000)
  t.true(chain.applied.every(a => a.peer === honest.net.peerId))
  t.true(node.net.peerScore(liar.net.peerId).banned)
  await waitFor('liar disconnected', () => connections(node, liar.net.peerId) === 0)
  t.false(node.net.connectedPeers().includes(liar.net.peerId))
})

function encodedSize (c: FakeChain): number {
  return c.blocks.reduce((n, fb) => n + encodeCbor(finalizedToCbor(fb)).length, 0)
}
