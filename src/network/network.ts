import { TypedEventEmitter, type IdentifyResult } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import type { NodeKey } from '../crypto/ed25519.ts'
import type { Genesis } from '../chain/genesis.ts'
import type { Logger } from '../logger.ts'
import type { ChainStatus, NetworkEvents, NetworkHandlers, Verdict } from './interface.ts'
import { resolveOptions, type NetworkOptions, type ResolvedNetworkOptions } from './options.ts'
import { createConnectionGater, PeerAllowlist } from './gater.ts'
import { InboundFence } from './inbound-fence.ts'
import { createLibp2pNode, type MedledgerLibp2p } from './libp2p-node.ts'
import { PeerScores, PENALTY, type PeerRecord } from './peer-scores.ts'
import { Gossip, type GossipStats } from './gossip.ts'
import { GossipTraffic } from './gossip-traffic.ts'
import { PeerDialer } from './dialer.ts'
import { BlockSync } from './sync.ts'
import { protocols } from './protocol-ids.ts'
import { announcedVersion, formatVersion, isCompatible } from './protocol-version.ts'
import { assertSameChain, registerStatusHandler, requestStatus, type StatusModules } from './reqresp/status.ts'
import { registerBlocksHandler, requestBlocks, type BlocksModules } from './reqresp/blocks.ts'
import { isUnsupportedProtocol } from './reqresp/stream.ts'
import { registerProposalBatchesHandler, requestProposalBatches } from './reqresp/proposal-batches.ts'
import { ProposalAssembler, type AssemblyStats } from './compact-proposals.ts'
import type { Proposal } from '../chain/types.ts'

export interface NetworkModules {
  key: NodeKey
  genesis: Genesis
  handlers: NetworkHandlers
  logger: Logger
  /** Peer ids allowed to connect at start: validators and observers. */
  allowed: string[]
  /** Of those, members whose removal is final but not yet in force (see setAllowed). */
  leaving?: string[]
  /** Peers dialled first when `maxPeers` bounds the dials (a member prefers the validators). */
  preferred?: (peerId: string) => boolean
}

export interface PeerConnection {
  peerId: string
  address: string
  direction: 'inbound' | 'outbound'
  rttMs: number | undefined
  agent: string | undefined
}

/** A node whose sync applied blocks this recently relays no gossip: it may not know yet whom governance removed. */
const SYNC_RELAY_HOLD_MS = 2_000

/**
 * The node's network: a libp2p host fenced by an allowlist, gossip for batches and consensus
 * messages, status and block-range protocols, catch-up sync and per-peer accounting.
 * Construct, `start()`, and `stop()`; the allowlist follows governance through `setAllowed`.
 */
export class Network extends TypedEventEmitter<NetworkEvents> {
  readonly opts: ResolvedNetworkOptions
  private readonly modules: NetworkModules
  private readonly log: Logger
  private readonly allowlist: PeerAllowlist
  private readonly fence: InboundFence
  private readonly scores: PeerScores
  private readonly ownId: string
  private readonly heights = new Map<string, number>()
  /** Each connected, allowed peer's identify agent version (bounded by the allowlist; dropped on disconnect). */
  private readonly agents = new Map<string, string>()
  /** Members whose removal is final but not yet in force: admitted, but nothing is relayed while one is connected. */
  private leaving = new Set<string>()
  /** When sync last applied blocks: a node catching up relays nothing (see holdingRelay). */
  private lastSyncedAt = 0
  private readonly protocolIds: { status: string, blocks: string, proposalBatches: string }
  private readonly assembler: ProposalAssembler
  private libp2p: MedledgerLibp2p | undefined
  private gossip: Gossip | undefined
  private dialer: PeerDialer | undefined
  private sync: BlockSync | undefined
  private statusModules: StatusModules | undefined
  private blocksModules: BlocksModules | undefined
  private started = false
  /** Gossip received per topic: copies and distinct messages (/metrics). */
  readonly traffic = new GossipTraffic()

