import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import test, { type ExecutionContext } from 'ava'
import { Level } from 'level'
import { encodeBlock, encodeCertificate } from '../../../src/chain/codec.ts'
import { blockHash, evidenceHash, recordId } from '../../../src/chain/hashing.ts'
import type { FinalizedBlock } from '../../../src/chain/types.ts'
import { bytesEqual, heightFromKey } from '../../../src/encoding/bytes.ts'
import { Bucket, ChainStore } from '../../../src/storage/index.ts'
import { GENESIS_TIP, nextFinalized, type SampleOptions, STORE_OPTS, tempDir, type Tip, tipOf } from './sample.ts'

const CHILD = fileURLToPath(new URL('./store-child.ts', import.meta.url))
const KILLS = 20
const SAMPLE: SampleOptions = { records: 300, recordsPerBatch: 100, evidenceEvery: 5 }

interface Run { opened: number, lastCommitted: number, lastLine: string, delay: number }

/** Starts a committing child, waits for its first commit, kills it -9 after a random delay. */
async function runAndKill (dir: string): Promise<Run> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, 'commit', dir, String(SAMPLE.records), String(SAMPLE.evidenceEvery)], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', d => { stderr += String(d) })
  const run: Run = { opened: -1, lastCommitted: 0, lastLine: '', delay: 20 + Math.floor(Math.random() * 281) }
  let killTimer: NodeJS.Timeout | undefined
  const watchdog = setTimeout(() => child.kill('SIGKILL'), 10_000)
  createInterface({ input: child.stdout }).on('line', line => {
    run.lastLine = line
    const [what, h] = line.split(' ')
    if (what === 'open') run.opened = Number(h)
    if (what === 'committed') {
      run.lastCommitted = Math.max(run.lastCommitted, Number(h))
      killTimer ??= setTimeout(() => child.kill('SIGKILL'), run.delay)
    }
  })
  const [, signal] = await once(child, 'close') as [number | null, NodeJS.Signals | null]
  clearTimeout(watchdog)
  clearTimeout(killTimer)
  if (signal !== 'SIGKILL' || killTimer === undefined) throw new Error(`the child ended on its own (signal ${signal}): ${stderr}`)
  return run
}

/** Blocks (tip, head] are exactly the deterministic chain, with every index entry. */
async function checkNewBlocks (t: ExecutionContext, store: ChainStore, tip: Tip): Promise<Tip> {
  for await (const fb of store.iterateFinalized(tip.height + 1, Number.MAX_SAFE_INTEGER)) {
    const expected = nextFinalized(tip, SAMPLE)
    const height = expected.block.header.height
    if (fb.block.header.height !== height) return t.fail(`expected block ${height}, read ${fb.block.header.height}`) as never
    // Canonical encodings are equal exactly when the values are (and compare far faster than deepEqual).
    t.true(bytesEqual(encodeBlock(fb.block), encodeBlock(expected.block)), `block ${height} is the one the child wrote`)
    t.true(bytesEqual(encodeCertificate(fb.certificate), encodeCertificate(expected.certificate)), `certificate ${height} is the one the child wrote`)
    t.is(await store.getHeightByHash(fb.certificate.blockHash), height)
    await Promise.all(fb.block.body.batches.flatMap((batch, bi) => batch.records.map(async (r, ri) => {
      const loc = await store.getRecordLocation(recordId(r))
      if (loc?.height !== height || loc.batchIndex !== bi || loc.recordIndex !== ri) t.fail(`record ${height}/${bi}/${ri} is indexed at ${JSON.stringify(loc)}`)
    })))
    for (const e of fb.block.body.evidence) t.is((await store.getCommittedEvidence(evidenceHash(e)))?.height, height)
    tip = tipOf(fb)
  }
  return tip
}

/** Nothing of the block after the head (the one a killed child may have been writing) is visible. */
async function checkNothingAbove (t: ExecutionContext, store: ChainStore, tip: Tip): Promise<void> {
  const next: FinalizedBlock = nextFinalized(tip, SAMPLE)
  const height = tip.height + 1
  t.is(await store.getBlockBytes(height), undefined)
  t.is(await store.getCertificate(height), undefined)
  t.is(await store.getHeightByHash(blockHash(next.block.header)), undefined)
  const found = await Promise.all(next.block.body.batches.flatMap(b => b.records.map(r => store.getRecordLocation(recordId(r)))))
  t.is(found.filter(l => l !== undefined).length, 0, `records of block ${height} are indexed`)
  for (const e of next.block.body.evidence) t.is(await store.getCommittedEvidence(evidenceHash(e)), undefined)
}

/** Whole-database scan: every bucket holds exactly what heights 1..head put there. */
async function checkCounts (t: ExecutionContext, dir: string, head: number): Promise<void> {
  const db = new Level<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' })
  const sub = (name: string) => db.sublevel<Uint8Array, Uint8Array>(name, { keyEncoding: 'view', valueEncoding: 'view' })
  try {
    const count = async (name: string, height: (v: Uint8Array, k: Uint8Array) => number) => {
      let n = 0
      for await (const [k, v] of sub(name).iterator()) {
        if (height(v, k) > head) t.fail(`bucket ${name} holds an entry for height ${height(v, k)} above the head ${head}`)
        n++
      }
      return n
    }
    t.is(await count(Bucket.blocks, (_, k) => heightFromKey(k)), head)
    t.is(await count(Bucket.certificates, (_, k) => heightFromKey(k)), head)
    t.is(await count(Bucket.hashIndex, v => heightFromKey(v)), head)
    t.is(await count(Bucket.recordIndex, v => heightFromKey(v)), head * SAMPLE.records!)
    t.is(await count(Bucket.evidence, v => heightFromKey(v)), Math.floor(head / SAMPLE.evidenceEvery!))
  } finally {
    await db.close()
  }
}

test('kill -9 at random moments keeps every acknowledged block and never shows a partial one', async t => {
  t.timeout(60_000)
  const dir = await tempDir(t)
  let tip = GENESIS_TIP
  let inFlight = 0
  let checking = 0
  const started = Date.now()
  for (let i = 0; i < KILLS; i++) {
    const run = await runAndKill(dir)
    t.is(run.opened, tip.height, 'the child continued from the checked head')
    if (run.lastLine.startsWith('writing')) inFlight++
    const checkStart = Date.now()
    const store = await ChainStore.open(dir, STORE_OPTS)
    try {
      const head = store.head
      if (head === null) return t.fail('no head after a child reported a commit')
      t.true(head.height >= run.lastCommitted, `head ${head.height} lost acknowledged block ${run.lastCommitted}`)
      const newTip = await checkNewBlocks(t, store, tip)
      t.is(newTip.height, head.height, 'every block up to the head is present with its certificate')
      t.true(bytesEqual(newTip.hash, head.hash), 'the head names the last block')
      await checkNothingAbove(t, store, newTip)
      t.log(`run ${i + 1}: killed ${run.delay} ms after the first commit, head ${tip.height} -> ${head.height}, last line "${run.lastLine}"`)
      tip = newTip
    } finally {
      await store.close()
      checking += Date.now() - checkStart
    }
  }
  await checkCounts(t, dir, tip.height)
  t.log(`${KILLS} kills, ${inFlight} with a commit in flight; ${tip.height} blocks of ${SAMPLE.records} records in ${Date.now() - started} ms, ${checking} ms of it checking`)
})
