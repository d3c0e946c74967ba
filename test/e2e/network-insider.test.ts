/**
 * Issue 13, finding 1 (next-height buffer), in process: three honest validators (real
 * MedledgerNodes: libp2p over TCP, LevelDB, consensus) and a fourth validator gone bad, a bare
 * libp2p host holding that validator's real key. It floods copies of one signed ~256 KiB proposal
 * for the next height, each with another `seq` (so another gossip id where ids hash the bytes).
 * A listed observer, connected to the honest nodes only, watches what they forward.
 */
import test from 'ava'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { multiaddr } from '@multiformats/multiaddr'
import { ConfigSchema } from '../../src/config/schema.ts'
import { MedledgerNode } from '../../src/node/node.ts'
import { Metrics } from '../../src/api/metrics.ts'
import { decodeWireConsensusMessage, encodeBatch, encodeConsensusMessage, type WireConsensusMessage } from '../../src/chain/codec.ts'
import { bytesEqual } from '../../src/encoding/bytes.ts'
import { encodeArrayOfEncoded } from '../../src/encoding/cbor.ts'
import { sha256 } from '../../src/crypto/hash.ts'
import { protocols, topics, type Verdict } from '../../src/network/index.ts'
import { encodeStatus } from '../../src/network/reqresp/status.ts'
import type { NodeKey } from '../../src/crypto/ed25519.ts'
import { freshEnvelopes, startHostilePeer } from '../helpers/hostile-peer.ts'
import { FAST_CONSENSUS } from '../helpers/devnet.ts'
import { makeBlock, makeProposal, sampleRecord, signBatch } from '../helpers/fixtures.ts'
import { FakeChain, logger, makeGenesis, makeKeys, sampleBatch, sleep, startNode, waitFor } from './network/helpers.ts'

