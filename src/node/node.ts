import { EventEmitter } from 'node:events'
import { join } from 'node:path'
import type { Config } from '../config/schema.ts'
import { resolvePath } from '../config/load.ts'
import type { NodeKey } from '../crypto/ed25519.ts'
import { VerifyPool } from '../crypto/verify-pool.ts'
import { toHex } from '../encoding/bytes.ts'
import { batchId, recordId } from '../chain/hashing.ts'
import { checkBatch } from '../chain/validate.ts'
import { LIMITS } from '../chain/limits.ts'
import type { Genesis } from '../chain/genesis.ts'
import { GovernanceSchedule } from '../governance/schedule.ts'
import { checkGovernanceRecords } from '../governance/admission.ts'
import { MemberAllowlist } from '../governance/members.ts'
import { ChainVerifier, finalPerBatch } from '../chain/verifier.ts'
import { authorsAt } from '../chain/validator-schedule.ts'
import type { FinalizedBlock, MedRecord, RecordBatch } from '../chain/types.ts'
import { encodeBatch } from '../chain/codec.ts'
import type { SignatureCheck } from '../crypto/verify-pool.ts'
import { ChainStore } from '../storage/index.ts'
import { Mempool } from '../mempool/mempool.ts'
import { ConsensusDriver } from '../consensus/driver.ts'
import { Network } from '../network/index.ts'
import type { NetworkHandlers, Verdict } from '../network/interface.ts'
import { isMedledgerError, MedledgerError } from '../errors.ts'
import type { Logger } from '../logger.ts'
import { sealBatch } from './records.ts'
import { FinalityWaiters } from './finality-waiters.ts'
import { readSecretFile } from './secret-file.ts'
import { checkRecordTimestamps } from './record-time.ts'

const GOVERNANCE_META = 'governance'

export interface NodeModules {
  config: Config
  home: string
  genesis: Genesis
  key: NodeKey
  logger: Logger
  /** Set only by the test harness (test/helpers/test-daemon.js), never by config or environment. */
  testHooks?: NodeTestHooks
}

/** What only a test may change in a node: the Byzantine mode, and fault injection into its store. */
export interface NodeTestHooks {
  /** Sign a conflicting second vote and proposal for each one (simulation scenario 4). */
  byzantine?: boolean
  /** Called with the store once it is open, before anything uses it. */
  onStoreOpen?: (store: ChainStore) => void
}

/**
 * The one wiring file: builds store, verifier, mempool, network and consensus, starts them in
 * that order and stops them in reverse. Everything else talks through the narrow interfaces
 * each module exports.
 */
export class MedledgerNode extends EventEmitter<{ finalized: [FinalizedBlock], fatal: [Error] }> {
  readonly config: Config
  readonly genesis: Genesis
  readonly key: NodeKey
  readonly schedule: GovernanceSchedule
  private readonly members: MemberAllowlist
  readonly mempool: Mempool
  readonly pool: VerifyPool
  readonly log: Logger
  store!: ChainStore
  network!: Network
  consensus!: ConsensusDriver
  private verifier!: ChainVerifier
  private readonly home: string
  private readonly finality = new FinalityWaiters()
  private readonly testHooks: NodeTestHooks
  /** The storage fault (or failed commit) that stopped this node's consensus: it can no longer commit. */
  fault: Error | undefined
  readonly startedAt = Date.now()

  constructor (m: NodeModules) {
    super()
    this.setMaxListeners(10_000)
    this.config = m.config
    this.genesis = m.genesis
    this.key = m.key
    this.home = m.home
    this.log = m.logger
    this.testHooks = m.testHooks ?? {}
    this.schedule = GovernanceSchedule.fromGenesis(m.genesis)
    this.members = new MemberAllowlist(this.schedule, m.genesis.observers.map(o => o.publicKey))
    const mp = m.config.mempool
    this.mempool = new Mempool({ maxBytes: mp.max_bytes, maxBatches: mp.max_batches, maxBytesPerAuthor: mp.max_bytes_per_author, maxBatchesPerAuthor: mp.max_batches_per_author })
    this.pool = new VerifyPool()
  }

