import test, { type ExecutionContext } from 'ava'
import { lpStream } from '@libp2p/utils'
import { peerIdFromString } from '@libp2p/peer-id'
import { decodeCbor, encodeCbor } from '../../src/encoding/cbor.ts'
import { protocols } from '../../src/network/index.ts'
import { decodeStatus, encodeStatus } from '../../src/network/reqresp/status.ts'
import { fabricateChain, FakeChain, makeGenesis, makeKeys, startNode, waitFor, type TestNode } from './network/helpers.ts'

async function exchange (from: TestNode, to: TestNode, protocol: string, request: Uint8Array): Promise<Uint8Array> {
  const stream = await from.net.host!.dialProtocol(peerIdFromString(to.net.peerId), protocol)
  const lp = lpStream(stream, { maxDataLength: 64 * 1024 * 1024, maxBufferSize: 64 * 1024 * 1024 + 16 })
  await lp.write(request)
  const response = (await lp.read({ signal: AbortSignal.timeout(5_000) })).subarray()
  await stream.close()
  return response
}

/** A server holding a 10-block chain and a client connected to it. */
async function connectedPair (t: ExecutionContext, chainId: string): Promise<{ genesis: ReturnType<typeof makeGenesis>, server: TestNode, client: TestNode }> {
  const keys = await makeKeys(2)
  const genesis = makeGenesis(chainId, keys)
  const allowed = keys.map(k => k.peerId)
  const server = await startNode(t, { key: keys[0], genesis, allowed, chain: new FakeChain(genesis, fabricateChain(genesis, 10)) })
  const client = await startNode(t, { key: keys[1], genesis, allowed, bootstrap: server.net.addresses })
  await waitFor('connected', () => client.net.connectedPeers().length === 1)
  return { genesis, server, client }
}

test.serial('blocks responses stay within the server limits whatever the client asks', async t => {
  const keys = await makeKeys(2)
  const genesis = makeGenesis('limits-test', keys)
  const allowed = keys.map(k => k.peerId)
  const server = await startNode(t, { key: keys[0], genesis, allowed, chain: new FakeChain(genesis, fabricateChain(genesis, 1_000)), opts: { maxBlocksPerRequest: 50, maxResponseBytes: 64 * 1024 } })
  const client = await startNode(t, { key: keys[1], genesis, allowed, bootstrap: server.net.addresses, chain: new FakeChain(genesis, fabricateChain(genesis, 1_000)) })
  await waitFor('connected', () => client.net.connectedPeers().length === 1)
  const p = protocols(genesis.chainId)

  const many = decodeCbor(await exchange(client, server, p.blocks, encodeCbor([1, 10_000, 1_000_000_000])), 64 * 1024 * 1024) as Uint8Array[]
  t.is(many.length, 50, 'count clamped to the server maxBlocksPerRequest')
  const small = decodeCbor(await exchange(client, server, p.blocks, encodeCbor([1, 50, 4_000])), 1 << 20) as Uint8Array[]
  const bytes = small.reduce((n, b) => n + b.length, 0)
  t.true(small.length >= 1 && bytes <= Math.max(4_000, small[0].length), 'bytes clamped to the client maxBytes')
  const beyond = decodeCbor(await exchange(client, server, p.blocks, encodeCbor([5_000, 10, 1_000_000])), 1 << 20) as Uint8Array[]
  t.deepEqual(beyond, [], 'a range above the head is empty')

  const status = decodeStatus(await exchange(client, server, p.status, encodeStatus(client.chain.localStatus())))
  t.is(status.height, 1_000)
  t.is(status.chainId, genesis.chainId)
})

test.serial('malformed requests are refused and counted against the requester', async t => {
  const { genesis, server, client } = await connectedPair(t, 'badreq-test')
  const p = protocols(genesis.chainId)
  await t.throwsAsync(exchange(client, server, p.blocks, encodeCbor([0, 10, 1000])))
  await t.throwsAsync(exchange(client, server, p.blocks, new Uint8Array([0xff, 0x00])))
  await t.throwsAsync(exchange(client, server, p.blocks, new Uint8Array(1000)))
  await t.throwsAsync(exchange(client, server, p.status, encodeCbor(['x'])))
  await waitFor('counted', () => server.net.peerScore(client.net.peerId).invalid >= 6)
})

test.serial('a requester that keeps sending after its one request frame is cut off', async t => {
  const { genesis, server, client } = await connectedPair(t, 'overflow-test')
  const stream = await client.net.host!.dialProtocol(peerIdFromString(server.net.peerId), protocols(genesis.chainId).status)
  await lpStream(stream).write(encodeStatus(client.chain.localStatus()))
  // Whatever the server does with the request, what follows it must not pile up on the server.
  for (let i = 0; i < 8 && stream.writeStatus === 'writable'; i++) stream.send(new Uint8Array(32 * 1024))
  await waitFor('the server reset the stream', () => stream.status === 'reset', 60_000)
  t.is(client.net.connectedPeers().length, 1, 'only the stream is cut, not the connection')
})
