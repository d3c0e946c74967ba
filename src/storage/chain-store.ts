import { decodeBlock, decodeCertificate, decodeEvidence, encodeBlock, encodeEvidence } from '../chain/codec.ts'
import { blockHash, evidenceHash } from '../chain/hashing.ts'
import type { Block, Certificate, Evidence, FinalizedBlock, MedRecord } from '../chain/types.ts'
import { heightFromKey, heightKey, toHex } from '../encoding/bytes.ts'
import { encodeArrayOfEncoded } from '../encoding/cbor.ts'
import { type Buckets, ConsensusKey, LEGACY_OWN_MESSAGES_META_KEY, MetaKey, openBuckets, RESERVED_META_KEYS, type RootDb } from './buckets.ts'
import { checkExtends, loadHead, putBlock } from './commit.ts'
import { isMedledgerError } from '../errors.ts'
import { isStorageFault, StorageError, StorageErrorCode } from './errors.ts'
import { openGuarded, type Identity } from './identity.ts'
import { corruptAdvice, openLevel } from './open.ts'
import {
  compareLastSigned, decodeLastSigned, decodeLocation, encodeHead, encodeLastSigned, type Head, isValidLastSigned,
  type LastSigned, splitCommittedEvidence, type StoredLocation, decodeRecordCount, encodeRecordCount
} from './values.ts'

export interface ChainStoreOptions {
  /** Recorded on first open; a later open with another value fails with STORAGE_GENESIS_MISMATCH. */
  chainId?: string
  /** Recorded on first open; also the parent hash required of block 1. */
  genesisHash?: Uint8Array
  /** The node home to name in operator advice (defaults to dir). */
  home?: string
  /**
   * Flush each commit to disk before it resolves (default true). Without it an acknowledged block
   * survives kill -9 (the write is in the OS) but not a power cut.
   */
  syncCommits?: boolean
}

export interface StoredRecord { record: MedRecord, location: StoredLocation, block: Block, certificate: Certificate }

/**
 * The chain on disk: finalized blocks with their certificates and indexes, the double-sign guard,
 * evidence and small metadata. Each commit is one atomic LevelDB batch that ends with the head
 * pointer, so after a crash the database holds exactly the blocks up to some acknowledged head.
 * Blocks are stored as given: consensus, sync and import verify them before they get here; the
 * store only refuses blocks that do not extend its head.
 */
export class ChainStore {
  readonly dir: string
  readonly #db: RootDb
  readonly #b: Buckets
  readonly #identity: Identity
  readonly #syncCommits: boolean
  readonly #advice: string
  #head: Head | null
  #recordCount: number
  #lastSigned: LastSigned | undefined
  #closed = false
  // The first storage fault met (a failed write or read, corruption): no write is tried after it.
  #fault: StorageError | undefined
  #onFault: ((err: StorageError) => void) | undefined
  // Writes that check cached state (head, guard) run one at a time, in call order.
  #commitQueue: Promise<unknown> = Promise.resolve()
  #guardQueue: Promise<unknown> = Promise.resolve()

  private constructor (dir: string, db: RootDb, b: Buckets, identity: Identity, head: Head | null, recordCount: number, lastSigned: LastSigned | undefined, opts: ChainStoreOptions) {
    this.dir = dir
    this.#db = db
    this.#b = b
    this.#identity = identity
    this.#head = head
    this.#recordCount = recordCount
    this.#lastSigned = lastSigned
    this.#syncCommits = opts.syncCommits ?? true
    this.#advice = corruptAdvice(dir, opts.home ?? dir)
  }