  get role (): 'validator' | 'observer' | 'member' { return this.config.role }
  /** A validator-role node signs once governance has put it in the set (or genesis did). */
  get isValidator (): boolean { return this.role === 'validator' && this.schedule.at((this.store?.head?.height ?? 0) + 1).has(this.key.publicKey) }
  /** A member-role node authors batches while it is a member in force (genesis or governance); it never votes. */
  get isMember (): boolean { return this.role === 'member' && this.schedule.membersAt((this.store?.head?.height ?? 0) + 1).has(this.key.publicKey) }

  async start (): Promise<void> {
    const c = this.config
    this.store = await ChainStore.open(resolvePath(this.home, c.data_dir), { chainId: this.genesis.chainId, genesisHash: this.genesis.hash })
    this.store.onFault((err) => { this.fail(err) })
    this.testHooks.onStoreOpen?.(this.store)
    await this.loadGovernance()
    if (c.role === 'validator' && !this.schedule.latest().has(this.key.publicKey)) {
      if (!this.allowedPeers().includes(this.key.peerId)) {
        await this.store.close()
        throw new MedledgerError('NODE_NOT_A_VALIDATOR', `role is validator but peer id ${this.key.peerId} is neither a validator nor a listed observer; use role = "observer" or fix the genesis`)
      }
      this.log.warn({ peerId: this.key.peerId }, 'not a validator (yet): following the chain; this node votes once a governance change adds it')
    }
    if (c.role === 'member' && !this.schedule.latestMembers().has(this.key.publicKey)) {
      this.log.warn({ peerId: this.key.peerId }, 'not a member (yet, or any more): following the chain if admitted; this node writes once a governance change adds it as a member')
    }
    if (c.role === 'observer' && !this.allowedPeers().includes(this.key.peerId)) {
      this.log.warn({ peerId: this.key.peerId }, 'this observer is not listed in the genesis file: validators will refuse its connections')
    }
    this.verifier = new ChainVerifier(this.genesis.chainId, this.schedule, this.pool, this.store)
    const psk = c.p2p.psk_file === '' ? undefined : await readSecretFile(resolvePath(this.home, c.p2p.psk_file), 'the pnet key file', { permissions: 'CONFIG_PSK_PERMISSIONS', missing: 'CONFIG_INVALID' })
    this.network = new Network({
      listen: c.p2p.listen,
      announce: c.p2p.announce,
      bootstrap: c.p2p.bootstrap,
      preSharedKey: psk,
      relay: c.role !== 'observer',
      maxResponseBytes: c.p2p.sync_response_bytes,
      inboundAllow: c.p2p.inbound_allow,
      inboundUpgradeTimeoutMs: c.p2p.inbound_upgrade_timeout_ms,
      maxPendingInbound: c.p2p.max_pending_inbound,
      maxPendingInboundPerIp: c.p2p.max_pending_inbound_per_ip,
      inboundConnectionsPerIpPerSecond: c.p2p.inbound_connections_per_ip_per_s,
      maxInFlightBytes: c.p2p.gossip_in_flight_bytes,
      maxPeers: c.p2p.max_peers
    }, {
      key: this.key,
      genesis: this.genesis,
      handlers: this.handlers(),
      logger: this.log.child({ module: 'network' }),
      allowed: this.allowedPeers(),
      leaving: this.members.leaving((this.store.head?.height ?? 0) + 1),
      // With p2p.max_peers, the validators (in force or joining) are dialled first.
      preferred: (peerId) => this.members.isValidator(peerId)
    })
    this.consensus = new ConsensusDriver({
      timeouts: { proposeMs: c.consensus.propose_timeout_ms, prevoteMs: c.consensus.prevote_timeout_ms, precommitMs: c.consensus.precommit_timeout_ms, deltaMs: c.consensus.timeout_delta_ms },
      heartbeatMs: this.genesis.params.heartbeatMs,
      rebroadcastMs: c.consensus.rebroadcast_ms,
      maxBlockBytes: c.consensus.max_block_bytes,
      maxBatchesPerBlock: c.consensus.max_batches_per_block,
      maxClockDriftMs: c.consensus.max_clock_drift_ms,
      maxFutureMessages: c.consensus.max_future_messages,
      maxFutureBytes: c.consensus.max_future_bytes,
      byzantine: this.testHooks.byzantine === true
    }, {
      genesis: this.genesis,
      schedule: this.schedule,
      store: this.store,
      mempool: this.mempool,
      pool: this.pool,
      verifier: this.verifier,
      signer: this.role === 'validator' ? this.key : null,
      network: { publishConsensus: (b) => { this.network.publishConsensus(b) }, requestSync: () => { this.network.requestSync() } },
      logger: this.log,
      onFinalized: (fb) => { this.onFinalized(fb) },
      onFatal: (err) => { this.fail(err) }
    })
    await this.network.start()
    await this.consensus.start()
  }

