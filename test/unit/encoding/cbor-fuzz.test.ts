import test from 'ava'
import fc from 'fast-check'
import { decodeCbor, encodeCbor } from '../../../src/encoding/cbor.ts'
import { bytesEqual } from '../../../src/encoding/bytes.ts'
import { decodeOrCodecError } from './codec-error.ts'

/*
 * Untrusted bytes: the decoder either returns a value whose canonical encoding is exactly the
 * input, or throws a CodecError. Nothing else escapes, whatever the input.
 */

const MAX = 4096

// Initial bytes of every major type and the edge additional-info values, so random input reaches
// deep into the parser instead of stopping at the first byte.
const HEADS = [
  0x00, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1f, 0x20, 0x38, 0x3b, 0x40, 0x41, 0x58, 0x5a, 0x5f,
  0x60, 0x61, 0x78, 0x7f, 0x80, 0x81, 0x82, 0x83, 0x86, 0x98, 0x9f, 0xa0, 0xa1, 0xbf, 0xc0, 0xc2,
  0xd8, 0xe0, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa, 0xfb, 0xff
]
const cborish = fc.array(fc.oneof(fc.constantFrom(...HEADS), fc.integer({ min: 0, max: 255 })), { maxLength: 200 })
  .map(xs => new Uint8Array(xs))

const acceptsOnlyCanonical = (bytes: Uint8Array): boolean => {
  const v = decodeOrCodecError(b => decodeCbor(b, MAX), bytes)
  return v === undefined || bytesEqual(encodeCbor(v), bytes)
}

test('random bytes: a canonical value or a CodecError, nothing else', t => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), acceptsOnlyCanonical), { numRuns: 3000 })
  t.pass()
})

test('CBOR-shaped random bytes: a canonical value or a CodecError, nothing else', t => {
  fc.assert(fc.property(cborish, acceptsOnlyCanonical), { numRuns: 5000 })
  t.pass()
})
