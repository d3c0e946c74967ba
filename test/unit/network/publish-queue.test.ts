import test from 'ava'
import { setImmediate as tick } from 'node:timers/promises'
import { PublishQueue } from '../../../src/network/publish-queue.ts'
import { decodeBatchMessage, encodeBatch } from '../../../src/chain/codec.ts'
import { encodeArrayOfEncoded } from '../../../src/encoding/cbor.ts'
import { silentLogger } from '../../../src/logger.ts'
import { sampleBatch, testKey } from '../../helpers/fixtures.ts'

/*
 * The batches lane bundles what is waiting into one message (a CBOR array of the encoded
 * batches), bounded in items and bytes; the consensus lane sends each message alone and first.
 */

function queue (bundleBytes: number, lingerMs?: number): { q: PublishQueue, sent: Array<{ topic: string, data: Uint8Array }> } {
  const sent: Array<{ topic: string, data: Uint8Array }> = []
  const q = new PublishQueue([
    { name: 'consensus', topic: 'c', maxMessages: 100, maxBytes: 1e6 },
    { name: 'batches', topic: 'b', maxMessages: 100, maxBytes: 1e6, bundle: { maxItems: 3, maxBytes: bundleBytes, wrap: encodeArrayOfEncoded }, lingerMs }
  ], 1e6, { logger: silentLogger, publish: async (topic, data) => { sent.push({ topic, data }) }, backlog: () => 0 })
  return { q, sent }
}

test('waiting batches go out bundled, at most maxItems per message, consensus first', async t => {
  const { q, sent } = queue(1e6)
  const batches = Array.from({ length: 5 }, (_, i) => sampleBatch(testKey(1), 1, i))
  for (const b of batches) q.push('batches', encodeBatch(b))
  q.push('consensus', Uint8Array.of(1))
  q.push('consensus', Uint8Array.of(2))
  q.start()
  await tick()
  t.deepEqual(sent.map(s => s.topic), ['c', 'c', 'b', 'b'])
  const bundles = sent.filter(s => s.topic === 'b').map(s => decodeBatchMessage(s.data))
  t.deepEqual(bundles.map(b => b.length), [3, 2])
  t.deepEqual(bundles.flat(), batches)
  q.stop()
})

test('a bundle stays under maxBytes; a lone item larger than it still goes, alone', async t => {
  const small = encodeBatch(sampleBatch(testKey(1), 1))
  const { q, sent } = queue(small.length * 2 + 1)
  const big = encodeBatch(sampleBatch(testKey(1), 20))
  for (const item of [small, small, small, big, small]) q.push('batches', item)
  q.start()
  await tick()
  t.deepEqual(sent.map(s => decodeBatchMessage(s.data).length), [2, 1, 1, 1])
  q.stop()
})

test('with a linger, batches wait for company (a full bundle goes at once); consensus never waits', async t => {
  const { q, sent } = queue(1e6, 200)
  q.start()
  const item = (i: number): Uint8Array => encodeBatch(sampleBatch(testKey(1), 1, i))
  q.push('batches', item(0))
  q.push('batches', item(1))
  q.push('consensus', Uint8Array.of(1))
  await tick()
  t.deepEqual(sent.map(s => s.topic), ['c'], 'the consensus message went alone, the batches wait')
  q.push('batches', item(2))
  await tick()
  t.deepEqual(sent.map(s => s.topic), ['c', 'b'], 'three batches fill a bundle: sent without waiting')
  q.push('batches', item(3))
  await new Promise(resolve => setTimeout(resolve, 100))
  t.is(sent.length, 2)
  await new Promise(resolve => setTimeout(resolve, 150))
  t.is(sent.length, 3, 'the lone batch went when its linger ran out')
  t.deepEqual(decodeBatchMessage(sent[2].data).length, 1)
  q.stop()
})
