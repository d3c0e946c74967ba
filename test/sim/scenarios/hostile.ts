import type { ExecutionContext } from 'ava'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { multiaddr } from '@multiformats/multiaddr'
import { say, SimNet, finalChecks, len, scenario, seededRandom, sleep } from '../../helpers/sim.ts'
import { waitFor } from '../../helpers/devnet.ts'
import { probe, startHostilePeer, type DialOutcome } from '../../helpers/hostile-peer.ts'
import { protocols, topics } from '../../../src/network/protocol-ids.ts'
import { encodeStatus } from '../../../src/network/reqresp/status.ts'
import { withoutSeq } from '../../../src/network/message-id.ts'
import { concatBytes, encodeCbor } from '../../../src/encoding/cbor.ts'
import { Genesis } from '../../../src/chain/genesis.ts'
import { readKeyFile } from '../../../src/keys/key-file.ts'
import type { Daemon } from '../../../src/devnet/daemon.ts'

const addrOf = (d: Daemon): string => `/ip4/127.0.0.1/tcp/${d.node.p2pPort}/p2p/${d.node.peerId}`

/**
 * 5. Hostile peers. A stranger (a libp2p host with the network's transports and a key that is not
 * on the list) dials every validator again and again and asks for their status: every connection is
 * refused, it is never counted as a peer, and the network keeps finalizing. Then an insider (the
 * listed observer's key, its daemon not running) floods the gossip topics with garbage, CBOR of the
 * wrong shape, an oversized message and replays of real consensus messages: the validators drop it
 * all, cut the insider off, and keep finalizing with each other.
 */
