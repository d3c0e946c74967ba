import test from 'ava'
import { RecordIdMap } from '../../../src/chain/record-id-map.ts'
import { sha256 } from '../../../src/crypto/hash.ts'

const id = (i: number): Uint8Array => sha256(new TextEncoder().encode(`record-${i}`))

test('ids map to their values; an id set again keeps one entry', t => {
  const m = new RecordIdMap<number>()
  for (let i = 0; i < 1000; i++) m.set(id(i), i)
  for (let i = 0; i < 1000; i++) t.is(m.get(id(i)), i)
  t.is(m.get(id(1000)), undefined)
  t.false(m.has(id(1000)))
  // Equal bytes in another array are the same id.
  m.set(Uint8Array.from(id(5)), 55)
  t.is(m.get(id(5)), 55)
  t.is(m.size, 1000)
})

test('ids that share a bucket are told apart by their full bytes', t => {
  // These differ only in the two low bits of the last byte, which no bucket key reads.
  const base = id(1)
  const twins = [0, 1, 2, 3].map(b => { const x = Uint8Array.from(base); x[31] = (x[31] & 0xfc) | b; return x })
  const m = new RecordIdMap<number>()
  twins.forEach((x, i) => { t.false(m.has(x)); m.set(x, i) })
  twins.forEach((x, i) => { t.is(m.get(x), i) })
  t.is(m.size, 4)
})