test.serial('a validator flooding one signed large next-height proposal in fresh envelopes: bounded buffers, finality goes on, nothing forwarded unvalidated, the flooder is banned', async t => {
  const keys = await makeKeys(4)
  const [spyKey] = await makeKeys(1)
  const genesis = makeGenesis('insider-flood', keys, [spyKey], Date.now())
  const chainId = genesis.chainId
  const attackerKey = keys[3]

  // Three honest validators, each bootstrapping to the ones before it.
  const honest: MedledgerNode[] = []
  for (const key of keys.slice(0, 3)) {
    const home = await mkdtemp(join(tmpdir(), 'medledger-insider-'))
    const config = ConfigSchema.parse({
      p2p: { listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: honest.flatMap(n => n.network.addresses) },
      consensus: FAST_CONSENSUS,
      log: { level: 'silent' }
    })
    const node = new MedledgerNode({ config, home, genesis, key, logger })
    t.teardown(async () => { await node.stop(); await rm(home, { recursive: true, force: true }) })
    await node.start()
    honest.push(node)
  }
  const height = (): number => Math.min(...honest.map(n => n.store.head?.height ?? 0))
  await waitFor('first block on every honest node', () => height() >= 1, 60_000)

  // The insider and the observer answer the status exchange like any member.
  const status = { protocol: protocols(chainId).status, answer: encodeStatus({ chainId, genesisHash: genesis.hash, height: 0, headHash: genesis.hash }) }
  const attacker = await startHostilePeer(attackerKey, status)
  const spy = await startHostilePeer(spyKey, status)
  t.teardown(async () => { await attacker.stop(); await spy.stop() })
  const tp = topics(chainId)
  for (const peer of [attacker, spy]) {
    peer.libp2p.services.pubsub.subscribe(tp.consensus)
    for (const n of honest) await peer.libp2p.dial(multiaddr(n.network.addresses[0]))
  }
  await waitFor('the attacker sees every honest subscriber', () => attacker.libp2p.services.pubsub.getSubscribers(tp.consensus).length === 3, 20_000)

  // Sample every honest node's next-height buffer while the attack runs.
  let maxHeld = 0
  const bound = honest[0].consensus.futureBuffer.maxBytes
  const sampler = setInterval(() => { for (const n of honest) maxHeld = Math.max(maxHeld, n.consensus.futureBuffer.bytes) }, 20)
  t.teardown(() => { clearInterval(sampler) })

  const attackerBanned = (): boolean => honest.every(n => n.network.peerScore(attacker.peerId).banned)
  const submitted: Array<{ node: MedledgerNode, ids: string[] }> = []
  const heightBefore = height()
  let copies = 0
  let proposalBytes = 0
  // The flood rule lets a peer deliver one proposal twice (a proposal is never re-sent; a relay
  // that restarted may forward it again); a smaller block keeps the loop quick on a busy machine
  // (all nodes share this process: every copy is encrypted once per honest node and decrypted by each).
  const until = Date.now() + 40_000
  let target = 0
  let envelope = (_seq: number): Uint8Array => new Uint8Array(0)
  let nextSubmit = 0
  for (let i = 0; Date.now() < until && !(attackerBanned() && submitted.length >= 5); i++) {
    // One signed proposal for the height after the one in progress (the final head + 2), signed
    // again only once every honest node has that height final (until then each one counts its
    // copies, as the next height's proposal, then the current one's); each copy another seq.
    if (height() >= target) {
      target = height() + 2
      const data = encodeConsensusMessage({ kind: 'proposal', proposal: largeProposal(attackerKey, chainId, genesis.validators, target), seq: 0 })
      envelope = freshEnvelopes(data)
      proposalBytes = data.length
    }
    await attacker.libp2p.services.pubsub.publish(tp.consensus, envelope(++copies)).catch(() => {})
    if (Date.now() >= nextSubmit) {
      const node = honest[submitted.length % 3]
      submitted.push({ node, ids: (await node.submitRecords([record(submitted.length)])).ids })
      nextSubmit = Date.now() + 1_000
    }
    await sleep(50)
  }
  t.log(`${copies} copies of ${proposalBytes} bytes sent; heights ${heightBefore} -> ${height()}; largest next-height buffer ${maxHeld} bytes (bound ${bound})`)

  // Records submitted during the attack become final on the node they were submitted to.
  for (const s of submitted) await s.node.waitFinal(s.ids, 60_000)
  t.true(height() > heightBefore, 'the chain kept finalizing')
  t.true(maxHeld <= bound, `next-height buffer held ${maxHeld} bytes, bound ${bound}`)
  t.true(maxHeld <= 2 * proposalBytes, 'copies of one signed proposal are held once')

  // The flooder was penalized, then banned and cut off, by every honest node.
  await waitFor('attacker banned by every honest node', attackerBanned, 30_000).catch(err => {
    t.log(honest.map(n => n.network.peerRecords()))
    throw err
  })
  for (const n of honest) {
    const rec = n.network.peerRecords().find(r => r.peer === attacker.peerId)
    t.truthy(rec, 'an offence record names the flooder')
    t.true((rec?.offences ?? 0) >= 1)
  }
  // The Prometheus endpoint names it.
  const metrics = await new Metrics(honest[0]).render()
  t.regex(metrics, new RegExp(`medledger_peer_offences_total\\{peer="${attacker.peerId}"\\} [1-9]`))
  t.regex(metrics, new RegExp(`medledger_peer_banned\\{peer="${attacker.peerId}"\\} 1`))
  await waitFor('attacker disconnected', () => honest.every(n => !n.network.connectedPeers().includes(attacker.peerId)), 20_000)

  // No honest node forwarded the unvalidated block to the observer.
  const seen = spy.received.get(tp.consensus) ?? []
  const proposerOf = (m: WireConsensusMessage): Uint8Array | undefined => m.kind === 'proposal' ? m.proposal.header.proposer : m.kind === 'compact-proposal' ? m.compact.header.proposer : undefined
  const forwarded = seen.map(d => decodeWireConsensusMessage(d)).filter(m => bytesEqual(proposerOf(m) ?? new Uint8Array(0), attackerKey.publicKey))
  t.is(forwarded.length, 0, 'the flooder\'s proposal reached the observer through an honest node')
  t.true(seen.length > 0, 'the observer did receive the honest nodes\' consensus messages')
})

