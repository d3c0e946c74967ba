import test from 'ava'
import { decodeSnapshot, encodeSnapshot } from '../../../src/backup/stream.ts'

const entries = (n: number): Array<[Uint8Array, Uint8Array]> => Array.from({ length: n }, (_, i) => [new TextEncoder().encode(`!b!${String(i).padStart(6, '0')}`), new Uint8Array(300 + (i % 7) * 1000).fill(i % 251)])

async function * pages (all: Array<[Uint8Array, Uint8Array]>): AsyncGenerator<Array<[Uint8Array, Uint8Array]>> {
  for (let i = 0; i < all.length; i += 100) yield all.slice(i, i + 100)
}

async function encoded (all: Array<[Uint8Array, Uint8Array]>): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  for await (const c of encodeSnapshot(pages(all))) parts.push(c)
  return Buffer.concat(parts)
}

/** The bytes in pieces of `size`, as a network delivers them. */
async function * inPieces (bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size)
}

test('every entry comes back, in order, whatever the chunking; the end frame counts them', async t => {
  const all = entries(2_500)
  const bytes = await encoded(all)
  for (const size of [1, 7, 4096, 1 << 20]) {
    if (size === 1 && bytes.length > 200_000) {
      // Byte by byte over the first 200 kB is enough to cross frame boundaries everywhere.
      const head = await encoded(all.slice(0, 50))
      const got: Array<[Uint8Array, Uint8Array]> = []
      await decodeSnapshot(inPieces(head, 1), async p => { got.push(...p) })
      t.is(got.length, 50)
      continue
    }
    const got: Array<[Uint8Array, Uint8Array]> = []
    const summary = await decodeSnapshot(inPieces(bytes, size), async p => { got.push(...p) })
    t.is(summary.entries, all.length)
    t.is(summary.bytes, bytes.length)
    t.deepEqual(got.map(([k]) => Buffer.from(k).toString()), all.map(([k]) => Buffer.from(k).toString()))
    t.true(got.every(([, v], i) => Buffer.from(v).equals(Buffer.from(all[i][1]))))
  }
})

test('a stream cut short, altered, extended or of another kind is refused', async t => {
  const bytes = await encoded(entries(300))
  const decode = async (b: Uint8Array): Promise<unknown> => await decodeSnapshot(inPieces(b, 65_536), async () => {})
  await t.throwsAsync(decode(bytes.subarray(0, bytes.length - 1)), { message: /ended before its end frame: the copy is incomplete/ })
  await t.throwsAsync(decode(bytes.subarray(0, bytes.length / 2)), { message: /ended before its end frame/ })
  const altered = Buffer.from(bytes)
  altered[1_000] ^= 1
  await t.throwsAsync(decode(altered), { message: /does not match its digest|snapshot entry of/ })
  await t.throwsAsync(decode(Buffer.concat([bytes, Buffer.from([0])])), { message: /bytes after the end/ })
  await t.throwsAsync(decode(Buffer.from('PK\x03\x04 not a snapshot at all, just bytes')), { message: /not a medledger snapshot stream/ })
})
