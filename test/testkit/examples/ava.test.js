// An ava test of an application against a real medledger network (docs/testkit.md).
import test from 'ava'
import { Devnet, sampleRecord } from 'medledger/testkit'

test('records stay final and provable through a crash and a partition', async t => {
  t.timeout(5 * 60_000)
  const net = await Devnet.start({ validators: 4, observers: 1 })
  t.teardown(async () => { await net.stop() })
  const a = net.node('hospital-a')
  const { ids } = await a.submit([sampleRecord(1)], { wait: 'final' })

  // A validator crashes: three of four still finalize. It restarts and catches up.
  const b = net.node('hospital-b')
  await b.kill()
  const { height } = await a.submit([sampleRecord(2)])
  await b.start()
  await net.waitForHeight(height, { all: true, timeoutMs: 120_000 })

  // The regulator's copy proves the record against genesis.
  t.is(net.verifyProof(await net.node('regulator').proof(ids[0])).recordId, ids[0])

  // 2 | 2: neither side has a quorum; after the heal, finality resumes.
  await net.partition(['hospital-a', 'hospital-b'], ['hospital-c', 'ministry', 'regulator'])
  await t.throwsAsync(a.submit([sampleRecord(3)], { timeoutMs: 3000 }))
  await net.heal()
  const healed = await a.submit([sampleRecord(4)], { timeoutMs: 120_000 })
  await net.waitForHeight(healed.height, { all: true, timeoutMs: 120_000 })
  t.true(healed.height > height)
})
