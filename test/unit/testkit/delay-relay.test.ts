import test, { type ExecutionContext } from 'ava'
import { once } from 'node:events'
import { connect, createServer, type Server, type Socket } from 'node:net'
import { DelayRelay, loopbackTwin } from '../../../src/testkit/delay-relay.ts'

/** An echo-less sink server on loopback that hands each accepted socket to the test. */
async function server (): Promise<{ server: Server, port: number, accepted: Promise<Socket> }> {
  const s = createServer({ allowHalfOpen: true })
  const accepted = once(s, 'connection').then(([sock]) => sock as Socket)
  await new Promise<void>(resolve => s.listen(0, '127.0.0.1', resolve))
  return { server: s, port: (s.address() as { port: number }).port, accepted }
}

async function dial (port: number): Promise<Socket> {
  const c = connect({ port, host: '127.0.0.1', allowHalfOpen: true })
  await once(c, 'connect')
  return c
}

/** A target server, a relay in front of it torn down after the test, and one connection through it: the client's end and the target's. */
async function relayed (t: ExecutionContext, opts: { delayMs: number, maxHeldBytes?: number }): Promise<{ relay: DelayRelay, client: Socket, up: Socket }> {
  const target = await server()
  const relay = await new DelayRelay({ listen: { host: '127.0.0.1', port: 0 }, target: { host: '127.0.0.1', port: target.port }, ...opts }).listen()
  t.teardown(async () => { await relay.close(); target.server.close() })
  const client = await dial(relay.port)
  return { relay, client, up: await target.accepted }
}

/** Everything `s` sends until it ends. */
async function readAll (s: Socket): Promise<Buffer> {
  const chunks: Buffer[] = []
  s.on('data', (c: Buffer) => chunks.push(c))
  await once(s, 'end')
  return Buffer.concat(chunks)
}

test('each direction is held the one-way delay, in order, and the end follows the data', async t => {
  const { relay, client, up } = await relayed(t, { delayMs: 80 })

  const upstreamGot = readAll(up)
  const t0 = performance.now()
  const firstArrived = once(up, 'data').then(() => performance.now() - t0)
  const parts = Array.from({ length: 50 }, (_, i) => Buffer.from(`part-${i};`))
  for (const p of parts) client.write(p)
  client.end()
  t.true(await firstArrived >= 75, 'nothing arrives before the delay')
  t.deepEqual(await upstreamGot, Buffer.concat(parts), 'every byte, in order, then the end')

  // The other way, the same delay (the client half-closed; the upstream may still answer).
  const back = readAll(client)
  const t1 = performance.now()
  up.end(Buffer.from('answer'))
  t.is((await back).toString(), 'answer')
  t.true(performance.now() - t1 >= 75, 'the answer was held too')
  t.is(relay.connections, 1)
})

test('a delay changed at run time applies to the next chunks, and order still holds', async t => {
  const { relay, client, up } = await relayed(t, { delayMs: 100 })
  const got = readAll(up)
  client.write('slow;')
  relay.delayMs = 0
  client.write('fast;')
  client.end()
  t.is((await got).toString(), 'slow;fast;', 'the later chunk waits behind the held one')
})

test('a reset on one side closes the other at once', async t => {
  const { client, up } = await relayed(t, { delayMs: 50 })
  up.on('error', () => {})
  up.resume()
  const ended = once(up, 'end')
  client.resetAndDestroy()
  await ended
  t.pass()
})

test('a target that refuses closes the client', async t => {
  const gone = await server()
  gone.server.close()
  const relay = await new DelayRelay({ listen: { host: '127.0.0.1', port: 0 }, target: { host: '127.0.0.1', port: gone.port }, delayMs: 10 }).listen()
  t.teardown(async () => { await relay.close() })
  const client = await dial(relay.port)
  client.on('error', () => {})
  client.resume()
  await once(client, 'end')
  t.pass()
})

test('a sender faster than the delay is paused once the held bytes reach the bound', async t => {
  const { client, up } = await relayed(t, { delayMs: 200, maxHeldBytes: 64 * 1024 })
  up.pause()
  // Up to 64 MiB offered, more than the kernel's socket buffers hold: with the upstream not
  // reading, the relay stops reading at its bound and the client's writes back up. A relay that
  // read on would take it all into memory and write() would keep saying there is room.
  const chunk = Buffer.alloc(64 * 1024, 7)
  let full = false
  for (let i = 0; i < 1024 && !full; i++) {
    full = !client.write(chunk)
    if (!full) continue
    // write() says "full" as soon as the kernel lags a moment: give it time to drain, then go on.
    full = await Promise.race([once(client, 'drain').then(() => false), new Promise<boolean>(resolve => setTimeout(() => { resolve(true) }, 1000))])
  }
  t.true(full, 'backpressure reached the sender')
  client.destroy()
})

test('loopbackTwin maps an IPv4 peer to 127.b.c.d, and nothing else', t => {
  t.is(loopbackTwin('10.213.7.12'), '127.213.7.12')
  t.is(loopbackTwin('::ffff:10.1.2.3'), '127.1.2.3')
  t.is(loopbackTwin('fe80::1'), undefined)
})
