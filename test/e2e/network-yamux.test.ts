import test from 'ava'
import { fullyConnected, makeGenesis, makeKeys, startMesh, waitFor } from './network/helpers.ts'

/**
 * patches/@chainsafe+libp2p-yamux+8.0.1.patch, applied at install: a receiver grants more window
 * once half of it is used, not after every data frame (each window update is a frame encrypted,
 * sent and decrypted). This fails when the patch is not applied (npm install without postinstall).
 */
test('yamux answers many small messages with few window updates, and large transfers still flow', async t => {
  const keys = await makeKeys(2)
  const genesis = makeGenesis('yamux-window', keys)
  const [a, b] = await startMesh(t, keys, genesis, keys.map(k => k.peerId))
  await waitFor('connected', () => fullyConnected([a, b]))
  const protocol = '/medledger-test/yamux-window/1'
  let received = 0
  let windowUpdates = 0
  await b.net.host!.handle(protocol, (stream) => {
    // The receiving side's yamux stream: count the window-update frames (type 1) it sends.
    const s = stream as unknown as { sendFrame: (f: { header?: { type: number }, type?: number }) => unknown }
    const send = s.sendFrame.bind(s)
    s.sendFrame = (f) => {
      if ((f.header?.type ?? f.type) === 1) windowUpdates++
      return send(f)
    }
    stream.addEventListener('message', (evt) => { received += evt.data.byteLength })
  })
  const stream = await a.net.host!.getConnections().find(c => c.remotePeer.toString() === b.net.peerId)!.newStream(protocol)
  const message = new Uint8Array(100)
  for (let i = 0; i < 500; i++) {
    if (!stream.send(message)) await new Promise(resolve => stream.addEventListener('drain', resolve, { once: true }))
  }
  await waitFor('500 small messages received', () => received >= 500 * 100)
  t.log(`window updates for 500 messages of 100 B: ${windowUpdates}`)
  t.true(windowUpdates <= 2, `${windowUpdates} window updates (one per data frame without the patch)`)

  // 4 MiB more in 64 KiB writes: far past the 256 KiB window, so updates must still come in time.
  const before = windowUpdates
  const big = new Uint8Array(64 * 1024)
  for (let i = 0; i < 64; i++) {
    if (!stream.send(big)) await new Promise(resolve => stream.addEventListener('drain', resolve, { once: true }))
  }
  await waitFor('4 MiB received', () => received >= 500 * 100 + 64 * 64 * 1024)
  t.log(`window updates for 4 MiB more: ${windowUpdates - before}`)
  t.true(windowUpdates > before, 'the window was granted again as it was used')
  await stream.close()
})
