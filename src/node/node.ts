import { EventEmitter } from 'node:events'
import { join } from 'node:path'
import type { Config } from '../config/schema.ts'
import { resolvePath } from '../config/load.ts'
import type { NodeKey } from '../crypto/ed25519.ts'
import { VerifyPool } from '../crypto/verify-pool.ts'
import type { Genesis } from '../chain/genesis.ts'
import { GovernanceSchedule } from '../governance/schedule.ts'
import { MemberAllowlist } from '../governance/members.ts'
import { ChainVerifier } from '../chain/verifier.ts'
import type { FinalizedBlock, MedRecord } from '../chain/types.ts'
import { ChainStore } from '../storage/index.ts'
import { Mempool } from '../mempool/mempool.ts'
import { BatchAdmission } from '../mempool/admission.ts'
import { ConsensusDriver } from '../consensus/driver.ts'
import { Network } from '../network/index.ts'
import type { NetworkHandlers } from '../network/interface.ts'
import { isMedledgerError, MedledgerError } from '../errors.ts'
import type { Logger } from '../logger.ts'
import type { FastifyInstance } from 'fastify'
import { openApi } from '../api/open.ts'
import type { SubmittedBatch } from '../api/api-node.ts'
import { startPrivacy } from '../privacy/setup.ts'
import type { PrivacyService } from '../privacy/service.ts'
import { sealBatch } from './records.ts'
import { FinalityWaiters } from './finality-waiters.ts'
import { readSecretFile } from '../keys/secret-file.ts'
import { checkRecordTimestamps } from './record-time.ts'
import { NodeErrorCode } from './errors.ts'
import { ConfigErrorCode } from '../config/errors.ts'

const GOVERNANCE_META = 'governance'

export interface NodeModules {
  config: Config
  home: string
  genesis: Genesis
  key: NodeKey
  logger: Logger
  /** Set only by the test harness (test/helpers/test-daemon.js), never by config or environment. */
  testHooks?: NodeTestHooks
  /** The daemon's services beside the chain: when given, start() also starts privacy, then the HTTP API. */
  services?: NodeServices
}

/** What the daemon (medledger start) asks of the node beyond the chain. */
export interface NodeServices {
  /** Where the HTTP API listens (api.listen, parsed). */
  api: { host: string, port: number }
  /** The key file's passphrase: the privacy service rewrites the key file when it retires a key. */
  passphrase?: string
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
 * that order (then, for the daemon, the privacy service and the HTTP API) and stops them in
 * reverse. Everything else talks through the narrow interfaces each module exports.
 */
export class MedledgerNode extends EventEmitter<{ finalized: [FinalizedBlock], fatal: [Error] }> {
  readonly config: Config
  readonly genesis: Genesis
  readonly key: NodeKey
  readonly schedule: GovernanceSchedule
  private readonly members: MemberAllowlist
  readonly mempool: Mempool
  readonly pool: VerifyPool
  /** The mempool's two doors: this node's own records and gossiped batches. */
  readonly admission: BatchAdmission
  readonly log: Logger
  store!: ChainStore
  network!: Network
  consensus!: ConsensusDriver
  private verifier!: ChainVerifier
  private readonly home: string
  private readonly finality = new FinalityWaiters()
  private readonly testHooks: NodeTestHooks
  private readonly services: NodeServices | undefined
  /** The privacy service (with `services` only), started after consensus. */
  privacy: PrivacyService | undefined
  /** The HTTP API (with `services` only), started last. */
  api: FastifyInstance | undefined
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
    this.services = m.services
    this.schedule = GovernanceSchedule.fromGenesis(m.genesis)
    this.members = new MemberAllowlist(this.schedule, m.genesis.observers.map(o => o.publicKey))
    const mp = m.config.mempool
    this.mempool = new Mempool({ maxBytes: mp.max_bytes, maxBatches: mp.max_batches, maxBytesPerAuthor: mp.max_bytes_per_author, maxBatchesPerAuthor: mp.max_batches_per_author })
    this.pool = new VerifyPool()
    this.admission = new BatchAdmission({ chainId: m.genesis.chainId, schedule: this.schedule, mempool: this.mempool, verifier: this.pool, chain: () => this.store, maxBlockBytes: m.config.consensus.max_block_bytes })
  }

  get role (): 'validator' | 'observer' | 'member' { return this.config.role }
  /** A validator-role node signs once governance has put it in the set (or genesis did). */
  get isValidator (): boolean { return this.role === 'validator' && this.schedule.at((this.store?.head?.height ?? 0) + 1).has(this.key.publicKey) }
  /** A member-role node authors batches while it is a member in force (genesis or governance); it never votes. */
  get isMember (): boolean { return this.role === 'member' && this.schedule.membersAt((this.store?.head?.height ?? 0) + 1).has(this.key.publicKey) }

