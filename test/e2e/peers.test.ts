/**
 * GET /v1/peers (issue 17): who a node is connected to, as the chain names them, with the round
 * trip, the protocol version each peer announced and how it scores. Real nodes in this process
 * (LevelDB on disk, libp2p over TCP), the API as a config describes it.
 */
import test from 'ava'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createDevnet } from '../../src/devnet/setup.ts'
import { loadConfig, resolvePath } from '../../src/config/load.ts'
import { Genesis } from '../../src/chain/genesis.ts'
import { readKeyFile } from '../../src/keys/key-file.ts'
import { MedledgerNode } from '../../src/node/node.ts'
import { createApi } from '../../src/api/server.ts'
import { ApiTokens } from '../../src/api/tokens.ts'
import type { PeersAnswer } from '../../src/api/peer-routes.ts'
import { PENALTY } from '../../src/network/peer-scores.ts'
import { silentLogger } from '../../src/logger.ts'
import { formatVersion, PROTOCOL_VERSION } from '../../src/network/protocol-version.ts'
import { FAST_CONSENSUS, waitFor } from '../helpers/devnet.ts'

test.serial('/v1/peers names each connected peer with its role, address, direction, latency, protocol version and score; read token only where reads need one', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'medledger-peers-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const layout = await createDevnet({ dir, validators: ['hospital-a', 'hospital-b'], members: ['clinic-north'], observers: ['regulator'], heartbeatMs: 1000, consensus: FAST_CONSENSUS })
  const nodes: MedledgerNode[] = []
  t.teardown(async () => { for (const n of nodes.reverse()) await n.stop().catch(() => {}) })
  for (const d of layout.nodes) {
    const config = await loadConfig(d.home)
    const node = new MedledgerNode({ config, home: d.home, genesis: await Genesis.load(resolvePath(d.home, config.genesis)), key: await readKeyFile(resolvePath(d.home, config.key)), logger: silentLogger })
    await node.start()
    nodes.push(node)
  }
  const a = nodes[0]
  const api = await createApi(a, { host: '127.0.0.1', port: 0, tokens: new ApiTokens({ submit: 'submit-token-0123456789abcdef', read: 'read-token-0123456789abcdef01' }), requireReadToken: true, maxBodyBytes: 1 << 20 })
  t.teardown(async () => { await api.close() })
  const url = `http://127.0.0.1:${(api.server.address() as { port: number }).port}/v1/peers`
  const read = { authorization: 'Bearer read-token-0123456789abcdef01' }

  // Topology is metadata: no token, or the submit token, gets nothing.
  t.is((await fetch(url)).status, 401)
  t.is((await fetch(url, { headers: { authorization: 'Bearer submit-token-0123456789abcdef' } })).status, 401)

  const get = async (): Promise<PeersAnswer> => await (await fetch(url, { headers: read })).json() as PeersAnswer
  // libp2p's connection monitor pings every 10 s: wait for every peer's first round trip.
  let answer: PeersAnswer | undefined
  await waitFor('every peer connected, identified and pinged', async () => {
    answer = await get()
    return answer.peers.length === 3 && answer.peers.every(p => p.latencyMs !== null && p.protocol !== null && p.height !== null)
  }, 120_000)
  const peers = answer!.peers
  t.is(answer!.peerId, a.key.peerId)
  t.deepEqual(answer!.listen, a.network.addresses)
  const byName = Object.fromEntries(peers.map(p => [p.name, p]))
  t.deepEqual(Object.keys(byName).sort(), ['clinic-north', 'hospital-b', 'regulator'])
  t.is(byName['hospital-b'].role, 'validator')
  t.is(byName['clinic-north'].role, 'member', 'a member is named as one (/v1/status called it "unknown" before)')
  t.is(byName.regulator.role, 'observer')
  for (const [i, d] of layout.nodes.entries()) {
    if (i === 0) continue
    const p = peers.find(x => x.peerId === d.peerId)!
    t.truthy(p, d.name)
    t.regex(p.address, /^\/ip4\/127\.0\.0\.1\/tcp\/\d+/)
    t.true(p.direction === 'inbound' || p.direction === 'outbound')
    if (p.direction === 'outbound') t.true(p.address.startsWith(`/ip4/127.0.0.1/tcp/${d.p2pPort}`), p.address)
    t.true(typeof p.latencyMs === 'number' && p.latencyMs >= 0 && p.latencyMs < 10_000, `${d.name}: ${p.latencyMs}`)
    t.is(p.protocol, formatVersion(PROTOCOL_VERSION))
    t.regex(p.agent!, new RegExp(`^medledger/\\d+\\.\\d+\\.\\d+ protocol/${formatVersion(PROTOCOL_VERSION).replace('.', '\\.')}$`))
    t.true(typeof p.height === 'number' && p.height >= 0)
    t.deepEqual({ invalid: p.score.invalid, banned: p.score.banned }, { invalid: 0, banned: false })
    t.true(Number.isFinite(p.score.gossip))
  }
  t.deepEqual(answer!.penalised, [])
  // /v1/status names the same roles (on 44cd276 it called a member "unknown").
  const status = await (await fetch(url.replace('/v1/peers', '/v1/status'), { headers: read })).json() as { connectedPeers: Array<{ name: string, role: string }>, versions: { protocol: string, software: string } }
  t.deepEqual(status.connectedPeers.map(p => `${p.name} ${p.role}`).sort(), ['clinic-north member', 'hospital-b validator', 'regulator observer'])
  t.is(status.versions.protocol, formatVersion(PROTOCOL_VERSION))

  // A peer that crossed the invalid-message threshold is banned and cut off: it leaves `peers`
  // and shows in `penalised`, named. (The network's own penalty path, as a bad block range takes it.)
  const b = layout.nodes[1]
  ;(a.network as unknown as { penalise: (peer: string, weight: number, reason: string) => void }).penalise(b.peerId, PENALTY.fatal, 'test: served invalid blocks')
  await waitFor('the banned peer gone from the list', async () => {
    answer = await get()
    return !answer.peers.some(p => p.peerId === b.peerId)
  }, 30_000)
  t.deepEqual(answer!.penalised.map(p => ({ name: p.name, role: p.role, banned: p.banned, bans: p.bans })), [{ name: 'hospital-b', role: 'validator', banned: true, bans: 1 }])
})
