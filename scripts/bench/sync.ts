import { join } from 'node:path'
import { Genesis } from '../../src/chain/genesis.ts'
import { buildBlock } from '../../src/chain/block-builder.ts'
import { blockHash, voteSignBytes } from '../../src/chain/hashing.ts'
import { encodeRecord } from '../../src/chain/codec.ts'
import { VoteType, type Certificate, type FinalizedBlock } from '../../src/chain/types.ts'
import { ChainVerifier, genesisTip } from '../../src/chain/verifier.ts'
import { fixedSchedule } from '../../src/chain/validator-schedule.ts'
import { VerifyPool } from '../../src/crypto/verify-pool.ts'
import type { NodeKey } from '../../src/crypto/ed25519.ts'
import { bytesCompare, toHex } from '../../src/encoding/bytes.ts'
import { readKeyFile } from '../../src/keys/key-file.ts'
import { sealBatch } from '../../src/node/records.ts'
import { ChainStore } from '../../src/storage/index.ts'
import type { ParentLink } from '../../src/chain/validate.ts'
import { Cluster } from './cluster.ts'
import { chainRecords } from './records.ts'
import { du, log, request, sleep } from './util.ts'

export interface BuiltChain { height: number, records: number, batches: number, encodedRecordBytes: number, ms: number }

/**
 * Builds a valid chain offline, straight into a ChainStore: batches signed with sealBatch by the
 * validators in turn, blocks from buildBlock, certificates signed by all validators, committed
 * with commitMany in runs.
 */
export async function buildChain (o: { dataDir: string, genesis: Genesis, keys: NodeKey[], records: number, batch: number, batchesPerBlock: number }): Promise<BuiltChain> {
  const t0 = performance.now()
  const { genesis } = o
  const chainId = genesis.chainId
  const validators = genesis.validators
  const byKey = new Map(o.keys.map(k => [toHex(k.publicKey), k]))
  const signers = [...o.keys].sort((a, b) => bytesCompare(a.publicKey, b.publicKey))
  const store = await ChainStore.open(o.dataDir, { chainId, genesisHash: genesis.hash, syncCommits: false })
  let parent: ParentLink = { height: 0, hash: genesis.hash, time: genesis.genesisTime }
  let lastCommit: Certificate | null = null
  let made = 0
  let batches = 0
  let encodedBytes = 0
  let run: FinalizedBlock[] = []
  let runRecords = 0
  while (made < o.records) {
    const height = parent.height + 1
    const bs = []
    for (let j = 0; j < o.batchesPerBlock && made < o.records; j++) {
      const author = signers[batches % signers.length]
      const n = Math.min(o.batch, o.records - made)
      const recs = chainRecords(n, author.publicKey, parent.time)
      if (batches === 0) encodedBytes = encodeRecord(recs[0]).length
      bs.push(sealBatch(chainId, author, recs).batch)
      made += n
      batches++
    }
    const block = buildBlock({ chainId, parent, round: 0, proposer: validators.proposer(height, 0), validators, batches: bs, lastCommit, evidence: [], now: parent.time + 1 })
    const hash = blockHash(block.header)
    const message = voteSignBytes(chainId, { type: VoteType.PRECOMMIT, height, round: 0, blockHash: hash })
    const certificate: Certificate = { height, round: 0, blockHash: hash, signatures: signers.map(k => ({ validator: k.publicKey, signature: (byKey.get(toHex(k.publicKey)) as NodeKey).sign(message) })) }
    run.push({ block, certificate })
    runRecords += bs.reduce((n, b) => n + b.records.length, 0)
    parent = { height, hash, time: block.header.time }
    lastCommit = certificate
    if (runRecords >= 50_000 || made >= o.records) {
      await store.commitMany(run)
      run = []
      runRecords = 0
    }
  }
  await store.close()
  return { height: parent.height, records: made, batches, encodedRecordBytes: encodedBytes, ms: performance.now() - t0 }
}

export interface SyncResult {
  chain: BuiltChain
  batch: number
  /** Records per second from the observer's ready to its head reaching the chain's height. */
  recordsPerSec: number
  syncMs: number
  /** The source node (holding the whole chain) from start to /readyz 200. */
  sourceReadyMs: number
  observerReadyMs: number
  /** The source from start to its API answering (node started; /readyz also waits for a peer). */
  sourceApiUpMs: number
  /** The source restarted after the run (its state saved by the first start): start to API up. */
  sourceRestartApiUpMs: number
  /** Observer CPU (all threads) per synced record, µs. */
  observerCpuPerRecordUs: number
  sourceCpuPerRecordUs: number
  observerRssMaxBytes: number
  sourceRssMaxBytes: number
  diskBytesPerRecord: number
  sourceDiskBytesPerRecord: number
  /** The same blocks through ChainVerifier.verifyRun + ChainStore.commitMany in this process. */
  inProcess?: { recordsPerSec: number, verifyMs: number, commitMs: number, readMs: number, records: number }
  completed: boolean
}

/**
 * Observer sync from scratch: a chain built offline into one validator's store, that validator
 * started alone as the source, and a fresh observer daemon catching up over the network.
 */