  async start (): Promise<void> {
    const c = this.config
    this.store = await ChainStore.open(resolvePath(this.home, c.data_dir), { chainId: this.genesis.chainId, genesisHash: this.genesis.hash, home: this.home })
    this.store.onFault((err) => { this.fail(err) })
    this.testHooks.onStoreOpen?.(this.store)
    await this.loadGovernance()
    if (c.role === 'validator' && !this.schedule.latest().has(this.key.publicKey)) {
      if (!this.allowedPeers().includes(this.key.peerId)) {
        await this.store.close()
        throw new MedledgerError(NodeErrorCode.NOT_A_VALIDATOR, `role is validator but peer id ${this.key.peerId} is neither a validator nor a listed observer; use role = "observer" or fix the genesis`)
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
    const psk = c.p2p.psk_file === '' ? undefined : await readSecretFile(resolvePath(this.home, c.p2p.psk_file), 'the pnet key file', { permissions: ConfigErrorCode.PSK_PERMISSIONS, missing: ConfigErrorCode.INVALID })
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
      network: { publishConsensus: (b) => { this.network.publishConsensus(b) }, publishProposal: (p) => { this.network.publishProposal(p) }, requestSync: () => { this.network.requestSync() } },
      logger: this.log,
      onFinalized: (fb) => { this.onFinalized(fb) },
      onFatal: (err) => { this.fail(err) }
    })
    await this.network.start()
    await this.consensus.start()
    if (this.services !== undefined) {
      this.privacy = await startPrivacy(this, this.home, c, this.services.passphrase)
      this.api = await openApi(this, this.privacy, this.home, c, this.services.api)
    }
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

  /** Stops what started, in reverse order; a service that fails to stop is logged and the rest still stop. */
  async stop (): Promise<void> {
    await this.api?.close().catch((err) => { this.log.error({ err }, 'closing the API failed') })
    await this.privacy?.close().catch((err) => { this.log.error({ err }, 'closing the privacy service failed') })
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
   * Signs the records as one batch by this node, admits it to the mempool (src/mempool/admission.ts)
   * and gossips it. Returns the record ids in order.
   */
  async submitRecords (records: Array<Omit<MedRecord, 'author'>>, turn?: Promise<unknown>): Promise<SubmittedBatch> {
    this.assertAuthor()
    // One literal shape for every record (a spread gave each record a hidden class of its own).
    const author = this.key.publicKey
    const full: MedRecord[] = records.map(r => ({ type: r.type, subject: r.subject, contentType: r.contentType, payload: r.payload, author, timestamp: r.timestamp }))
    checkRecordTimestamps(full, Date.now())
    const admitted = await this.admission.admitOwn(full, rs => sealBatch(this.genesis.chainId, this.key, rs), turn)
    this.network.publishBatch(admitted.bytes)
    return { ids: admitted.ids, batchId: admitted.batchId }
  }

  /**
   * Signs each list of records as its own batch by this node (POST /v1/batches), admitted as by
   * submitRecords (their store look-ups run together, the mempool takes them in request order: of
   * two holding one record, the first is admitted) and each answered on its own: its ids, or the
   * registered error that kept it out (RECORD_DUPLICATE, MEMPOOL_FULL, BATCH_TOO_LARGE, ...).
   * Throws only what refuses them all (NODE_READ_ONLY), before any is signed.
   */
  async submitBatches (lists: Array<Array<Omit<MedRecord, 'author'>>>): Promise<Array<SubmittedBatch | MedledgerError>> {
    this.assertAuthor()
    let previous: Promise<unknown> = Promise.resolve()
    return await Promise.all(lists.map(async (records) => {
      const submitted = this.submitRecords(records, previous)
      previous = submitted.catch(() => {})
      try {
        return await submitted
      } catch (err) {
        if (isMedledgerError(err)) return err
        throw err
      }
    }))
  }

  /** Only a validator or a member in force authors records. */
  private assertAuthor (): void {
    if (this.isValidator || this.isMember) return
    throw new MedledgerError(NodeErrorCode.READ_ONLY, this.role === 'observer'
      ? 'this node is an observer: submit records to a validator or a member'
      : `this node is not a ${this.role} in force (governance has not added it, or removed it): it may not author records`, {})
  }

  /** Resolves with the height once every record id is final, or rejects after timeoutMs. */
  async waitFinal (ids: string[], timeoutMs: number): Promise<number> {
    return await this.finality.wait(ids, timeoutMs, async asked => (await this.store.getRecordLocations(asked.map(id => Buffer.from(id, 'hex')))).map(l => l?.height))
  }

  private handlers (): NetworkHandlers {
    return {
      onBatches: async (batches) => await this.admission.admitGossip(batches),
      onConsensus: async (msg, size, from) => await this.consensus.onMessage(msg, from, size),
      knownBatch: (signature) => this.mempool.batchBySignature(signature),
      heldBatch: (id) => this.mempool.batchById(id),
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
