import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Level } from 'level'
import { encode as cborgEncode } from 'cborg'
import { NodeKey, verifySignature } from '../../src/crypto/ed25519.ts'
import { VerifyPool, type SignatureCheck } from '../../src/crypto/verify-pool.ts'
import { decodeRecord, encodeRecord, recordToCbor } from '../../src/chain/codec.ts'
import { batchSignBytes, recordId } from '../../src/chain/hashing.ts'
import { merkleRoot } from '../../src/merkle/rfc6962.ts'
import { heightKey } from '../../src/encoding/bytes.ts'
import { chainRecords } from './records.ts'
import { CpuWatch, du, median, rate as measureRate } from './util.ts'

export interface RawLimits {
  /** Medians of the timed runs (the fields below are the best runs: the limits). */
  medians: Record<string, number>
  /** Cores other processes kept busy while these were measured. */
  foreignCores: number
  verify1: number
  verifyPool: number
  verifyPoolThreads: number
  sign: number
  sha256of200B: number
  cborEncodeRecord: number
  cborDecodeRecord: number
  recordId: number
  merkleRoot10k: number
  levelSeq: number
  levelRandom: number
  levelBytesPerRecord: number
  encodedRecordBytes: number
  /** Median latency of one LevelDB get awaited on its own (what a loop of awaited lookups pays per item), µs. */
  levelGetSerialUs: number
  /** Median latency of one small LevelDB write flushed to disk (sync: true), ms: consensus pays several per height. */
  levelSyncWriteMs: number
  /** Per-record floor on one core with batches of 1,000: encode + sha256 + LevelDB write once each. */
  floor1: number
}