  /**
   * Fail-stop (docs/storage.md, "Storage faults"): the first storage fault (or failed commit)
   * halts consensus at once (nothing more is signed), marks the node not ready and emits 'fatal';
   * the daemon then stops.
   */
  fail (err: Error): void {
    if (this.fault !== undefined) return
    this.fault = err
    this.consensus?.halt(err)
    this.log.fatal({ err: err.message, code: (err as { code?: string }).code }, 'the node cannot commit: it stops and signs nothing more: %s', err.message)
    this.emit('fatal', err)
  }

  async stop (): Promise<void> {
    await this.consensus?.stop()
    await this.network?.stop()
    await this.store?.close()
    await this.pool.close()
  }

  /** Peer ids admitted by the gater while deciding the next height (governance/members.ts). */
  allowedPeers (): string[] {
    return this.members.at((this.store?.head?.height ?? 0) + 1)
  }

  private governanceSeen = 0

  private onFinalized (fb: FinalizedBlock): void {
    // The allowlist and the persisted governance state follow validator-set changes; the state is
    // also saved every 64 blocks so a restart rescans few blocks.
    const changed = this.schedule.changes().length !== this.governanceSeen
    // Every block: a change is included at one height and takes effect at a later one, when the
    // removed are cut off before the next height starts (a no-op while nothing changes).
    this.network.setAllowed(this.allowedPeers(), this.members.leaving((this.store.head?.height ?? 0) + 1))
    if (changed) {
      this.governanceSeen = this.schedule.changes().length
      this.log.info({ height: fb.block.header.height, validators: this.schedule.latest().size, members: this.schedule.latestMembers().size }, 'governance change recorded')
    }
    if (changed || fb.block.header.height % 64 === 0) {
      void this.store.putMeta(GOVERNANCE_META, this.schedule.serialize()).catch((err) => { this.log.warn({ err }, 'could not persist governance state') })
    }
    this.finality.onFinalized(fb)
    this.emit('finalized', fb)
  }

  /** Restores the governance state, then learns from any blocks committed after it was saved. */
  private async loadGovernance (): Promise<void> {
    const saved = await this.store.getMeta(GOVERNANCE_META)
    if (saved !== undefined) this.schedule.restore(saved)
    const head = this.store.head?.height ?? 0
    if (this.schedule.scannedTo < head) {
      for await (const fb of this.store.iterateFinalized(this.schedule.scannedTo + 1, head)) this.schedule.observe(fb.block)
      await this.store.putMeta(GOVERNANCE_META, this.schedule.serialize())
    }
    this.governanceSeen = this.schedule.changes().length
  }

  /**
   * Signs the records as one batch by this node, admits it to the mempool and gossips it.
   * Returns the record ids in order.
   */
  async submitRecords (records: Array<Omit<MedRecord, 'author'>>): Promise<{ ids: string[], batchId: string }> {
    if (!this.isValidator && !this.isMember) {
      throw new MedledgerError('NODE_READ_ONLY', this.role === 'observer'
        ? 'this node is an observer: submit records to a validator or a member'
        : `this node is not a ${this.role} in force (governance has not added it, or removed it): it may not author records`, {})
    }
    // One literal shape for every record (a spread gave each record a hidden class of its own).
    const author = this.key.publicKey
    const full: MedRecord[] = records.map(r => ({ type: r.type, subject: r.subject, contentType: r.contentType, payload: r.payload, author, timestamp: r.timestamp }))
    checkRecordTimestamps(full, Date.now())
    checkGovernanceRecords(this.genesis.chainId, full, this.schedule)
    const { batch, bytes } = sealBatch(this.genesis.chainId, this.key, full)
    // A batch no block could carry would wait for ever: refuse it while the client can split it.
    if (bytes.length > this.maxBatchBytes()) throw new MedledgerError('BATCH_TOO_LARGE', `these records encode to ${bytes.length} bytes, more than one block carries (${this.maxBatchBytes()}); submit them in smaller requests`, {})
    // Every record, not only the first: a batch holding a final record could never be written.
    if ((await this.store.hasRecords(full.map(recordId))).includes(true)) throw new MedledgerError('RECORD_DUPLICATE', 'one of these records is already on the chain', {})
    const id = toHex(batchId(batch))
    const added = this.mempool.add(batch, bytes.length, id)
    if (added === 'full') throw new MedledgerError('MEMPOOL_FULL', 'the node has too many records waiting; retry shortly', {})
    if (added === 'author-quota') throw new MedledgerError('MEMPOOL_AUTHOR_QUOTA', 'this node\'s own records fill its share of the mempool (mempool.max_bytes_per_author, max_batches_per_author); retry once some are final', {})
    if (added === 'duplicate') throw new MedledgerError('RECORD_DUPLICATE', 'one of these records is already waiting for a block', {})
    this.network.publishBatch(bytes)
    return { ids: this.mempool.recordIdsOf(id) ?? full.map(r => toHex(recordId(r))), batchId: id }
  }

