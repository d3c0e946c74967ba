import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { encodeBlock } from '../../../src/chain/codec.ts'
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

async function timeRun (syncCommits: boolean, mode: 'commit' | 'preencoded' | 'many'): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'medledger-bench-'))
  const store = await ChainStore.open(dir, { ...STORE_OPTS, syncCommits })
  const start = process.hrtime.bigint()
  if (mode === 'many') {
    for (let i = 0; i < chain.length; i += 10) await store.commitMany(chain.slice(i, i + 10))
  } else {
    for (let i = 0; i < chain.length; i++) await store.commit(chain[i], mode === 'preencoded' ? encoded[i] : undefined)
  }
  const ms = Number(process.hrtime.bigint() - start) / 1e6
  await store.close()
  await rm(dir, { recursive: true, force: true })
  return ms
}

const ROUNDS = 3
console.log(`${BLOCKS} blocks x ${RECORDS} records, ${(blockBytes / 1024).toFixed(0)} KiB per block; best and median of ${ROUNDS} rounds after a warm-up`)
await timeRun(false, 'commit')
for (const mode of ['commit', 'preencoded', 'many'] as const) {
  for (const sync of [true, false]) {
    const times: number[] = []
    for (let r = 0; r < ROUNDS; r++) times.push(await timeRun(sync, mode))
    times.sort((a, b) => a - b)
    const rate = (ms: number) => (BLOCKS * RECORDS / ms * 1000).toFixed(0).padStart(7)
    const name = `${mode === 'commit' ? 'commit(fb)' : mode === 'preencoded' ? 'commit(fb, bytes)' : 'commitMany(10 blocks)'}, ${sync ? 'sync' : 'no sync'}`
    console.log(`${name.padEnd(44)} ${rate(times[0])} / ${rate(times[Math.floor(ROUNDS / 2)])} records/s  ${(times[0] / BLOCKS).toFixed(2).padStart(6)} ms/block`)
  }
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
