import test from 'ava'
import fc from 'fast-check'
import { bytesCompare } from '../../../src/encoding/bytes.ts'
import { StorageErrorCode } from '../../../src/storage/index.ts'
import {
  compareLastSigned, decodeHead, decodeLastSigned, decodeLocation, encodeHead, encodeLastSigned, encodeLocation,
  encodeCommittedEvidence, splitCommittedEvidence
} from '../../../src/storage/values.ts'
import { openStore, sampleChain, tempDir } from './sample.ts'

const height = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER })
const lastSigned = fc.record({ height, round: fc.integer({ min: 0, max: 0xffffffff }), step: fc.constantFrom(0, 1, 2) })

test('fixed-width values round-trip', t => {
  fc.assert(fc.property(height, fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffff }), (h, bi, ri) => {
    const b = encodeLocation(h, bi, ri)
    return b.length === 12 && JSON.stringify(decodeLocation(b)) === JSON.stringify({ height: h, batchIndex: bi, recordIndex: ri })
  }))
  fc.assert(fc.property(height, fc.uint8Array({ minLength: 32, maxLength: 32 }), (h, hash) => {
    const back = decodeHead(encodeHead({ height: h, hash }))
    return back.height === h && bytesCompare(back.hash, hash) === 0
  }))
  fc.assert(fc.property(lastSigned, ls => JSON.stringify(decodeLastSigned(encodeLastSigned(ls))) === JSON.stringify(ls)))
  fc.assert(fc.property(height, fc.uint8Array({ minLength: 1, maxLength: 64 }), (h, e) => {
    const back = splitCommittedEvidence(encodeCommittedEvidence(h, e))
    return back.height === h && bytesCompare(back.evidenceBytes, e) === 0
  }))
  t.pass()
})

test('the guard order is the byte order of its encoding', t => {
  fc.assert(fc.property(lastSigned, lastSigned, (a, b) =>
    Math.sign(compareLastSigned(a, b)) === Math.sign(bytesCompare(encodeLastSigned(a), encodeLastSigned(b)))))
  t.pass()
})

test('wrong-length stored values are STORAGE_CORRUPT', t => {
  t.throws(() => decodeLocation(new Uint8Array(11)), { code: StorageErrorCode.CORRUPT })
  t.throws(() => decodeHead(new Uint8Array(39)), { code: StorageErrorCode.CORRUPT })
  t.throws(() => decodeLastSigned(new Uint8Array(14)), { code: StorageErrorCode.CORRUPT })
  t.throws(() => splitCommittedEvidence(new Uint8Array(8)), { code: StorageErrorCode.CORRUPT })
})

test('any mix of single commits and runs, with refused out-of-order attempts, ends at the right head', async t => {
  const chain = sampleChain(30, { records: 2 })
  await fc.assert(fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 12 }), fc.boolean(), async (runs, tryGap) => {
    const store = await openStore(t, await tempDir(t))
    let next = 0
    for (const n of runs) {
      const run = chain.slice(next, next + n)
      if (run.length === 0) break
      if (tryGap && next + 1 < chain.length) {
        const refused = await store.commit(chain[next + 1]).then(() => false, () => true)
        if (!refused) return false
      }
      if (run.length === 1) await store.commit(run[0])
      else await store.commitMany(run)
      next += run.length
    }
    const heights: number[] = []
    for await (const fb of store.iterateFinalized(1, 100)) heights.push(fb.block.header.height)
    return store.head?.height === next && heights.length === next && heights.every((h, i) => h === i + 1)
  }), { numRuns: 15 })
  t.pass()
})
