/**
 * A record already on the chain cannot be written again, in any place of a batch (docs/protocol.md
 * section 9, "Records appear once"): a real daemon refuses the submission with RECORD_DUPLICATE
 * and the record keeps its one place in the index (its proof still names the block it was first
 * written in). Before, only a batch's first record was checked: a final record behind a new one was
 * written a second time and its index entry moved to the new block.
 */
import test from 'ava'
import { sampleRecord, startDevnet, waitForHeight } from '../helpers/devnet.ts'

test('a final record sent again behind a new one is refused, and keeps its place', async t => {
  const [d] = await startDevnet(t, { validators: ['solo'], observers: [], heartbeatMs: 1000 })
  await waitForHeight([d], 1)
  const t0 = Date.now() // record timestamps must be within the node's window (10 min)
  const old = { ...sampleRecord(1), timestamp: t0 }
  const first = await d.submit([old])
  t.is(first.status, 200)
  const oldId = first.body.ids![0]
  const where = async (id: string): Promise<number | undefined> => {
    const res = await fetch(`${d.api}/v1/records/${id}`)
    return res.status === 200 ? (await res.json() as { block: { header: { height: number } } }).block.header.height : undefined
  }
  const placed = await where(oldId)
  t.is(placed, first.body.height)

  const again = await d.submit([{ ...sampleRecord(2), timestamp: t0 + 1 }, old])
  t.is(again.status, 409)
  t.is(again.body.error?.code, 'RECORD_DUPLICATE')
  // The new record alone is written, and the old one has not moved.
  const fresh = await d.submit([{ ...sampleRecord(2), timestamp: t0 + 1 }])
  t.is(fresh.status, 200)
  t.true(fresh.body.height! > placed!)
  t.is(await where(oldId), placed)
})
