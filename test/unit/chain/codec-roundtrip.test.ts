import test from 'ava'
import fc from 'fast-check'
import { bytesEqual } from '../../../src/encoding/bytes.ts'
import { CODEC_CASES } from './codec-cases.ts'

/*
 * Every chain message: decode(encode(x)) is x, encoding is deterministic (a structural copy
 * encodes to the same bytes), and the decoder accepts exactly the bytes the encoder produced.
 */

for (const c of CODEC_CASES) {
  test(`${c.name}: decode(encode(x)) = x and re-encodes to the same bytes`, t => {
    fc.assert(fc.property(c.arbitrary, x => {
      const bytes = c.encode(x)
      const back = c.decode(bytes)
      t.deepEqual(back, x)
      return bytesEqual(c.encode(back), bytes)
    }), { numRuns: 150 })
    t.pass()
  })

  test(`${c.name}: encoding is deterministic`, t => {
    fc.assert(fc.property(c.arbitrary, x => bytesEqual(c.encode(x), c.encode(structuredClone(x)))), { numRuns: 100 })
    t.pass()
  })
}