export async function measureSync (o: { records: number, batch: number, batchesPerBlock: number, timeoutMs: number, inProcessRecords: number, profileDir?: string }): Promise<SyncResult> {
  const cluster = await Cluster.create({ validators: ['v1', 'v2', 'v3', 'v4'], observers: ['obs'] })
  try {
    const genesis = await Genesis.load(join(cluster.dir, 'genesis.json'))
    const keys = await Promise.all(cluster.validators.map(async d => await readKeyFile(join(d.node.home, 'node.key'))))
    const source = cluster.validators[0]
    const observer = cluster.observers[0]
    log(`sync: building a chain of ${o.records} records in batches of ${o.batch}`)
    const chain = await buildChain({ dataDir: join(source.node.home, 'data'), genesis, keys, records: o.records, batch: o.batch, batchesPerBlock: o.batchesPerBlock })
    log(`sync: built ${chain.height} blocks in ${(chain.ms / 1000).toFixed(1)} s; starting the source and a fresh observer`)
    if (o.profileDir !== undefined) for (const d of [source, observer]) d.nodeArgs = ['--cpu-prof', `--cpu-prof-dir=${join(o.profileDir, `sync-b${o.batch}-${d.node.name}`)}`]
    const t0 = performance.now()
    await cluster.start([source, observer])
    const tReady = performance.now()
    const cpu0 = await cluster.cpuByNode()
    let completed = false
    let height = 0
    while (performance.now() - tReady < o.timeoutMs) {
      height = (await cluster.status(observer))?.height ?? height
      if (height >= chain.height) { completed = true; break }
      await sleep(100)
    }
    const syncMs = performance.now() - tReady
    const cpu1 = await cluster.cpuByNode()
    const syncedRecords = completed ? chain.records : Math.round(chain.records * height / chain.height)
    const cpuUs = (d: typeof source): number => ((cpu1[d.node.name] ?? NaN) - (cpu0[d.node.name] ?? NaN)) * 1e6 / Math.max(1, syncedRecords)
    await cluster.sample()
    const stats = cluster.stats()
    await cluster.stop()
    // A restart: the first start after an offline build scans the chain once (state it then saves).
    const tRestart = performance.now()
    source.nodeArgs = []
    source.start()
    let restartMs = NaN
    while (source.running && performance.now() - tRestart < 60_000) {
      const r = await request(`${source.api}/livez`, { timeoutMs: 1000 }).catch(() => undefined)
      if (r?.status === 200) { restartMs = performance.now() - tRestart; break }
      await sleep(25)
    }
    await cluster.stop([source])
    const obsDisk = (await du(join(observer.node.home, 'data'))).apparent
    const srcDisk = (await du(join(source.node.home, 'data'))).apparent
    log(`sync: observer at ${height}/${chain.height} after ${(syncMs / 1000).toFixed(1)} s (${completed ? 'complete' : 'TIMED OUT'})`)
    const res: SyncResult = {
      chain,
      batch: o.batch,
      recordsPerSec: syncedRecords * 1000 / syncMs,
      syncMs,
      sourceReadyMs: cluster.readyMs.get(source.node.name) ?? tReady - t0,
      observerReadyMs: cluster.readyMs.get(observer.node.name) ?? tReady - t0,
      sourceApiUpMs: cluster.apiUpMs.get(source.node.name) ?? NaN,
      sourceRestartApiUpMs: restartMs,
      observerCpuPerRecordUs: cpuUs(observer),
      sourceCpuPerRecordUs: cpuUs(source),
      observerRssMaxBytes: stats.find(s => s.name === observer.node.name)?.rssMaxBytes ?? NaN,
      sourceRssMaxBytes: stats.find(s => s.name === source.node.name)?.rssMaxBytes ?? NaN,
      diskBytesPerRecord: completed ? obsDisk / chain.records : NaN,
      sourceDiskBytesPerRecord: srcDisk / chain.records,
      completed
    }
    if (o.inProcessRecords > 0) res.inProcess = await verifyInProcess(join(source.node.home, 'data'), join(cluster.dir, 'inproc-data'), genesis, o.inProcessRecords)
    return res
  } finally {
    await cluster.remove()
  }
}

/** Reads blocks from one store, verifies them with ChainVerifier.verifyRun and commits them to a fresh store. */
async function verifyInProcess (fromDir: string, toDir: string, genesis: Genesis, maxRecords: number): Promise<NonNullable<SyncResult['inProcess']>> {
  const src = await ChainStore.open(fromDir, { chainId: genesis.chainId, genesisHash: genesis.hash })
  const dst = await ChainStore.open(toDir, { chainId: genesis.chainId, genesisHash: genesis.hash })
  const pool = new VerifyPool()
  const verifier = new ChainVerifier(genesis.chainId, fixedSchedule(genesis.validators), pool, dst)
  let tip = genesisTip(genesis.hash, genesis.genesisTime)
  let records = 0
  let verifyMs = 0
  let commitMs = 0
  let readMs = 0
  const head = src.head?.height ?? 0
  let run: FinalizedBlock[] = []
  let runRecords = 0
  const flush = async (): Promise<void> => {
    let t = performance.now()
    tip = await verifier.verifyRun(tip, run)
    verifyMs += performance.now() - t
    t = performance.now()
    await dst.commitMany(run)
    commitMs += performance.now() - t
    run = []
    runRecords = 0
  }
  let t = performance.now()
  for await (const fb of src.iterateFinalized(1, head)) {
    readMs += performance.now() - t
    const n = fb.block.body.batches.reduce((s, b) => s + b.records.length, 0)
    run.push(fb)
    runRecords += n
    records += n
    if (runRecords >= 20_000) await flush()
    if (records >= maxRecords) break
    t = performance.now()
  }
  if (run.length > 0) await flush()
  await Promise.all([src.close(), dst.close(), pool.close()])
  return { recordsPerSec: records * 1000 / (verifyMs + commitMs + readMs), verifyMs, commitMs, readMs, records }
}
