import test from 'ava'
import { generateKey } from '@libp2p/pnet'
import { connections, makeGenesis, makeKeys, sleep, startNode, waitFor } from './network/helpers.ts'

function swarmKey (): Uint8Array {
  const k = new Uint8Array(95)
  generateKey(k)
  return k
}

test.serial('with a pre-shared key only nodes holding the same key connect, even when allowed', async t => {
  const keys = await makeKeys(3)
  const genesis = makeGenesis('pnet-test', keys)
  const allowed = keys.map(k => k.peerId)
  const psk = swarmKey()
  const a = await startNode(t, { key: keys[0], genesis, allowed, opts: { preSharedKey: psk } })
  const b = await startNode(t, { key: keys[1], genesis, allowed, bootstrap: a.net.addresses, opts: { preSharedKey: psk } })
  const c = await startNode(t, { key: keys[2], genesis, allowed, bootstrap: a.net.addresses, opts: { preSharedKey: swarmKey() } })
  await waitFor('a and b connected', () => a.net.peerHeights().has(b.net.peerId))
  await sleep(1_500)
  t.is(connections(a, c.net.peerId), 0)
  t.deepEqual(c.net.connectedPeers(), [])
})
