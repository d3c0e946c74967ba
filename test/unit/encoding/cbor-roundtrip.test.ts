import test from 'ava'
import fc from 'fast-check'
import { type Cbor, decodeCbor, encodeCbor } from '../../../src/encoding/cbor.ts'
import { bytesEqual, toHex } from '../../../src/encoding/bytes.ts'

/*
 * Every value of the supported model (null, booleans, safe integers, text, bytes, arrays up to
 * 16 deep) encodes to one byte string, decodes back to itself, and is accepted by the strict
 * decoder: the encoder only ever produces canonical bytes.
 */

const MAX = 1 << 20

const leaf: fc.Arbitrary<Cbor> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.maxSafeInteger(),
  fc.integer({ min: -1000, max: 1000 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.uint8Array({ maxLength: 300 })
)

const value: fc.Arbitrary<Cbor> = fc.letrec<{ v: Cbor }>(tie => ({
  v: fc.oneof({ depthSize: 'small', maxDepth: 6 }, leaf, fc.array(tie('v'), { maxLength: 5 }))
})).v

test('decode(encode(v)) is v, and re-encoding gives the same bytes', t => {
  fc.assert(fc.property(value, v => {
    const bytes = encodeCbor(v)
    const back = decodeCbor(bytes, MAX)
    t.deepEqual(back, v)
    return bytesEqual(encodeCbor(back), bytes)
  }), { numRuns: 500 })
  t.pass()
})

test('encoding is deterministic: a value and a structural copy of it give identical bytes', t => {
  fc.assert(fc.property(value, v => bytesEqual(encodeCbor(v), encodeCbor(structuredClone(v)))), { numRuns: 300 })
  t.pass()
})

test('integers, lengths and simple values use the shortest RFC 8949 form', t => {
  const cases: Array<[Cbor, string]> = [
    [0, '00'], [23, '17'], [24, '1818'], [255, '18ff'], [256, '190100'], [65535, '19ffff'],
    [65536, '1a00010000'], [2 ** 32, '1b0000000100000000'], [Number.MAX_SAFE_INTEGER, '1b001fffffffffffff'],
    [-1, '20'], [-24, '37'], [-25, '3818'], [-(2 ** 53 - 1), '3b001ffffffffffffe'],
    [null, 'f6'], [false, 'f4'], [true, 'f5'],
    ['', '60'], ['a', '6161'], ['é', '62c3a9'], [new Uint8Array(0), '40'], [new Uint8Array([1, 2]), '420102'],
    [[], '80'], [[1, [2, 3]], '8201820203'], [new Array(24).fill(0), '9818' + '00'.repeat(24)]
  ]
  for (const [v, hex] of cases) {
    t.is(toHex(encodeCbor(v)), hex, JSON.stringify(v))
    t.deepEqual(decodeCbor(encodeCbor(v), MAX), v)
  }
})

test('-0 encodes as the integer 0', t => {
  t.is(toHex(encodeCbor(-0)), '00')
})

test('decoded byte strings are copies, not views into the input (a reused network buffer cannot alter them)', t => {
  for (const input of [encodeCbor([new Uint8Array([1, 2, 3])]), Buffer.from(encodeCbor([new Uint8Array([1, 2, 3])]))]) {
    const [b] = decodeCbor(input, MAX) as [Uint8Array]
    input.fill(0)
    t.deepEqual(b, new Uint8Array([1, 2, 3]))
  }
})