  constructor (opts: NetworkOptions & Partial<ResolvedNetworkOptions>, modules: NetworkModules) {
    super()
    this.opts = resolveOptions(opts)
    this.modules = modules
    this.log = modules.logger.child({ module: 'network' })
    this.ownId = modules.key.peerId
    this.allowlist = new PeerAllowlist(modules.allowed)
    this.leaving = new Set(modules.leaving ?? [])
    this.fence = new InboundFence({
      allow: this.opts.inboundAllow,
      maxPendingPerIp: this.opts.maxPendingInboundPerIp,
      // libp2p aborts a handshake at the upgrade timeout; the slot is reclaimed a little later at the latest.
      pendingExpiryMs: this.opts.inboundUpgradeTimeoutMs + 1_000
    }, this.log)
    this.protocolIds = protocols(modules.genesis.chainId)
    this.scores = new PeerScores(this.opts, {
      logger: this.log,
      // At most f = floor((n - 1) / 3) of the n listed peers (at least one) are banned at once.
      maxBanned: () => Math.max(1, Math.floor((this.allowlist.list().length - 1) / 3)),
      onPenalty: (peer) => { this.hangUp(peer) }
    })
    this.assembler = new ProposalAssembler({
      logger: this.log,
      heldBatch: id => modules.handlers.heldBatch(id),
      fetch: async (peer, ids) => {
        if (this.libp2p === undefined) return ids.map(() => null)
        return await requestProposalBatches({ libp2p: this.libp2p, protocol: this.protocolIds.proposalBatches, timeoutMs: this.opts.requestTimeoutMs }, peer, ids)
      }
    })
  }

  get peerId (): string {
    return this.ownId
  }

  get addresses (): string[] {
    return this.libp2p?.getMultiaddrs().map(String) ?? []
  }

  /** The libp2p host, for diagnostics and tests; undefined until started. */
  get host (): MedledgerLibp2p | undefined {
    return this.libp2p
  }

  get gossipStats (): GossipStats | undefined {
    return this.gossip?.stats
  }

