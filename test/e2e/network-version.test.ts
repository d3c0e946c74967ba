/**
 * The wire protocol version in the handshake (issue 17): each node announces
 * `medledger/<release> protocol/<major>.<minor>` through identify; a peer of another major version
 * is refused with one log line saying who must upgrade, a peer of another minor stays (a rolling
 * upgrade), and a peer that names no version (a release from before versions) counts as major 1.
 */
import test, { type ExecutionContext } from 'ava'
import { Writable } from 'node:stream'
import { pino } from 'pino'
import { Network } from '../../src/network/index.ts'
import { parseAgentVersion, isCompatible, agentVersion } from '../../src/network/protocol-version.ts'
import type { ProtocolVersion } from '../../src/network/protocol-version.ts'
import { FakeChain, makeGenesis, makeKeys, sleep, waitFor } from './network/helpers.ts'
import type { NodeKey } from '../../src/crypto/ed25519.ts'
import type { Genesis } from '../../src/chain/genesis.ts'

async function startVersioned (t: ExecutionContext, key: NodeKey, genesis: Genesis, allowed: string[], protocolVersion: ProtocolVersion, bootstrap: string[] = []): Promise<{ net: Network, logs: string[] }> {
  const logs: string[] = []
  const logger = pino({ level: 'info', base: undefined }, new Writable({ write (chunk: Buffer, _e, cb) { logs.push(chunk.toString('utf8')); cb() } }))
  const net = new Network({ listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap, syncIntervalMs: 500, protocolVersion }, { key, genesis, handlers: new FakeChain(genesis), logger, allowed })
  t.teardown(async () => { await net.stop() })
  await net.start()
  return { net, logs }
}

const agentOf = (net: Network, peer: string): string | undefined => net.peerConnections().find(c => c.peerId === peer)?.agent

test('agent versions: parsed, and compatible by major only', t => {
  t.is(agentVersion({ major: 1, minor: 0 }, '0.1.0'), 'medledger/0.1.0 protocol/1.0')
  t.deepEqual(parseAgentVersion('medledger/0.3.1 protocol/2.7'), { major: 2, minor: 7 })
  t.is(parseAgentVersion('js-libp2p/3.3.11 UserAgent=v24.21.0'), undefined)
  t.is(parseAgentVersion('medledger/0.1.0 protocol/1.x'), undefined)
  t.true(isCompatible('medledger/0.2.0 protocol/1.9', { major: 1, minor: 0 }))
  t.false(isCompatible('medledger/1.0.0 protocol/2.0', { major: 1, minor: 0 }))
  t.true(isCompatible('js-libp2p/3.3.11 UserAgent=v24.21.0', { major: 1, minor: 0 }), 'a release from before versions spoke major 1')
  t.false(isCompatible(undefined, { major: 2, minor: 0 }))
})

test.serial('a peer announcing another major protocol version is refused with a clear log line; another minor stays connected', async t => {
  const keys = await makeKeys(3)
  const allowed = keys.map(k => k.peerId)
  const genesis = makeGenesis('chain-versions', keys)
  const a = await startVersioned(t, keys[0], genesis, allowed, { major: 1, minor: 0 })
  const newerMinor = await startVersioned(t, keys[1], genesis, allowed, { major: 1, minor: 4 }, a.net.addresses)
  const newerMajor = await startVersioned(t, keys[2], genesis, allowed, { major: 2, minor: 0 }, a.net.addresses)

  await waitFor('the 1.4 peer identified', () => agentOf(a.net, keys[1].peerId) !== undefined, 30_000)
  t.is(agentOf(a.net, keys[1].peerId), 'medledger/0.1.0 protocol/1.4')
  t.is(agentOf(newerMinor.net, keys[0].peerId), 'medledger/0.1.0 protocol/1.0')

  // Whichever side finishes identify first refuses the other and hangs up; the gater then keeps it out.
  await waitFor('the 2.0 peer refused', () => a.net.peerScore(keys[2].peerId).banned || newerMajor.net.peerScore(keys[0].peerId).banned, 30_000).catch(err => { t.log(a.logs.join(''), newerMajor.logs.join('')); throw err })
  const refusals = [...a.logs, ...newerMajor.logs].map(l => JSON.parse(l) as { level: number, msg: string }).filter(l => l.msg.startsWith('refusing peer'))
  t.true(refusals.length >= 1)
  for (const line of refusals) {
    t.is(line.level, 50, 'logged as an error')
    t.true([
      `refusing peer ${keys[2].peerId}: it speaks medledger protocol 2.0, this node speaks 1.0; major versions differ, so the older side must be upgraded (docs/operations.md, "Upgrades")`,
      `refusing peer ${keys[0].peerId}: it speaks medledger protocol 1.0, this node speaks 2.0; major versions differ, so the older side must be upgraded (docs/operations.md, "Upgrades")`
    ].includes(line.msg), line.msg)
  }
  await sleep(1_000)
  t.false(a.net.connectedPeers().includes(keys[2].peerId))
  t.deepEqual(a.net.connectedPeers(), [keys[1].peerId], 'the minor-version peer is still connected')
})