export async function hostilePeers (t: ExecutionContext): Promise<void> {
  const attackMs = len(3_000, 60_000)
  t.timeout(2 * attackMs + 150_000)
  await scenario(t, '5. hostile peers (stranger, garbage-sending insider)', async r => {
    const rnd = seededRandom(t, 'hostile')
    // Node 4 is the listed observer whose identity the insider borrows: its daemon never starts.
    const net = await SimNet.start(t, { validators: 4, observers: 1, skip: [4] })
    const validators = net.validators
    const load = net.load()
    await waitFor('a first acknowledged record', async () => load.acked.size > 0, 60_000)
    await waitFor('a full mesh of validators', async () => (await net.statuses(validators)).every(s => s?.peers === 3), 30_000)
    const chainId = net.layout.chainId
    const genesisHash = (await Genesis.load(join(net.dir, 'genesis.json'))).hash
    const statusReq = encodeStatus({ chainId, genesisHash, height: 0, headHash: genesisHash })

    // The stranger.
    const stranger = await startHostilePeer()
    net.onCleanup(stranger.stop)
    say(t, `stranger ${stranger.peerId}`)
    const peerSamples: number[] = []
    let sampling = true
    net.onCleanup(async () => { sampling = false })
    const sampler = (async () => {
      while (sampling) {
        for (const s of await net.statuses(validators)) if (s !== undefined) peerSamples.push(s.peers)
        await sleep(100)
      }
    })()
    const h0 = await net.maxHeight(validators)
    const acked0 = load.acked.size
    const outcomes: DialOutcome[] = []
    const started = Date.now()
    try {
      while (Date.now() - started < attackMs) {
        const target = rnd.pick(validators)
        const proto = rnd.next() < 0.5 ? protocols(chainId).status : protocols(chainId).blocks
        outcomes.push(await probe(stranger, addrOf(target), proto, proto.endsWith('status/1') ? statusReq : encodeCbor([1, 10]), 300))
      }
    } finally {
      sampling = false
      await sampler
    }
    const h1 = await net.maxHeight(validators)
    t.true(outcomes.length > 5)
    t.deepEqual(outcomes.filter(o => o.answered === true), [], 'no validator answers the stranger')
    t.deepEqual(outcomes.filter(o => o.connected), [], 'no connection with the stranger stands')
    t.true(peerSamples.every(n => n <= 3), `the stranger is never counted as a peer (peer counts seen: ${[...new Set(peerSamples)].join(',')})`)
    t.true(h1 > h0 && load.acked.size > acked0, `the network keeps finalizing during the stranger's attempts (heights ${h0} -> ${h1})`)
    t.is(stranger.libp2p.getConnections().length, 0)
    const errs = [...new Set(outcomes.map(o => o.dialError ?? o.protocolError ?? 'closed').map(e => e.slice(0, 80)))]
    say(t, `stranger: ${outcomes.length} attempts, all refused (${errs.slice(0, 4).join(' | ')}); heights ${h0} -> ${h1}`)
    await stranger.stop()

    // The insider: a listed identity that misbehaves.
    const insiderKey = await readKeyFile(join(net.daemons[4].node.home, 'node.key'))
    // It passes the status exchange (same chain, height 0), so the validators listen to its gossip.
    const insider = await startHostilePeer(insiderKey, { protocol: protocols(chainId).status, answer: statusReq })
    net.onCleanup(insider.stop)
    const tp = topics(chainId)
    insider.libp2p.services.pubsub.subscribe(tp.consensus)
    insider.libp2p.services.pubsub.subscribe(tp.batches)
    const dialErrors: string[] = []
    await waitFor('the insider connected to every validator', async () => {
      const have = new Set(insider.libp2p.getPeers().map(String))
      for (const v of validators) {
        if (!have.has(v.node.peerId)) await insider.libp2p.dial(multiaddr(addrOf(v)), { signal: AbortSignal.timeout(5000) }).catch((err: Error) => { dialErrors.push(`${v.node.name}: ${err.message}`) })
      }
      return insider.libp2p.getPeers().length >= validators.length
    }, 15_000, 500).catch(() => {})
    const connectedAtFirst = insider.libp2p.getPeers().length
    if (dialErrors.length > 0) say(t, `insider dial errors: ${[...new Set(dialErrors)].slice(0, 5).join(' | ')}`)
    t.true(connectedAtFirst >= 3, `the listed insider is admitted (${connectedAtFirst} connections)`)
    await waitFor('consensus messages to replay', async () => (insider.received.get(tp.consensus)?.length ?? 0) >= 20, 30_000)
    const h2 = await net.maxHeight(validators)
    const pubsub = insider.libp2p.services.pubsub
    let sent = 0
    const publishErrors = new Set<string>()
    const publish = async (topic: string, data: Uint8Array): Promise<void> => {
      try { await pubsub.publish(topic, data); sent++ } catch (err) { publishErrors.add((err as Error).message) }
    }
    // Replays first (valid signatures, old messages, fresh gossip ids through the rebroadcast counter).
    for (const raw of insider.received.get(tp.consensus) ?? []) {
      // The same signed message (a vote, a compact proposal) in a fresh envelope: another seq.
      const end = withoutSeq(raw)
      if (end === undefined) continue
      await publish(tp.consensus, concatBytes([raw.subarray(0, end), encodeCbor(1_000_000 + rnd.int(0, 1000))]))
    }
    // Garbage, wrong shapes and an oversized message, round after round, for as long as anyone listens.
    const garbageRound = async (): Promise<void> => {
      for (let i = 0; i < 40; i++) {
        const kind = i % 4
        const data = kind === 0
          ? randomBytes(rnd.int(1, 2048))
          : kind === 1
            ? encodeCbor([rnd.int(0, 9), 'vote', randomBytes(32), -1])
            : kind === 2
              ? encodeCbor({ proposal: { height: 2 ** 53 - 1, block: new Uint8Array(0) } } as never)
              : new Uint8Array([0xbf, 0xff, 0x9f, rnd.int(0, 255)])
        await publish(i % 2 === 0 ? tp.consensus : tp.batches, data)
      }
    }
    await garbageRound()
    await publish(tp.batches, randomBytes(4 * 1024 * 1024 + 1024))
    const floodEnd = Date.now() + 30_000
    while (insider.libp2p.getPeers().length > 0 && Date.now() < floodEnd) {
      await sleep(300)
      await garbageRound()
    }
    say(t, `insider published ${sent} messages (replays, garbage, oversized)${publishErrors.size > 0 ? `; not sent: ${[...publishErrors].join(' | ')}` : ''}`)
    const cutOff = await waitFor('the validators to cut the insider off', async () => insider.libp2p.getPeers().length === 0 ? true : undefined, 30_000).then(() => true, () => false)
    t.true(cutOff, `the validators hang up on the garbage-sending insider (still connected to ${insider.libp2p.getPeers().map(String).map(id => validators.find(v => v.node.peerId === id)?.node.name ?? id).join(', ')})`)
    // While banned, it cannot come back.
    const again = await probe(insider, addrOf(validators[0]), protocols(chainId).status, statusReq, 300)
    t.not(again.answered, true, 'a banned insider is refused on redial')
    await insider.stop()
    await net.waitHeight(h2 + 3, validators, 30_000)
    const after = await net.statuses(validators)
    t.true(after.every(s => s?.peers === 3), `the validators stay connected to each other (peers ${after.map(s => s?.peers).join('/')})`)
    const bans = (await Promise.all(validators.map(async d => (await net.logLines(d, 40)).filter(l => l.includes('peer banned') || l.includes('disconnecting only'))))).flat()
    const reasons = [...new Set(bans.map(l => (JSON.parse(l) as { reason?: string }).reason ?? '?'))]
    say(t, `validators logged ${bans.length} bans/disconnects of misbehaving peers; reasons: ${reasons.join(' | ')}`)
    t.true(bans.every(l => l.includes(insider.peerId)), 'only the insider was banned')

    r.faults = outcomes.length + sent
    r.notes.push(`stranger: ${outcomes.length} refused dial+request attempts`, `insider: ${sent} bad messages, cut off: ${cutOff}`, `load errors: ${load.errorSummary()}`)
    const res = await finalChecks(t, net, load, { expectNoEvidence: true })
    r.acked = res.acked
    r.lost = res.lost
  })
}
