import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { encodeBlock } from '../../../src/chain/codec.ts'
import type { FinalizedBlock } from '../../../src/chain/types.ts'
import { ChainStore } from '../../../src/storage/index.ts'
import { sampleChain, STORE_OPTS } from './sample.ts'

/**
 * Commit throughput (not a test): `node --import tsx test/unit/storage/commit-bench.ts [blocks] [records]`.
 * Blocks are built first; the timings cover commit() only: encoding (unless pre-encoded), record
 * ids, the batch and the write.
 */
const BLOCKS = Number(process.argv[2] ?? 200)
const RECORDS = Number(process.argv[3] ?? 1000)

const chain = sampleChain(BLOCKS, { records: RECORDS, recordsPerBatch: 100, payloadBytes: 200 })
const encoded = chain.map(fb => encodeBlock(fb.block))
const blockBytes = encoded.reduce((s, b) => s + b.length, 0) / BLOCKS

async function measure (name: string, syncCommits: boolean, write: (s: ChainStore, fb: FinalizedBlock, i: number) => Promise<void>, group = 1): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'medledger-bench-'))
  const store = await ChainStore.open(dir, { ...STORE_OPTS, syncCommits })
  const start = process.hrtime.bigint()
  if (group === 1) {
    for (let i = 0; i < chain.length; i++) await write(store, chain[i], i)
  } else {
    for (let i = 0; i < chain.length; i += group) await store.commitMany(chain.slice(i, i + group))
  }
  const ms = Number(process.hrtime.bigint() - start) / 1e6
  await store.close()
  await rm(dir, { recursive: true, force: true })
  const records = BLOCKS * RECORDS
  console.log(`${name.padEnd(44)} ${(records / ms * 1000).toFixed(0).padStart(7)} records/s  ${(ms / BLOCKS).toFixed(2).padStart(6)} ms/block`)
}

console.log(`${BLOCKS} blocks x ${RECORDS} records, ${(blockBytes / 1024).toFixed(0)} KiB per block (first round warms the JIT)`)
for (const sync of [true, false, true, false]) {
  const s = sync ? 'sync' : 'no sync'
  await measure(`commit(fb), ${s}`, sync, (st, fb) => st.commit(fb))
  await measure(`commit(fb, preencoded), ${s}`, sync, (st, fb, i) => st.commit(fb, encoded[i]))
  await measure(`commitMany(10 blocks), ${s}`, sync, async () => {}, 10)
}

// The double-sign guard sits on the vote path: one flushed write before each signature leaves.
{
  const dir = await mkdtemp(join(tmpdir(), 'medledger-bench-'))
  const store = await ChainStore.open(dir, STORE_OPTS)
  const n = 2000
  const start = process.hrtime.bigint()
  for (let i = 0; i < n; i++) await store.putLastSigned({ height: 1 + Math.floor(i / 3), round: 0, step: i % 3 })
  const ms = Number(process.hrtime.bigint() - start) / 1e6
  await store.close()
  await rm(dir, { recursive: true, force: true })
  console.log(`${'putLastSigned (sync), sequential'.padEnd(44)} ${(n / ms * 1000).toFixed(0).padStart(7)} writes/s   ${(ms / n).toFixed(3).padStart(6)} ms/write`)
}