  async start (): Promise<void> {
    if (this.started) return
    const { handlers, genesis, key } = this.modules
    const libp2p = await createLibp2pNode(this.opts, { key, gater: createConnectionGater(id => this.admit(id), this.fence), onCopy: (topic, bytes) => { this.traffic.copy(topic, bytes); if (this.gossip !== undefined) this.gossip.stats.copies++ } })
    this.libp2p = libp2p
    const timeoutMs = this.opts.requestTimeoutMs
    const onBadPeer = (peer: string, err: Error): void => { this.penalise(peer, PENALTY.badRequest, err.message) }
    this.statusModules = {
      libp2p,
      protocol: this.protocolIds.status,
      timeoutMs,
      logger: this.log,
      admit: id => this.admit(id),
      localStatus: () => handlers.localStatus(),
      onStatus: (peer, status) => { this.onStatus(peer, status) },
      onBadPeer
    }
    this.blocksModules = {
      libp2p,
      protocol: this.protocolIds.blocks,
      timeoutMs,
      logger: this.log,
      maxBlocksPerRequest: this.opts.maxBlocksPerRequest,
      maxResponseBytes: this.opts.maxResponseBytes,
      admit: id => this.admit(id),
      localHeight: () => handlers.localStatus().height,
      readBlocks: async (from, to, maxBytes) => await handlers.readBlocks(from, to, maxBytes),
      onBadPeer
    }
    // Handlers before start: a peer that connects at once must find them.
    await registerStatusHandler(this.statusModules)
    await registerBlocksHandler(this.blocksModules)
    await registerProposalBatchesHandler({
      libp2p,
      protocol: this.protocolIds.proposalBatches,
      timeoutMs,
      logger: this.log,
      admit: id => this.admit(id),
      batch: id => this.assembler.batch(id),
      onBadPeer
    })
    libp2p.addEventListener('peer:connect', this.onPeerConnect)
    libp2p.addEventListener('peer:disconnect', this.onPeerDisconnect)
    libp2p.addEventListener('peer:identify', this.onPeerIdentify)
    await libp2p.start()

    this.gossip = new Gossip(this.opts, {
      libp2p,
      chainId: genesis.chainId,
      handlers: this.holdingRelay(handlers),
      logger: this.log,
      admit: id => this.admit(id),
      onInvalid: (peer, reason) => { this.penalise(peer, PENALTY.invalidGossip, reason) },
      traffic: this.traffic,
      assembler: this.assembler
    })
    this.gossip.start()
    this.sync = new BlockSync({ ...this.opts, badPeerCooldownMs: this.opts.banBaseMs }, {
      logger: this.log,
      localHeight: () => handlers.localStatus().height,
      connectedPeers: () => this.connectedPeers(),
      refreshStatus: async (peer, signal) => await this.refreshStatus(peer, signal),
      peerHeight: peer => this.heights.get(peer),
      requestBlocks: async (peer, from, count, signal) => await requestBlocks(this.blocksModules!, peer, from, count, signal),
      applyBlocks: async (blocks, peer) => { await handlers.applyBlocks(blocks, peer) },
      onBadPeer: (peer, err) => { this.penalise(peer, PENALTY.fatal, `served invalid blocks: ${err.message}`) },
      onSynced: detail => { this.lastSyncedAt = Date.now(); this.safeDispatch('synced', detail) }
    })
    this.dialer = new PeerDialer(this.opts, {
      libp2p,
      logger: this.log,
      bootstrap: this.opts.bootstrap,
      targets: () => this.allowlist.list().filter(id => id !== this.ownId && this.admit(id)),
      maxPeers: this.opts.maxPeers,
      preferred: this.modules.preferred
    })
    this.started = true
    this.sync.start()
    await this.dialer.start()
    this.log.info({ peerId: this.ownId, addresses: this.addresses, allowed: this.allowlist.list().length, pnet: this.opts.preSharedKey !== undefined }, 'network started')
  }

  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    this.dialer?.stop()
    await this.sync?.stop()
    this.gossip?.stop()
    const libp2p = this.libp2p
    if (libp2p !== undefined) {
      libp2p.removeEventListener('peer:connect', this.onPeerConnect)
      libp2p.removeEventListener('peer:disconnect', this.onPeerDisconnect)
      libp2p.removeEventListener('peer:identify', this.onPeerIdentify)
      await libp2p.stop()
    }
    this.heights.clear()
    this.agents.clear()
    this.log.info('network stopped')
  }

  /**
   * Replaces the allowlist (the members in force at the height being decided, see
   * governance/members.ts) and cuts off, at once, every connected peer no longer on it: its
   * connections are aborted before this returns, so nothing sent after the call reaches it. The
   * gater refuses its redials from then on. A call with an unchanged list does nothing.
   */
  setAllowed (peerIds: string[], leaving: string[] = []): void {
    if (leaving.length !== this.leaving.size || leaving.some(id => !this.leaving.has(id))) {
      this.leaving = new Set(leaving)
      if (leaving.length > 0) this.log.info({ leaving }, 'members leaving: their removal is final, not yet in force; relaying nothing while they are connected')
    }
    const { added, removed } = this.allowlist.set(peerIds)
    if (added.length === 0 && removed.length === 0) return
    // A peer that governance (re-)admits starts with a clean slate.
    for (const id of added) this.scores.unban(id)
    this.log.info({ added, removed }, removed.length > 0 ? 'allowlist changed: cutting off peers no longer allowed' : 'allowlist changed')
    for (const peer of this.libp2p?.getPeers() ?? []) {
      const id = peer.toString()
      if (!this.admit(id)) this.cutOff(id, 'no longer a member')
    }
    this.dialer?.forget(removed)
    this.dialer?.tick()
  }

  /** Inbound connections refused before the handshake, by reason (address allowlist, handshakes per IP). */
  inboundRefusals (): { address: number, pending: number } {
    return this.fence.refusals
  }

  publishBatch (bytes: Uint8Array): boolean {
    if (this.gossip === undefined) { this.log.warn('publishBatch before start: dropped'); return false }
    return this.gossip.publishBatch(bytes)
  }

  publishConsensus (bytes: Uint8Array): boolean {
    if (this.gossip === undefined) { this.log.warn('publishConsensus before start: dropped'); return false }
    return this.gossip.publishConsensus(bytes)
  }

  /** Our proposal, sent compact (batch ids only); peers that lack a batch ask us for it. */
  publishProposal (p: Proposal): boolean {
    if (this.gossip === undefined) { this.log.warn('publishProposal before start: dropped'); return false }
    return this.gossip.publishConsensus(this.assembler.encode(p))
  }

  /** Compact proposals made whole, and what that took (/metrics). */
  get assembly (): AssemblyStats {
    return this.assembler.stats
  }

  /** Connected peers that are allowed (a refused peer may linger for milliseconds while libp2p closes it). */
  connectedPeers (): string[] {
    return (this.libp2p?.getPeers() ?? []).map(String).filter(id => this.admit(id))
  }

  /**
   * One open connection per connected, allowed peer: its remote address, who dialled, the round
   * trip libp2p's connection monitor last measured (a ping every 10 s; undefined before the
   * first) and the agent version the peer announced (undefined before identify finished).
   */
  peerConnections (): PeerConnection[] {
    const seen = new Map<string, PeerConnection>()
    for (const c of this.libp2p?.getConnections() ?? []) {
      const peerId = c.remotePeer.toString()
      if (c.status !== 'open' || seen.has(peerId) || !this.admit(peerId)) continue
      seen.set(peerId, { peerId, address: c.remoteAddr.toString(), direction: c.direction, rttMs: c.rtt, agent: this.agents.get(peerId) })
    }
    return [...seen.values()]
  }

  /** Gossipsub's score of the peer (0 when unknown; negative scores mean gossipsub is shunning it). */
  gossipScore (peerId: string): number {
    return this.libp2p?.services.pubsub.getScore(peerId) ?? 0
  }

  /** Each peer's last reported height (status protocol), for peers connected and on our chain. */
  peerHeights (): Map<string, number> {
    return new Map(this.heights)
  }

  /** Catch up now, e.g. because consensus saw messages for a height above ours. */
  requestSync (): void {
    this.sync?.trigger()
  }

  /** Invalid-message weight held against a peer, and whether it is banned. */
  peerScore (peerId: string): { invalid: number, banned: boolean } {
    return { invalid: this.scores.invalidCount(peerId), banned: this.scores.isBanned(peerId) }
  }

  /** Every peer with an offence on record: offences, current weight, bans (for metrics). */
  peerRecords (): PeerRecord[] {
    return this.scores.records()
  }

  private admit (peerId: string): boolean {
    return this.allowlist.has(peerId) && !this.scores.isBanned(peerId)
  }

  private penalise (peer: string, weight: number, reason: string): void {
    this.scores.penalise(peer, weight, reason)
  }

  /**
   * Gossip handlers whose 'accept' becomes 'ignore' (delivered here, not forwarded) while a
   * leaving member is connected, and while sync is catching this node up: a message we relay may
   * be one made after a removal took effect at the node that made it (which cut the removed peer
   * off already), while this node still admits the removed peer (its removal is not in force here
   * yet, or not even known), and gossipsub cannot leave one peer out of a forward. Authors publish
   * to every peer directly, so only the redundancy of relaying is lost meanwhile.
   */
  private holdingRelay (handlers: NetworkHandlers): NetworkHandlers {
    const hold = (v: Verdict): Verdict => v === 'accept' && (this.leavingConnected() || this.catchingUp()) ? 'ignore' : v
    return {
      ...handlers,
      onBatches: async (batches, from) => hold(await handlers.onBatches(batches, from)),
      onConsensus: async (msg, size, from) => hold(await handlers.onConsensus(msg, size, from))
    }
  }

  /** Sync applied blocks within the last SYNC_RELAY_HOLD_MS (only verified blocks count: a peer's claimed height does not). */
  private catchingUp (): boolean {
    return Date.now() - this.lastSyncedAt < SYNC_RELAY_HOLD_MS
  }

  private leavingConnected (): boolean {
    if (this.leaving.size === 0 || this.libp2p === undefined) return false
    for (const id of this.leaving) if (this.libp2p.getConnections(peerIdFromString(id)).length > 0) return true
    return false
  }

  /** Aborts every connection to the peer now (no graceful close: nothing more may reach it). */
  private cutOff (peer: string, reason: string): void {
    this.heights.delete(peer)
    for (const c of this.libp2p?.getConnections(peerIdFromString(peer)) ?? []) c.abort(new Error(`peer cut off: ${reason}`))
  }

  private hangUp (peer: string): void {
    this.heights.delete(peer)
    this.libp2p?.hangUp(peerIdFromString(peer)).catch(err => {
      this.log.debug({ peer, err: (err as Error).message }, 'hang up failed')
    })
  }

  private async refreshStatus (peer: string, signal?: AbortSignal): Promise<ChainStatus | undefined> {
    if (this.statusModules === undefined) return undefined
    try {
      return await requestStatus(this.statusModules, peer, signal)
    } catch (err) {
      if (isUnsupportedProtocol(err)) {
        this.log.error({ peer, protocol: this.protocolIds.status }, `peer ${peer} does not speak ${this.protocolIds.status}: it runs another chain or an incompatible version; refusing it`)
        this.penalise(peer, PENALTY.fatal, 'status protocol not supported')
      } else if ((err as { action?: string }).action === 'REJECT') {
        this.penalise(peer, PENALTY.badResponse, (err as Error).message)
      } else if (this.started) {
        this.log.debug({ peer, err: (err as Error).message }, 'status request failed')
      }
      return undefined
    }
  }

  private onStatus (peer: string, status: ChainStatus): void {
    try {
      assertSameChain(this.modules.handlers.localStatus(), status, peer)
    } catch (err) {
      this.log.error({ peer, chainId: status.chainId }, `refusing peer: ${(err as Error).message}`)
      this.heights.delete(peer)
      this.penalise(peer, PENALTY.fatal, 'another chain')
      return
    }
    if (!this.admit(peer)) return
    this.heights.set(peer, status.height)
    this.dialer?.markHealthy(peer)
    this.safeDispatch('peer:status', { peer, status })
    // Its height is known now: sync from it without asking every peer again.
    if (status.height > this.modules.handlers.localStatus().height) this.sync?.trigger('none')
  }

  private readonly onPeerConnect = (evt: CustomEvent<{ toString: () => string }>): void => {
    const peer = evt.detail.toString()
    if (!this.admit(peer)) { this.cutOff(peer, 'not allowed'); return }
    this.log.debug({ peer }, 'peer connected')
    this.safeDispatch('peer:connect', peer)
    void this.refreshStatus(peer)
  }

  /**
   * The handshake's version check: a peer announcing another major wire protocol version is
   * refused (banned like a peer of another chain) with one line saying who must upgrade.
   */
  private readonly onPeerIdentify = (evt: CustomEvent<IdentifyResult>): void => {
    const peer = evt.detail.peerId.toString()
    if (!this.admit(peer)) return
    const agent = evt.detail.agentVersion
    if (!isCompatible(agent, this.opts.protocolVersion)) {
      const theirs = formatVersion(announcedVersion(agent))
      const ours = formatVersion(this.opts.protocolVersion)
      this.log.error({ peer, agent, protocol: ours }, `refusing peer ${peer}: it speaks medledger protocol ${theirs}, this node speaks ${ours}; major versions differ, so the older side must be upgraded (docs/operations.md, "Upgrades")`)
      this.agents.delete(peer)
      this.penalise(peer, PENALTY.fatal, `incompatible protocol version ${theirs}`)
      return
    }
    if (agent !== undefined) this.agents.set(peer, agent.slice(0, 256))
  }

  private readonly onPeerDisconnect = (evt: CustomEvent<{ toString: () => string }>): void => {
    const peer = evt.detail.toString()
    this.heights.delete(peer)
    this.agents.delete(peer)
    this.log.debug({ peer }, 'peer disconnected')
    this.safeDispatch('peer:disconnect', peer)
    this.dialer?.tick()
  }

  private safeDispatch<K extends keyof NetworkEvents> (type: K, detail: NetworkEvents[K]['detail']): void {
    try {
      this.safeDispatchEvent(type, { detail })
    } catch (err) {
      this.log.error({ event: type, err: (err as Error).message }, 'network event listener failed')
    }
  }
}