/** A proposal of about 256 KiB by `proposer` for `height`, in a round it may propose in; it links to nothing real. */
function largeProposal (proposer: NodeKey, chainId: string, set: ReturnType<typeof makeGenesis>['validators'], height: number): ReturnType<typeof makeProposal> {
  const round = [0, 1, 2, 3].find(r => set.isProposer(proposer.publicKey, height, r)) as number
  const records = Array.from({ length: 16 }, (_, i) => sampleRecord(proposer.publicKey, height * 100 + i, { payload: randomBytes(16 * 1024) }))
  const block = makeBlock({ chainId, height, round, proposer, parentHash: sha256(randomBytes(8)), validatorSetHash: set.hash, batches: [signBatch(proposer, records, chainId)] })
  return makeProposal(proposer, block, -1, chainId)
}

function record (i: number): { type: string, subject: Uint8Array, contentType: string, payload: Uint8Array, timestamp: number } {
  return { type: 'consultation', subject: sha256(new TextEncoder().encode(`insider-${i}`)), contentType: 'application/octet-stream', payload: new TextEncoder().encode(`record ${i}`), timestamp: Date.now() }
}

test.serial('gossip waiting for validation is bounded in bytes, and one peer fills at most half of it', async t => {
  const keys = await makeKeys(2)
  const genesis = makeGenesis('insider-inflight', keys)
  // An application that never finishes judging batches: everything handed to it stays in flight.
  const handed: number[] = []
  const chain = new FakeChain(genesis)
  chain.onBatches = async (batches) => { handed.push(batches.length); return await new Promise<Verdict>(() => {}) }
  const maxInFlightBytes = 8 * 1024 * 1024
  const node = await startNode(t, { key: keys[0], genesis, allowed: keys.map(k => k.peerId), chain, opts: { maxInFlightBytes } })
  const status = { protocol: protocols(genesis.chainId).status, answer: encodeStatus({ chainId: genesis.chainId, genesisHash: genesis.hash, height: 0, headHash: genesis.hash }) }
  const insider = await startHostilePeer(keys[1], status)
  t.teardown(async () => { await insider.stop() })
  const tp = topics(genesis.chainId)
  insider.libp2p.services.pubsub.subscribe(tp.batches)
  await insider.libp2p.dial(multiaddr(node.net.addresses[0]))
  await waitFor('subscribed', () => insider.libp2p.services.pubsub.getSubscribers(tp.batches).length === 1, 20_000)
  // 20 distinct, well-formed messages of ~1 MiB (16 batches of one 60 KiB record each).
  const size = (i: number): Uint8Array => encodeArrayOfEncoded(Array.from({ length: 16 }, (_, j) => encodeBatch(sampleBatch(i * 16 + j, 60 * 1024))))
  const messageBytes = size(0).length
  for (let i = 0; i < 20; i++) {
    await insider.libp2p.services.pubsub.publish(tp.batches, size(i)).catch(() => {})
    await sleep(20)
  }
  await waitFor('every message received', () => node.net.gossipStats!.received >= 20, 30_000)
  const held = handed.length * messageBytes
  t.log(`${handed.length} of 20 messages of ${messageBytes} bytes handed to the application; ${node.net.gossipStats!.shed} shed`)
  t.true(held <= maxInFlightBytes / 2, `${held} bytes in flight from one peer, at most ${maxInFlightBytes / 2}`)
  t.true(handed.length >= 1)
  t.is(node.net.gossipStats!.shed, 20 - handed.length, 'the rest was ignored, not queued')
})
