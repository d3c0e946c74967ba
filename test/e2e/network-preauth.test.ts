import test from 'ava'
import { connect, type Socket } from 'node:net'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { readKeyFile } from '../../src/keys/key-file.ts'
import { protocols } from '../../src/network/index.ts'
import { encodeStatus } from '../../src/network/reqresp/status.ts'
import { sampleRecord, startDevnet, waitFor, waitForHeight } from '../helpers/devnet.ts'
import { probe, startHostilePeer } from '../helpers/hostile-peer.ts'

const CHAIN = 'medledger-devnet'
const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

/** A raw TCP connection from `localAddress` that never sends a byte; resolves once it is open, or undefined if it failed. */
async function rawConnect (port: number, localAddress: string): Promise<Socket | undefined> {
  return await new Promise(resolve => {
    const s = connect({ host: '127.0.0.1', port, localAddress })
    // Flowing, so that the node's FIN or RST is seen (and the socket closes) at once.
    s.resume()
    s.once('connect', () => { resolve(s) })
    s.once('error', () => { resolve(undefined) })
    s.on('error', () => {})
  })
}

/**
 * Keeps `count` raw connections from `localAddress` open to `port`, reopening each one the node
 * closes: a host whose handshakes never finish. stop() ends it.
 */
function stallHandshakes (port: number, localAddress: string, count: number): { stop: () => void, opened: () => number } {
  let running = true
  let opened = 0
  const sockets = new Set<Socket>()
  const keep = async (): Promise<void> => {
    while (running) {
      const s = await rawConnect(port, localAddress)
      if (s === undefined) { await sleep(50); continue }
      opened++
      sockets.add(s)
      await new Promise(resolve => s.once('close', resolve))
      sockets.delete(s)
    }
  }
  for (let i = 0; i < count; i++) void keep()
  return { stop: () => { running = false; for (const s of sockets) s.destroy() }, opened: () => opened }
}

test.serial('one host with stalled handshakes cannot keep a member out: the member still connects and records become final', async t => {
  t.timeout(4 * 60_000)
  const daemons = await startDevnet(t, { validators: ['hospital-a', 'hospital-b', 'hospital-c'], observers: ['regulator'], heartbeatMs: 1000 })
  const [a, b, c, regulator] = daemons
  await waitForHeight(daemons, 1, 60_000)
  // The regulator's key, driven by the test: a member that (re)connects to hospital-a while it is
  // under attack. It answers status as a member of this chain would (else it is refused as a stranger).
  await regulator.stop('SIGKILL')
  const head = await (await fetch(`${a.api}/v1/status`)).json() as { genesisHash: string }
  const status = encodeStatus({ chainId: CHAIN, genesisHash: Buffer.from(head.genesisHash, 'hex'), height: 0, headHash: Buffer.from(head.genesisHash, 'hex') })
  const member = await startHostilePeer(await readKeyFile(join(regulator.node.home, 'node.key')), { protocol: protocols(CHAIN).status, answer: status })
  t.teardown(async () => { await member.stop() })

  // 40 handshakes that never start, from 127.0.0.2 (another source address on loopback), reopened as soon as closed.
  const attack = stallHandshakes(a.node.p2pPort, '127.0.0.2', 40)
  t.teardown(() => { attack.stop() })
  await waitFor('attacker holds connections', async () => attack.opened() >= 4 || undefined, 30_000)
  // Let it fill every slot it can (libp2p admits 5 attempts a second per host).
  await sleep(4_000)

  const out = await probe(member, `/ip4/127.0.0.1/tcp/${a.node.p2pPort}/p2p/${a.node.peerId}`, protocols(CHAIN).status, status, 500)
  t.true(out.answered, `a member could not reach hospital-a under the attack: ${JSON.stringify(out)}`)

  const res = await a.submit([sampleRecord(1)])
  t.is(res.status, 200, JSON.stringify(res.body))
  await waitForHeight([a, b, c], res.body.height!, 60_000)
  attack.stop()
  const log = await readFile(join(a.node.home, 'node.log'), 'utf8')
  t.regex(log, /refused an inbound connection from 127\.0\.0\.2: it already has \d+ connections in the handshake/)
})

test.serial('p2p.inbound_allow refuses a source address outside it before the handshake; members inside it connect', async t => {
  t.timeout(4 * 60_000)
  const daemons = await startDevnet(t, { validators: ['hospital-a', 'hospital-b', 'hospital-c'], observers: [], heartbeatMs: 1000 }, async (layout) => {
    for (const n of layout.nodes) {
      const file = join(n.home, 'config.toml')
      // A long upgrade timeout, so an admitted socket that sends nothing stays open well past a refusal.
      await writeFile(file, (await readFile(file, 'utf8'))
        .replace(/^inbound_allow = .*$/m, 'inbound_allow = ["127.0.0.1/32"]')
        .replace(/^inbound_upgrade_timeout_ms = .*$/m, 'inbound_upgrade_timeout_ms = 30000'))
    }
  })
  const [a] = daemons
  await waitForHeight(daemons, 1, 60_000)
  const res = await a.submit([sampleRecord(2)])
  t.is(res.status, 200, JSON.stringify(res.body))

  const allowed = await rawConnect(a.node.p2pPort, '127.0.0.1')
  const refused = await rawConnect(a.node.p2pPort, '127.0.0.2')
  t.teardown(() => { allowed?.destroy(); refused?.destroy() })
  t.truthy(allowed)
  // The kernel accepts the TCP connection; the node closes it at once, before any handshake byte.
  if (refused !== undefined && !refused.destroyed) {
    await waitFor('refused socket closed', async () => refused.destroyed || refused.readableEnded || undefined, 20_000, 50)
  }
  t.false(allowed!.destroyed || allowed!.readableEnded, 'the admitted source is still in its handshake')
  const log = await readFile(join(a.node.home, 'node.log'), 'utf8')
  t.regex(log, /refused an inbound connection from 127\.0\.0\.2: not in p2p\.inbound_allow/)
})
