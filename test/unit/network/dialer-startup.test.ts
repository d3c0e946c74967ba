/**
 * Start-up convergence (issue 16): the network's nodes start in any order, and a peer that is not
 * listening yet refuses at once. On 44cd276 every refused dial doubled the wait (0.5, 1, 2, 4, 8,
 * 16 s ...), so a node that had tried a late peer a few times reached it only tens of seconds after
 * it came up (N = 16 validators converged in 35 s). Now, for the first minute, a failed dial is
 * retried within a second however often it failed.
 */
import test from 'ava'
import type { Libp2p } from 'libp2p'
import { PeerDialer, STARTUP_RETRY_MAX_MS } from '../../../src/network/dialer.ts'
import { silentLogger } from '../../../src/logger.ts'
import { testKey } from '../../helpers/fixtures.ts'

test('a peer that refuses the first dials is reached within a second of coming up, after many failures', async t => {
  const late = testKey(90).peerId
  const attempts: number[] = []
  let listening = false
  let connected = false
  const libp2p = {
    peerId: testKey(89).peerId,
    getPeers: () => connected ? [{ toString: () => late }] : [],
    dial: async () => {
      attempts.push(Date.now())
      if (!listening) throw new Error('connect ECONNREFUSED 127.0.0.1:1')
      connected = true
    },
    peerStore: { get: async () => ({ addresses: [{}] }), merge: async () => {} }
  } as unknown as Libp2p
  // The usual backoff (500 ms doubling to 30 s): six refusals would put the next try 16 s away.
  const dialer = new PeerDialer({ reconnectBaseMs: 500, reconnectMaxMs: 30_000 }, { libp2p, logger: silentLogger, bootstrap: [], targets: () => [late] })
  t.teardown(() => { dialer.stop() })
  await dialer.start()
  const deadline = Date.now() + 60_000
  while (attempts.length < 7 && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 50))
  t.true(attempts.length >= 7, `refused ${attempts.length} times`)
  listening = true
  const upAt = Date.now()
  while (!connected && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 20))
  t.true(connected, 'connected once the peer listens')
  const gaps = attempts.slice(1).map((a, i) => a - attempts[i])
  t.log(`gaps between tries: ${gaps.join(', ')} ms; connected ${Date.now() - upAt} ms after the peer came up`)
  // The retry ceiling with its jitter (x1.25) and a tick: never the 8-16 s of the old backoff.
  for (const g of gaps) t.true(g <= STARTUP_RETRY_MAX_MS * 1.25 + 1000, `a retry after ${g} ms`)
})
