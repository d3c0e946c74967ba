import test from 'ava'
import { finalizedToCbor } from '../../../src/chain/codec.ts'
import { encodeCbor } from '../../../src/encoding/cbor.ts'
import { bytesEqual } from '../../../src/encoding/bytes.ts'
import { openStore, sampleChain, tempDir } from './sample.ts'

test('iterateFinalizedBytes serves exactly the canonical encoding of each finalized block, without decoding', async t => {
  const store = await openStore(t, await tempDir(t))
  const chain = sampleChain(12, { records: 5 })
  await store.commitMany(chain)
  const served: Uint8Array[] = []
  for await (const b of store.iterateFinalizedBytes(3, 9)) served.push(b)
  t.is(served.length, 7)
  for (const [i, bytes] of served.entries()) t.true(bytesEqual(bytes, encodeCbor(finalizedToCbor(chain[i + 2]))))
})
