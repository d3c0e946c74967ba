import test from 'ava'
import { CodecErrorCode, decodeCbor } from '../../../src/encoding/cbor.ts'
import { fromHex } from '../../../src/encoding/bytes.ts'
import { throwsCodec } from './codec-error.ts'

/*
 * The strict decoder refuses every non-canonical or unsupported CBOR form with a CodecError whose
 * code says why: MALFORMED (not well-formed, or a form the decoder will not parse), NOT_CANONICAL
 * (well-formed, but not the shortest encoding of its value), SCHEMA (a type medledger never
 * uses), OVERSIZE (longer than the caller's limit, checked before parsing).
 */

const { MALFORMED, NOT_CANONICAL, SCHEMA, OVERSIZE } = CodecErrorCode

const CASES: Array<[string, string, CodecErrorCode]> = [
  // Integers and lengths must use the shortest form (RFC 8949 4.2.1).
  ['uint 23 in one extra byte', '1817', MALFORMED],
  ['uint 23 in two extra bytes', '190017', MALFORMED],
  ['uint 23 in four extra bytes', '1a00000017', MALFORMED],
  ['uint 23 in eight extra bytes', '1b0000000000000017', MALFORMED],
  ['uint 255 in two extra bytes', '1900ff', MALFORMED],
  ['negative -24 in one extra byte', '3817', MALFORMED],
  ['byte string length in one extra byte', '5801ff', MALFORMED],
  ['text string length in one extra byte', '780161', MALFORMED],
  ['array length in one extra byte', '980101', MALFORMED],
  ['integer beyond 2^53 - 1', '1b0020000000000000', MALFORMED],
  ['negative integer beyond -(2^53 - 1)', '3b001fffffffffffff', MALFORMED],
  ['uint64 max', '1bffffffffffffffff', MALFORMED],
  // Indefinite lengths are never canonical.
  ['indefinite array', '9f01ff', MALFORMED],
  ['indefinite byte string', '5f4101ff', MALFORMED],
  ['indefinite text string', '7f6161ff', MALFORMED],
  ['indefinite map', 'bf0102ff', MALFORMED],
  ['lone break', 'ff', MALFORMED],
  // Floats: integral ones decode to a number that re-encodes shorter; others are not integers.
  ['half float 1.0', 'f93c00', NOT_CANONICAL],
  ['single float 1.0', 'fa3f800000', NOT_CANONICAL],
  ['double float 0.0', 'fb0000000000000000', NOT_CANONICAL],
  ['half float -0.0', 'f98000', NOT_CANONICAL],
  ['half float 1.5', 'f93e00', SCHEMA],
  ['single float 1.5', 'fa3fc00000', SCHEMA],
  ['double float 1.5', 'fb3ff8000000000000', SCHEMA],
  ['NaN', 'f97e00', MALFORMED],
  ['Infinity', 'f97c00', MALFORMED],
  ['-Infinity', 'f9fc00', MALFORMED],
  // Maps are not part of the schema; duplicate keys are refused before that.
  ['map', 'a10102', SCHEMA],
  ['empty map', 'a0', SCHEMA],
  ['map nested in an array', '8201a0', SCHEMA],
  ['map with duplicate keys', 'a201020103', MALFORMED],
  ['map with duplicate text keys', 'a2616101616102', MALFORMED],
  // Other major types and simple values.
  ['undefined', 'f7', MALFORMED],
  ['simple value 0', 'e0', MALFORMED],
  ['simple value 32', 'f820', MALFORMED],
  ['tag 1 (epoch time)', 'c11a00000001', MALFORMED],
  ['tag 2 (bignum)', 'c24101', MALFORMED],
  ['tag 42 (CID)', 'd82a4100', MALFORMED],
  ['reserved additional info 28', '1c', MALFORMED],
  // Framing.
  ['empty input', '', MALFORMED],
  ['trailing byte after an item', '0101', MALFORMED],
  ['trailing byte after an array', '820102ff', MALFORMED],
  ['truncated array', '8201', MALFORMED],
  ['truncated byte string', '4401', MALFORMED],
  ['byte string claiming 2^31 bytes', '5a7fffffff', MALFORMED],
  ['array claiming 2^31 items', '9a7fffffff', MALFORMED],
  // Text must be valid UTF-8: a replacement character would re-encode differently.
  ['invalid UTF-8', '62c328', NOT_CANONICAL],
  ['overlong UTF-8 for "/"', '62c0af', NOT_CANONICAL],
  ['UTF-8 encoded surrogate', '63eda080', NOT_CANONICAL]
]

for (const [name, hex, code] of CASES) {
  test(`refuses ${name} (${hex === '' ? 'no bytes' : hex}) with ${code}`, t => {
    throwsCodec(t, () => decodeCbor(fromHex(hex), 1024), code)
  })
}

test('refuses input longer than the limit before parsing it, with the sizes in the metadata', t => {
  const err = t.throws(() => decodeCbor(new Uint8Array(11).fill(0xff), 10))
  t.is((err as { code?: string }).code, OVERSIZE)
  t.like((err as unknown as { meta: object }).meta, { size: 11, maxBytes: 10 })
  t.notThrows(() => decodeCbor(fromHex('4a00000000000000000000'), 11))
})

test('refuses input that is not a Uint8Array', t => {
  throwsCodec(t, () => decodeCbor('a0' as unknown as Uint8Array, 10), MALFORMED)
  throwsCodec(t, () => decodeCbor([0] as unknown as Uint8Array, 10), MALFORMED)
})

test('refuses nesting deeper than 16 arrays; deep nesting that would overflow the stack is MALFORMED', t => {
  const nested = (depth: number): Uint8Array => { const b = new Uint8Array(depth + 1).fill(0x81); b[depth] = 0x00; return b }
  t.notThrows(() => decodeCbor(nested(16), 1024))
  throwsCodec(t, () => decodeCbor(nested(17), 1024), SCHEMA)
  throwsCodec(t, () => decodeCbor(nested(2_000_000), 4_000_000), MALFORMED)
})
