import test from 'ava'
import { access, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Devnet, sampleRecord, TestkitTimeoutError } from '../../src/testkit/index.ts'

// The testkit's own surface, against real daemons: one network through the whole story, as a user's test would.
test.serial('a 4 + 1 devnet: submit, kill and restart a validator, verify a proof, partition and heal, then stop removes everything', async t => {
  t.timeout(6 * 60_000)
  const net = await Devnet.start({ validators: 4, observers: 1 })
  try {
    t.deepEqual(net.nodes.map(n => [n.name, n.role]), [['hospital-a', 'validator'], ['hospital-b', 'validator'], ['hospital-c', 'validator'], ['ministry', 'validator'], ['regulator', 'observer']])
    for (const n of net.nodes) {
      t.regex(n.api, /^http:\/\/127\.0\.0\.1:\d+$/)
      t.is(n.token, n.tokens.submit)
      t.is(new Set(Object.values(n.tokens)).size, 4, `${n.name} has one token per role`)
    }
    await net.waitForHeight(1, { timeoutMs: 90_000 })
    const a = net.node('hospital-a')
    const { ids, height } = await a.submit([sampleRecord(1), sampleRecord(2)], { wait: 'final' })
    t.is(ids.length, 2)
    t.true(height! >= 1)

    // A validator crashes; the other three finalize on; it restarts and catches up.
    const b = net.node('hospital-b')
    await b.kill()
    t.false(b.running)
    const during = await net.node('hospital-c').submit([sampleRecord(3)])
    await b.start()
    await net.waitForHeight(during.height!, { all: true, timeoutMs: 90_000 })
    t.is((await b.record(during.ids[0])).recordId, during.ids[0])

    // The proof from the observer verifies against genesis.
    const proof = await net.node('regulator').proof(ids[0])
    t.is(net.verifyProof(proof).recordId, ids[0])
    t.throws(() => net.verifyProof({ ...proof as object, recordId: '00'.repeat(32) }))

    // 2 | 2: no side has a quorum; after the heal finality resumes.
    await net.partition(['hospital-a', 'hospital-b'], ['hospital-c', 'ministry'])
    await t.throwsAsync(a.submit([sampleRecord(4)], { timeoutMs: 4000 }), { message: /hospital-a: POST .* (no answer within 4000 ms|answered HTTP 504)/ })
    await net.heal()
    const after = await a.submit([sampleRecord(5)], { timeoutMs: 90_000 })
    await net.waitForHeight(after.height!, { timeoutMs: 90_000 })

    // Errors name the node, the height and each node's head.
    const err = await t.throwsAsync(net.waitForHeight(1_000_000, { timeoutMs: 500 }), { instanceOf: TestkitTimeoutError })
    t.regex(err!.message, /height 1000000 on every one of hospital-a, .*regulator: heads hospital-a=\d+\/[0-9a-f]{12}/)
    t.throws(() => net.node('nobody'), { message: 'no node "nobody" in this devnet (nodes: hospital-a, hospital-b, hospital-c, ministry, regulator)' })
  } finally {
    await net.stop()
  }
  const pids = net.nodes.map(n => n.daemon.proc?.pid)
  t.true(net.nodes.every(n => !n.running), 'every daemon is gone after stop')
  t.false(await access(net.dir).then(() => true, () => false), `${net.dir} is removed`)
  t.is(pids.length, 5)
})

test.serial('governance through the testkit: a standby is added and votes, a validator is removed and cut off', async t => {
  t.timeout(6 * 60_000)
  const net = await Devnet.start({ validators: 4, observers: 0, standby: 1, relays: false })
  try {
    t.is(net.node('hospital-d').role, 'standby')
    await net.waitForHeight(1, { timeoutMs: 90_000 })
    const added = await net.addValidator('hospital-d')
    t.is(added.effective, added.includedAt + 2)
    t.deepEqual(net.validators.map(n => n.name), ['hospital-a', 'hospital-b', 'hospital-c', 'ministry', 'hospital-d'])
    const set = await net.node('hospital-a').validators()
    t.is(set.validators.length, 5)
    // With two of five down, finality needs hospital-d's vote.
    await net.node('ministry').kill()
    const res = await net.node('hospital-a').submit([sampleRecord(1)], { timeoutMs: 90_000 })
    t.true(res.height! > added.effective)

    const removed = await net.removeValidator('hospital-b')
    t.is(net.node('hospital-b').role, 'removed')
    t.is((await net.node('hospital-a').validators()).validators.length, 4)
    await net.waitForHeight(removed.effective + 2, { timeoutMs: 90_000 })
    const cut = await net.node('hospital-b').status()
    t.true(cut.height < removed.effective, `the removed validator stays below ${removed.effective} (at ${cut.height})`)
  } finally {
    await net.stop()
  }
})

test('Devnet.start refuses a bad spec before it starts anything', async t => {
  await t.throwsAsync(Devnet.start({ validators: ['a', 'a'] }), { message: /"a" is given twice/ })
  await t.throwsAsync(Devnet.start({ validators: 0 }), { message: /at least one validator/ })
  await t.throwsAsync(Devnet.start({ validators: 1, skip: ['zz'] }), { message: /skip names "zz"/ })
})

test.serial('addValidator promotes a plain observer: its config becomes role = "validator", it restarts and its votes are needed', async t => {
  t.timeout(5 * 60_000)
  const net = await Devnet.start({ validators: ['solo'], observers: ['regulator'], relays: false })
  try {
    await net.waitForHeight(1, { timeoutMs: 90_000 })
    const added = await net.addValidator('regulator')
    t.is(net.node('regulator').role, 'validator')
    t.regex(await readFile(join(net.node('regulator').home, 'config.toml'), 'utf8'), /^role = "validator"$/m)
    // Two validators, quorum 2: nothing is final without the regulator's vote.
    const res = await net.node('solo').submit([sampleRecord(1)], { timeoutMs: 90_000 })
    t.true(res.height! >= added.effective)
    const block = await net.node('solo').request('GET', `/v1/blocks/${res.height!}`)
    const regulatorKey = (await net.node('solo').validators()).validators.find(v => v.name === 'regulator')?.publicKey
    t.true((block.body as { certificate: { signatures: Array<{ validator: string }> } }).certificate.signatures.some(s => s.validator === regulatorKey), 'the promoted observer signed the certificate')
  } finally {
    await net.stop()
  }
})
