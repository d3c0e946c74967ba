import test from 'ava'
import fc from 'fast-check'
import { bytesEqual } from '../../../src/encoding/bytes.ts'
import { decodeOrCodecError } from '../encoding/codec-error.ts'
import { CODEC_CASES } from './codec-cases.ts'

/*
 * Untrusted bytes at every chain decoder: random bytes, and valid encodings with a byte changed,
 * inserted or deleted, truncated or extended. Each either throws a CodecError or decodes to a
 * value whose encoding is exactly the input (so no two byte strings decode to the same value).
 */

type Mutation = { op: 'set', at: number, byte: number } | { op: 'insert', at: number, byte: number } |
{ op: 'delete', at: number } | { op: 'truncate', at: number } | { op: 'append', extra: Uint8Array }

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('set' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('append' as const), extra: fc.uint8Array({ minLength: 1, maxLength: 8 }) })
)

function mutate (b: Uint8Array, m: Mutation): Uint8Array {
  const at = m.op === 'append' ? 0 : m.at % (b.length + 1)
  switch (m.op) {
    case 'set': { const c = b.slice(); if (at < c.length) c[at] = m.byte === c[at] ? c[at] ^ 0xff : m.byte; return c }
    case 'insert': return new Uint8Array([...b.subarray(0, at), m.byte, ...b.subarray(at)])
    case 'delete': return new Uint8Array([...b.subarray(0, at), ...b.subarray(at + 1)])
    case 'truncate': return b.slice(0, Math.min(at, b.length - 1))
    case 'append': return new Uint8Array([...b, ...m.extra])
  }
}

for (const c of CODEC_CASES) {
  const acceptsOnlyCanonical = (bytes: Uint8Array): boolean => {
    const v = decodeOrCodecError(c.decode, bytes)
    return v === undefined || bytesEqual(c.encode(v), bytes)
  }

  test(`${c.name}: mutated valid encodings give a CodecError or an exact canonical value`, t => {
    fc.assert(fc.property(c.arbitrary, fc.array(mutation, { minLength: 1, maxLength: 3 }), (x, ms) =>
      acceptsOnlyCanonical(ms.reduce(mutate, c.encode(x)))), { numRuns: 300 })
    t.pass()
  })

  test(`${c.name}: random bytes give a CodecError (or, rarely, an exact canonical value)`, t => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), acceptsOnlyCanonical), { numRuns: 500 })
    t.pass()
  })
}