  static async open (dir: string, opts: ChainStoreOptions = {}): Promise<ChainStore> {
    const home = opts.home ?? dir
    const db = await openLevel(dir, home)
    try {
      const b = openBuckets(db)
      const identity = await openGuarded(b, dir, { ...opts, home })
      const head = await loadHead(b, dir, home)
      const [raw, countRaw] = await Promise.all([b.consensus.get(ConsensusKey.lastSigned), b.meta.get(MetaKey.recordCount)])
      let ls: LastSigned | undefined
      let recordCount: number
      try {
        ls = raw === undefined ? undefined : decodeLastSigned(raw)
        if (countRaw === undefined) throw new Error('the record count is missing')
        recordCount = decodeRecordCount(countRaw)
      } catch (err) {
        throw new StorageError(StorageErrorCode.CORRUPT, `${corruptAdvice(dir, home)} (${(err as Error).message})`, { dir })
      }
      return new ChainStore(dir, db, b, identity, head, recordCount, ls, opts)
    } catch (err) {
      await db.close()
      throw err
    }
  }

  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await Promise.allSettled([this.#commitQueue, this.#guardQueue])
    await this.#db.close()
  }

  /**
   * Calls `fn` once, with the first storage fault (I/O error or corruption) any read or write of
   * this store meets while open: the owner stops (docs/storage.md, "Storage faults"). After a
   * fault every commit and guard write is refused with it, so nothing is written past it.
   */
  onFault (fn: (err: StorageError) => void): void {
    this.#onFault = fn
  }

  /** The first storage fault met, if any. */
  get fault (): StorageError | undefined { return this.#fault }

  get head (): Head | null {
    return this.#head === null ? null : { height: this.#head.height, hash: this.#head.hash }
  }

  /** Records in the final blocks 1..head. */
  get recordCount (): number { return this.#recordCount }

  get chainId (): string | undefined { return this.#identity.chainId }
  get genesisHash (): Uint8Array | undefined { return this.#identity.genesisHash }

  // ---- commits ----

  async commit (block: FinalizedBlock, encodedBlock?: Uint8Array): Promise<void> {
    await this.#commitRun([block], encodedBlock === undefined ? undefined : [encodedBlock])
  }

  /** A run of consecutive blocks (sync, import) in one atomic batch; callers bound its size. */
  async commitMany (blocks: FinalizedBlock[]): Promise<void> {
    await this.#commitRun(blocks)
  }

  #commitRun (blocks: FinalizedBlock[], encoded?: Uint8Array[]): Promise<void> {
    return this.#serial('commit', async () => {
      if (blocks.length === 0) return
      // Check the whole run before creating the batch: a refused run writes nothing.
      let head = this.#head
      const checked: Array<{ fb: FinalizedBlock, hash: Uint8Array }> = []
      for (const fb of blocks) {
        const hash = blockHash(fb.block.header)
        checkExtends(head, this.#identity, fb, hash)
        checked.push({ fb, hash })
        head = { height: fb.block.header.height, hash }
      }
      const batch = this.#db.batch()
      let recordCount: number
      try {
        checked.forEach(({ fb, hash }, i) => putBlock(batch, this.#b, fb, hash, encoded?.[i] ?? encodeBlock(fb.block)))
        // The head pointer rides in the same batch: it can never name a block that is not there.
        batch.put(MetaKey.head, encodeHead(head as Head), { sublevel: this.#b.meta })
        recordCount = this.#recordCount + checked.reduce((n, { fb }) => n + fb.block.body.batches.reduce((m, rb) => m + rb.records.length, 0), 0)
        batch.put(MetaKey.recordCount, encodeRecordCount(recordCount), { sublevel: this.#b.meta })
      } catch (err) {
        await batch.close()
        throw err
      }
      await this.#write(batch, this.#syncCommits, `blocks ${checked[0].fb.block.header.height}-${(head as Head).height}`)
      this.#head = head
      this.#recordCount = recordCount
    })
  }

  // ---- block reads ----

  async getBlockBytes (height: number): Promise<Uint8Array | undefined> {
    this.#assertOpen()
    return await this.#io(`block ${height}`, async () => await this.#b.blocks.get(heightKey(height)))
  }

  async getBlock (height: number): Promise<Block | undefined> {
    const bytes = await this.getBlockBytes(height)
    return bytes === undefined ? undefined : this.#decode(decodeBlock, bytes, `block ${height}`)
  }

  async getCertificate (height: number): Promise<Certificate | undefined> {
    this.#assertOpen()
    const bytes = await this.#io(`certificate ${height}`, async () => await this.#b.certificates.get(heightKey(height)))
    return bytes === undefined ? undefined : this.#decode(decodeCertificate, bytes, `certificate ${height}`)
  }

  async getHeightByHash (hash: Uint8Array): Promise<number | undefined> {
    this.#assertOpen()
    const v = await this.#io('the block hash index', async () => await this.#b.hashIndex.get(hash))
    return v === undefined ? undefined : heightFromKey(v)
  }

  async getFinalized (height: number): Promise<FinalizedBlock | undefined> {
    const [block, certificate] = await Promise.all([this.getBlock(height), this.getCertificate(height)])
    if (block === undefined && certificate === undefined) return undefined
    if (block === undefined || certificate === undefined) throw this.#corrupt(`height ${height} has a ${block === undefined ? 'certificate without a block' : 'block without a certificate'}`)
    return { block, certificate }
  }

  /** Finalized blocks from..to (inclusive, clamped to the head), ascending, read by two iterators. */
  async * iterateFinalized (from: number, to: number): AsyncGenerator<FinalizedBlock> {
    for await (const { height, block, certificate } of this.#iterateStored(from, to)) {
      yield { block: this.#decode(decodeBlock, block, `block ${height}`), certificate: this.#decode(decodeCertificate, certificate, `certificate ${height}`) }
    }
  }

  /**
   * The canonical bytes of each finalized block, [block, certificate] as a CBOR array, built from
   * the stored bytes without decoding (what sync serves).
   */
  async * iterateFinalizedBytes (from: number, to: number): AsyncGenerator<Uint8Array> {
    for await (const { block, certificate } of this.#iterateStored(from, to)) {
      yield encodeArrayOfEncoded([block, certificate])
    }
  }

  async * #iterateStored (from: number, to: number): AsyncGenerator<{ height: number, block: Uint8Array, certificate: Uint8Array }> {
    this.#assertOpen()
    const first = Math.max(from, 1)
    const last = Math.min(to, this.#head?.height ?? 0)
    if (first > last) return
    const range = { gte: heightKey(first), lte: heightKey(last) }
    const blocks = this.#b.blocks.iterator(range)
    const certs = this.#b.certificates.iterator(range)
    try {
      let expected = first
      for (;;) {
        const b = await this.#io(`blocks from ${expected}`, async () => await blocks.next())
        if (b === undefined) break
        const height = heightFromKey(b[0])
        const c = await this.#io(`certificates from ${expected}`, async () => await certs.next())
        if (height !== expected || c === undefined || heightFromKey(c[0]) !== height) throw this.#corrupt(`the blocks and certificates from ${first} to ${last} do not line up at height ${expected}`)
        yield { height, block: b[1], certificate: c[1] }
        expected++
      }
      if (expected !== last + 1) throw this.#corrupt(`block ${expected} is missing below the head ${last}`)
    } finally {
      await Promise.all([blocks.close(), certs.close()])
    }
  }

  // ---- records ----

  async getRecordLocation (id: Uint8Array): Promise<StoredLocation | undefined> {
    this.#assertOpen()
    const v = await this.#io('the record index', async () => await this.#b.recordIndex.get(id))
    return v === undefined ? undefined : this.#guardCorrupt(() => decodeLocation(v))
  }

  /** Each record id's location, undefined when it is not on the chain: one LevelDB getMany for all. */
  async getRecordLocations (ids: Uint8Array[]): Promise<Array<StoredLocation | undefined>> {
    this.#assertOpen()
    if (ids.length === 0) return []
    const values = await this.#io('the record index', async () => await this.#b.recordIndex.getMany(ids))
    return values.map(v => v === undefined ? undefined : this.#guardCorrupt(() => decodeLocation(v)))
  }

  /**
   * Whether each record id is on the chain, one answer per id in order: one LevelDB getMany for
   * all of them (a loop of awaited getRecordLocation pays a round trip per id).
   */
  async hasRecords (ids: Uint8Array[]): Promise<boolean[]> {
    this.#assertOpen()
    if (ids.length === 0) return []
    const values = await this.#io('the record index', async () => await this.#b.recordIndex.getMany(ids))
    return values.map(v => v !== undefined)
  }

  async getRecord (id: Uint8Array): Promise<StoredRecord | undefined> {
    const location = await this.getRecordLocation(id)
    if (location === undefined) return undefined
    const fb = await this.getFinalized(location.height)
    const record = fb?.block.body.batches[location.batchIndex]?.records[location.recordIndex]
    if (fb === undefined || record === undefined) throw this.#corrupt(`record ${toHex(id)} is indexed at ${location.height}/${location.batchIndex}/${location.recordIndex}, which does not exist`)
    return { record, location, block: fb.block, certificate: fb.certificate }
  }

  // ---- double-sign guard and consensus state ----

  async getLastSigned (): Promise<LastSigned | undefined> {
    this.#assertOpen()
    return this.#lastSigned === undefined ? undefined : { ...this.#lastSigned }
  }

  /**
   * Flushed (sync) before it resolves: await it before a vote or proposal leaves the node.
   * The guard only moves forward; an older (height, round, step) is refused.
   */
  async putLastSigned (ls: LastSigned, signBytes?: Uint8Array): Promise<void> {
    await this.#putGuard(ls, signBytes, undefined)
  }

  /**
   * The guard, the exact bytes signed at it and (when given) consensus's own messages, in ONE
   * synced batch: a vote and the guard that let it be signed are on disk together or not at all,
   * so a crash can never leave a guard naming a vote the node no longer holds (Finding 9).
   */
  async putSigned (ls: LastSigned, signBytes: Uint8Array, ownMessages?: Uint8Array): Promise<void> {
    await this.#putGuard(ls, signBytes, ownMessages)
  }

  /** Consensus's own messages as last written with the guard (or by a release before putSigned). */
  async getOwnMessages (): Promise<Uint8Array | undefined> {
    this.#assertOpen()
    return await this.#io('consensus\'s own messages', async () =>
      await this.#b.consensus.get(ConsensusKey.ownMessages) ?? await this.#b.meta.get(LEGACY_OWN_MESSAGES_META_KEY))
  }

  async #putGuard (ls: LastSigned, signBytes: Uint8Array | undefined, ownMessages: Uint8Array | undefined): Promise<void> {
    // Everything up to the queued write runs synchronously, so racing calls see each other.
    this.#assertOpen()
    if (!isValidLastSigned(ls)) throw new TypeError(`putLastSigned: not a (height, round, step 0-2): ${JSON.stringify(ls)}`)
    if (this.#lastSigned !== undefined && compareLastSigned(ls, this.#lastSigned) < 0) {
      const s = this.#lastSigned
      throw new StorageError(StorageErrorCode.GUARD_REGRESSION, `refusing to move the double-sign guard back from ${s.height}/${s.round}/${s.step} to ${ls.height}/${ls.round}/${ls.step}`, { stored: s, given: ls })
    }
    // Cached first so that a later call racing this one is compared with it; if the write fails
    // the cache stays ahead of the disk, which only ever refuses more.
    this.#lastSigned = { height: ls.height, round: ls.round, step: ls.step }
    await this.#serial('guard', async () => {
      const batch = this.#db.batch()
      batch.put(ConsensusKey.lastSigned, encodeLastSigned(ls), { sublevel: this.#b.consensus })
      if (signBytes !== undefined) batch.put(ConsensusKey.lastSignedBytes, signBytes, { sublevel: this.#b.consensus })
      else batch.del(ConsensusKey.lastSignedBytes, { sublevel: this.#b.consensus })
      if (ownMessages !== undefined) batch.put(ConsensusKey.ownMessages, ownMessages, { sublevel: this.#b.consensus })
      await this.#write(batch, true, ConsensusKey.lastSigned)
    })
  }

  /** The bytes signed at the guard's (height, round, step), if they were recorded with it. */
  async getLastSignedBytes (): Promise<Uint8Array | undefined> {
    this.#assertOpen()
    return await this.#io('the double-sign guard', async () => await this.#b.consensus.get(ConsensusKey.lastSignedBytes))
  }

  /** The consensus snapshot and, when given, the blocks it names, in one synced batch. */
  async putConsensusSnapshot (bytes: Uint8Array, heldBlocks?: Uint8Array): Promise<void> {
    this.#assertOpen()
    const batch = this.#db.batch()
    batch.put(ConsensusKey.snapshot, bytes, { sublevel: this.#b.consensus })
    if (heldBlocks !== undefined) batch.put(ConsensusKey.heldBlocks, heldBlocks, { sublevel: this.#b.consensus })
    await this.#write(batch, true, ConsensusKey.snapshot)
  }

  async getHeldBlocks (): Promise<Uint8Array | undefined> {
    this.#assertOpen()
    return await this.#io('the consensus snapshot\'s blocks', async () => await this.#b.consensus.get(ConsensusKey.heldBlocks))
  }

  // A chained batch is the typed way to pass sync through a sublevel (and the fast one).
  async #putSynced (key: string, value: Uint8Array): Promise<void> {
    const batch = this.#db.batch()
    batch.put(key, value, { sublevel: this.#b.consensus })
    await this.#write(batch, true, key)
  }

  // A failed write (disk full, I/O error) leaves the previous state: nothing of the batch applies.
  async #write (batch: ReturnType<RootDb['batch']>, sync: boolean, what: string): Promise<void> {
    try {
      await batch.write({ sync })
    } catch (err) {
      const cause = (err as { cause?: Error }).cause?.message ?? (err as Error).message
      throw this.#faulted(new StorageError(StorageErrorCode.IO_ERROR, `writing ${what} to ${this.dir} failed: ${cause}. Check free disk space and the disk's health`, { dir: this.dir, cause }))
    }
  }

  /**
   * Runs one LevelDB read (or small write) and turns LevelDB's own failures into a storage fault
   * that names what was read: the store's errors are StorageErrors, never raw LevelDB errors.
   */
  async #io<T> (what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn()
    } catch (err) {
      if (isMedledgerError(err)) throw err
      // After close() LevelDB refuses every call: that is the caller's late use, not a disk fault.
      if (this.#closed) throw new StorageError(StorageErrorCode.CLOSED, `the store for ${this.dir} is closed`)
      const cause = (err as { cause?: Error }).cause?.message ?? (err as Error).message
      throw this.#faulted(new StorageError(StorageErrorCode.IO_ERROR, `reading or writing ${what} in ${this.dir} failed: ${cause}. Check the disk's health and free space`, { dir: this.dir, cause }))
    }
  }

  /** Records the first fault and tells the owner (once); returns the error to throw. */
  #faulted (err: StorageError): StorageError {
    if (this.#fault === undefined && isStorageFault(err) && !this.#closed) {
      this.#fault = err
      this.#onFault?.(err)
    }
    return err
  }

  async getConsensusSnapshot (): Promise<Uint8Array | undefined> {
    this.#assertOpen()
    return await this.#io('the consensus snapshot', async () => await this.#b.consensus.get(ConsensusKey.snapshot))
  }

  // ---- evidence ----

  /** Keeps verified evidence until a block includes it; evidence already committed is skipped. */
  async putPendingEvidence (e: Evidence): Promise<void> {
    this.#assertOpen()
    const hash = evidenceHash(e)
    await this.#io('pending evidence', async () => {
      if (await this.#b.evidence.get(hash) !== undefined) return
      await this.#b.pendingEvidence.put(hash, encodeEvidence(e))
    })
  }

  async listPendingEvidence (): Promise<Evidence[]> {
    this.#assertOpen()
    const values = await this.#io('pending evidence', async () => await this.#b.pendingEvidence.values().all())
    return values.map(v => this.#decode(decodeEvidence, v, 'pending evidence'))
  }

  async removePendingEvidence (hash: Uint8Array): Promise<void> {
    this.#assertOpen()
    await this.#io('pending evidence', async () => { await this.#b.pendingEvidence.del(hash) })
  }

  async getCommittedEvidence (hash: Uint8Array): Promise<{ height: number, evidence: Evidence } | undefined> {
    this.#assertOpen()
    const v = await this.#io('committed evidence', async () => await this.#b.evidence.get(hash))
    return v === undefined ? undefined : this.#committedEvidence(v)
  }

  /** Every evidence item included in a block, by height. */
  async listCommittedEvidence (): Promise<Array<{ height: number, evidence: Evidence }>> {
    this.#assertOpen()
    const values = await this.#io('committed evidence', async () => await this.#b.evidence.values().all())
    return values.map(v => this.#committedEvidence(v)).sort((a, b) => a.height - b.height)
  }

  #committedEvidence (v: Uint8Array): { height: number, evidence: Evidence } {
    const { height, evidenceBytes } = this.#guardCorrupt(() => splitCommittedEvidence(v))
    return { height, evidence: this.#decode(decodeEvidence, evidenceBytes, 'committed evidence') }
  }

  // ---- metadata ----

  async getMeta (key: string): Promise<Uint8Array | undefined> {
    this.#assertOpen()
    return await this.#io(`metadata '${key}'`, async () => await this.#b.meta.get(key))
  }

  async putMeta (key: string, value: Uint8Array): Promise<void> {
    this.#assertOpen()
    if (RESERVED_META_KEYS.has(key)) throw new StorageError(StorageErrorCode.RESERVED_KEY, `meta key '${key}' belongs to the store`, { key })
    await this.#io(`metadata '${key}'`, async () => { await this.#b.meta.put(key, value) })
  }

  // ---- backups ----

  /**
   * Every key and value of the database, raw, in key order, as of this call: one LevelDB iterator
   * reads one implicit snapshot, so commits made meanwhile are not seen and the copy is
   * consistent (a head with all its blocks, indexes and record count). For `medledger snapshot`.
   * The iterator is closed when the caller stops (break, return or throw).
   */
  async * entries (): AsyncGenerator<Array<[Uint8Array, Uint8Array]>> {
    this.#assertOpen()
    const it = this.#db.iterator({ keys: true, values: true })
    try {
      while (true) {
        const page = await it.nextv(1_000)
        if (page.length === 0) return
        yield page as Array<[Uint8Array, Uint8Array]>
      }
    } finally {
      await it.close()
    }
  }

  // ---- helpers ----

  #assertOpen (): void {
    if (this.#closed) throw new StorageError(StorageErrorCode.CLOSED, `the store for ${this.dir} is closed`)
  }

  #serial<T> (queue: 'commit' | 'guard', fn: () => Promise<T>): Promise<T> {
    this.#assertOpen()
    if (this.#fault !== undefined) return Promise.reject(this.#fault)
    const prev = queue === 'commit' ? this.#commitQueue : this.#guardQueue
    const run = prev.then(fn, fn)
    const settled = run.catch(() => {})
    if (queue === 'commit') this.#commitQueue = settled
    else this.#guardQueue = settled
    return run
  }

  #corrupt (what: string): StorageError {
    return this.#faulted(new StorageError(StorageErrorCode.CORRUPT, `${this.#advice} (${what})`, { dir: this.dir, cause: what }))
  }

  #guardCorrupt<T> (fn: () => T): T {
    try {
      return fn()
    } catch (err) {
      throw this.#corrupt((err as Error).message)
    }
  }

  #decode<T> (decode: (b: Uint8Array) => T, bytes: Uint8Array, what: string): T {
    return this.#guardCorrupt(() => {
      try {
        return decode(bytes)
      } catch (err) {
        throw new Error(`${what} does not decode: ${(err as Error).message}`)
      }
    })
  }
}
