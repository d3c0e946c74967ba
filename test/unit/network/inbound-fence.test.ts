import test from 'ava'
import { multiaddr } from '@multiformats/multiaddr'
import type { MultiaddrConnection } from '@libp2p/interface'
import { InboundFence } from '../../../src/network/inbound-fence.ts'
import { silentLogger } from '../../../src/logger.ts'

let port = 40000
/** Just what the fence reads of a connection: its remote address and its close event. */
function conn (ip: string): MultiaddrConnection & { close: () => void } {
  const target = new EventTarget() as EventTarget & { remoteAddr: unknown, close: () => void }
  target.remoteAddr = multiaddr(`/${ip.includes(':') ? 'ip6' : 'ip4'}/${ip}/tcp/${port++}`)
  target.close = () => { target.dispatchEvent(new Event('close')) }
  return target as unknown as MultiaddrConnection & { close: () => void }
}

test('outside the address allowlist is refused before the handshake; an empty allowlist admits any address', t => {
  const fenced = new InboundFence({ allow: ['127.0.0.1/32', '10.0.0.0/8'], maxPendingPerIp: 4, pendingExpiryMs: 60_000 }, silentLogger)
  t.false(fenced.denyInbound(conn('127.0.0.1')))
  t.false(fenced.denyInbound(conn('10.9.8.7')))
  t.true(fenced.denyInbound(conn('127.0.0.2')))
  t.true(fenced.denyInbound(conn('2001:db8::1')))
  t.deepEqual(fenced.refusals, { address: 2, pending: 0 })
  const open = new InboundFence({ allow: [], maxPendingPerIp: 4, pendingExpiryMs: 60_000 }, silentLogger)
  t.false(open.denyInbound(conn('203.0.113.5')))
})

test('one IP holds at most its share of handshakes; a slot frees when its connection closes or upgrades', t => {
  const fence = new InboundFence({ allow: [], maxPendingPerIp: 3, pendingExpiryMs: 60_000 }, silentLogger)
  const stalled = [conn('127.0.0.2'), conn('127.0.0.2'), conn('127.0.0.2')]
  for (const c of stalled) t.false(fence.denyInbound(c))
  t.true(fence.denyInbound(conn('127.0.0.2')), 'a fourth stalled handshake from the same host is refused')
  t.is(fence.pendingFrom('127.0.0.2'), 3)
  // Another host is not affected.
  t.false(fence.denyInbound(conn('127.0.0.1')))
  // A timed-out (closed) handshake frees its slot; so does a finished upgrade.
  stalled[0].close()
  t.is(fence.pendingFrom('127.0.0.2'), 2)
  fence.settled(stalled[1])
  t.is(fence.pendingFrom('127.0.0.2'), 1)
  t.false(fence.denyInbound(conn('127.0.0.2')))
  t.is(fence.refusals.pending, 1)
})

test('a slot nobody released is reclaimed after the expiry', async t => {
  const fence = new InboundFence({ allow: [], maxPendingPerIp: 1, pendingExpiryMs: 50 }, silentLogger)
  t.false(fence.denyInbound(conn('192.0.2.1')))
  t.true(fence.denyInbound(conn('192.0.2.1')))
  await new Promise(resolve => setTimeout(resolve, 120))
  t.false(fence.denyInbound(conn('192.0.2.1')))
})