  /** Resolves with the height once every record id is final, or rejects after timeoutMs. */
  async waitFinal (ids: string[], timeoutMs: number): Promise<number> {
    return await this.finality.wait(ids, timeoutMs, async asked => (await this.store.getRecordLocations(asked.map(id => Buffer.from(id, 'hex')))).map(l => l?.height))
  }

  /** The largest batch a block built by this node's rules can carry (block limit less room for the rest). */
  maxBatchBytes (): number {
    return Math.min(LIMITS.batchBytes, this.config.consensus.max_block_bytes - 64 * 1024)
  }

  /**
   * Gossiped batches (one message of one author): checked, their signatures verified together in
   * the worker pool, and the new ones admitted to the mempool. One bad batch rejects the message.
   */
  private async admitBatches (batches: RecordBatch[]): Promise<Verdict> {
    const authors = authorsAt(this.schedule, (this.store.head?.height ?? 0) + 1)
    const fresh: Array<{ batch: RecordBatch, id: string }> = []
    const checks: SignatureCheck[] = []
    try {
      for (const batch of batches) {
        const id = toHex(batchId(batch))
        if (this.mempool.hasBatch(id)) continue
        checks.push(checkBatch(this.genesis.chainId, batch, authors))
        checkGovernanceRecords(this.genesis.chainId, batch.records, this.schedule)
        fresh.push({ batch, id })
      }
    } catch (err) {
      if (isMedledgerError(err)) return 'reject'
      throw err
    }
    if (fresh.length === 0) return 'ignore'
    if (!(await this.pool.verifyEvery(checks))) return 'reject'
    const head = this.store.head?.height
    // A batch holding any final record is a replay, whichever of its records that is.
    const final = await finalPerBatch(this.store, fresh.map(f => f.batch.records.map(recordId)))
    const added = fresh.filter(({ batch, id }, i) => {
      const size = encodeBatch(batch).length
      return !final[i] && size <= this.maxBatchBytes() && this.mempool.add(batch, size, id) === 'added'
    })
    // A block carrying one of them may have been committed while we looked: its clean-up found
    // nothing to remove, and the batch would wait for ever (seen on an observer, simulation 4).
    if (added.length > 0 && this.store.head?.height !== head) {
      const nowFinal = await finalPerBatch(this.store, added.map(f => f.batch.records.map(recordId)))
      this.mempool.removeBatches(added.filter((_, i) => nowFinal[i]).map(f => f.id))
    }
    return added.length > 0 ? 'accept' : 'ignore'
  }

  private handlers (): NetworkHandlers {
    return {
      onBatches: async (batches) => await this.admitBatches(batches),
      onConsensus: async (msg, bytes, from) => await this.consensus.onMessage(msg, from, bytes.length),
      knownBatch: (signature) => this.mempool.batchBySignature(signature),
      localStatus: () => ({ chainId: this.genesis.chainId, genesisHash: this.genesis.hash, height: this.store.head?.height ?? 0, headHash: this.store.head?.hash ?? this.genesis.hash }),
      readBlocks: async (from, to, maxBytes) => {
        const out: Uint8Array[] = []
        let size = 0
        for await (const bytes of this.store.iterateFinalizedBytes(from, to)) {
          if (size + bytes.length > maxBytes && out.length > 0) break
          out.push(bytes)
          size += bytes.length
        }
        return out
      },
      applyBlocks: async (blocks) => { await this.consensus.applySynced(blocks) }
    }
  }

  dataDir (): string { return join(this.home, this.config.data_dir) }
}