/** The machine's own limits, measured now (medians of timed runs). */
export async function measureRaw (quick: boolean): Promise<RawLimits> {
  const runs = quick ? 3 : 7
  const minMs = quick ? 150 : 250
  const watch = new CpuWatch(() => [])
  await watch.start()
  const medians: Record<string, number> = {}
  const rate = async (name: string, fn: () => unknown, ops: number, o: { runs: number, minMs: number }): Promise<number> => {
    const r = await measureRate(fn, ops, o)
    medians[name] = r.median
    return r.best
  }
  const key = await NodeKey.generate()
  const [rec] = chainRecords(1, key.publicKey, Date.now())
  const encoded = encodeRecord(rec)
  // A batch signature covers ~130 bytes (domain, chain id, author, root, count): verify that.
  const msg = batchSignBytes('medledger-devnet', key.publicKey, recordId(rec), 1000)
  const sig = key.sign(msg)
  if (!verifySignature(key.publicKey, msg, sig)) throw new Error('raw: signature does not verify')

  const verify1 = await rate('verify1', () => { for (let i = 0; i < 100; i++) verifySignature(key.publicKey, msg, sig) }, 100, { runs, minMs })
  const sign = await rate('sign', () => { for (let i = 0; i < 100; i++) key.sign(msg) }, 100, { runs, minMs })

  // The pool on every core, as nodes use it: one big job split across the workers.
  const pool = new VerifyPool()
  const checks: SignatureCheck[] = []
  for (let i = 0; i < 4000; i++) {
    const m = batchSignBytes('medledger-devnet', key.publicKey, randomBytes(32), i)
    checks.push({ publicKey: key.publicKey, message: m, signature: key.sign(m) })
  }
  const verifyPool = await rate('verifyPool', async () => {
    const ok = await pool.verifyAll(checks)
    if (!ok.every(Boolean)) throw new Error('raw: pool verify failed')
  }, checks.length, { runs, minMs: minMs * 2 })
  const verifyPoolThreads = pool.size
  await pool.close()

  const b200 = randomBytes(200)
  const sha256of200B = await rate('sha256of200B', () => { for (let i = 0; i < 1000; i++) createHash('sha256').update(b200).digest() }, 1000, { runs, minMs })
  const cborEncodeRecord = await rate('cborEncodeRecord', () => { for (let i = 0; i < 1000; i++) cborgEncode(recordToCbor(rec) as never) }, 1000, { runs, minMs })
  const cborDecodeRecord = await rate('cborDecodeRecord', () => { for (let i = 0; i < 1000; i++) decodeRecord(encoded) }, 1000, { runs, minMs })
  const rid = await rate('recordId', () => { for (let i = 0; i < 1000; i++) recordId(rec) }, 1000, { runs, minMs })
  const leaves = Array.from({ length: 10_000 }, () => randomBytes(32))
  const merkleRoot10k = await rate('merkleRoot10k', () => merkleRoot(leaves), 1, { runs, minMs })

  // LevelDB: batches of 1,000 x 300 B, chained batch (the fast form), sequential and random keys.
  const level = async (random: boolean): Promise<{ rate: number, bytesPerRecord: number }> => {
    const dir = await mkdtemp(join(tmpdir(), 'medledger-raw-level-'))
    const db = new Level<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' })
    await db.open()
    const values = Array.from({ length: 1000 }, () => randomBytes(300))
    let n = 0
    const r = await rate(random ? 'levelRandom' : 'levelSeq', async () => {
      const b = db.batch()
      for (let i = 0; i < 1000; i++) b.put(random ? randomBytes(32) : heightKey(n++), values[i])
      await b.write()
    }, 1000, { runs, minMs: minMs * 2 })
    await db.close()
    const total = random ? undefined : n
    const bytes = (await du(dir)).apparent
    await rm(dir, { recursive: true, force: true })
    return { rate: r, bytesPerRecord: total === undefined ? NaN : bytes / total }
  }
  const syncWrite = async (): Promise<number> => {
    const dir = await mkdtemp(join(tmpdir(), 'medledger-raw-sync-'))
    const db = new Level<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' })
    await db.open()
    const times: number[] = []
    const v = randomBytes(100)
    for (let i = 0; i < (quick ? 50 : 200); i++) {
      const t = performance.now()
      const b = db.batch()
      b.put(heightKey(i), v)
      await b.write({ sync: true })
      times.push(performance.now() - t)
    }
    await db.close()
    await rm(dir, { recursive: true, force: true })
    return median(times)
  }
  const levelSyncWriteMs = await syncWrite()
  // Awaited one at a time, as a loop of `await store.getRecordLocation(id)` does.
  const serialGet = async (): Promise<number> => {
    const dir = await mkdtemp(join(tmpdir(), 'medledger-raw-get-'))
    const db = new Level<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' })
    await db.open()
    const keys = Array.from({ length: 20_000 }, () => randomBytes(32))
    for (let i = 0; i < keys.length; i += 1000) {
      const b = db.batch()
      for (const k of keys.slice(i, i + 1000)) b.put(k, randomBytes(12))
      await b.write()
    }
    const times: number[] = []
    for (let round = 0; round < (quick ? 3 : 5); round++) {
      const t = performance.now()
      for (let i = 0; i < 2000; i++) await db.get(i % 2 === 0 ? keys[(i * 7919) % keys.length] : randomBytes(32))
      times.push((performance.now() - t) * 1000 / 2000)
    }
    await db.close()
    await rm(dir, { recursive: true, force: true })
    return Math.min(...times)
  }
  const levelGetSerialUs = await serialGet()
  const seq = await level(false)
  const rnd = await level(true)
  const floor1 = 1 / (1 / cborEncodeRecord + 1 / sha256of200B + 1 / seq.rate)
  const foreignCores = (await watch.stop()).foreignCores
  return {
    medians,
    foreignCores,
    verify1,
    verifyPool,
    verifyPoolThreads,
    sign,
    sha256of200B,
    cborEncodeRecord,
    cborDecodeRecord,
    recordId: rid,
    merkleRoot10k,
    levelSeq: seq.rate,
    levelRandom: rnd.rate,
    levelBytesPerRecord: seq.bytesPerRecord,
    encodedRecordBytes: encoded.length,
    levelSyncWriteMs,
    levelGetSerialUs,
    floor1
  }
}
