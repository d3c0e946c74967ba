import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client'
import type { ApiNode } from './api-node.ts'
import type { GossipTraffic, TopicTraffic } from '../network/gossip-traffic.ts'

/** Each topic's gossip counters, typed (Object.entries of a Record loses the value type). */
function trafficEntries (traffic: GossipTraffic): Array<[string, TopicTraffic]> {
  return Object.entries(traffic.byTopic) as Array<[string, TopicTraffic]>
}

/** Prometheus metrics: medledger_* for the chain, default process metrics beside them. */
export class Metrics {
  readonly registry = new Registry()
  readonly submitted: Counter
  /** POST /v1/privacy/subjects calls by outcome (done, limited): the audit count of pseudonym look-ups. */
  readonly pseudonymLookups: Counter<'outcome'>
  readonly contentType = this.registry.contentType

  constructor (node: ApiNode) {
    collectDefaultMetrics({ register: this.registry })
    this.submitted = new Counter({ name: 'medledger_api_records_submitted_total', help: 'Records accepted by POST /v1/records', registers: [this.registry] })
    this.pseudonymLookups = new Counter({ name: 'medledger_api_pseudonym_lookups_total', help: 'POST /v1/privacy/subjects calls by outcome (done, limited)', labelNames: ['outcome'], registers: [this.registry] })
    const finalizedBlocks = new Counter({ name: 'medledger_blocks_finalized_total', help: 'Blocks made final on this node', registers: [this.registry] })
    const finalizedRecords = new Counter({ name: 'medledger_records_finalized_total', help: 'Records made final on this node', registers: [this.registry] })
    // Evidence of double signing made final (in a block): a validator signed two conflicting messages.
    const finalizedEvidence = new Counter({ name: 'medledger_evidence_finalized_total', help: 'Evidence items (a validator\'s conflicting signatures) in blocks made final on this node', registers: [this.registry] })
    node.on('finalized', fb => {
      finalizedBlocks.inc()
      finalizedRecords.inc(fb.block.body.batches.reduce((n, b) => n + b.records.length, 0))
      if (fb.block.body.evidence.length > 0) finalizedEvidence.inc(fb.block.body.evidence.length)
    })
    new Gauge({ name: 'medledger_chain_height', help: 'Height of the last final block', registers: [this.registry], collect () { this.set(node.store.head?.height ?? 0) } })
    new Gauge({ name: 'medledger_consensus_round', help: 'Round of the height in progress', registers: [this.registry], collect () { this.set(node.consensus.currentRound) } })
    new Gauge({ name: 'medledger_peers_connected', help: 'Connected peers', registers: [this.registry], collect () { this.set(node.network.connectedPeers().length) } })
    // Accountability: which peer sent what this node refused (docs/network.md, Peer scoring).
    new Gauge({ name: 'medledger_peer_offences_total', help: 'Invalid, garbage or flooding messages counted against a peer', labelNames: ['peer'], registers: [this.registry], collect () { this.reset(); for (const r of node.network.peerRecords()) this.set({ peer: r.peer }, r.offences) } })
    new Gauge({ name: 'medledger_peer_banned', help: 'Whether a peer is banned now (1) or not (0)', labelNames: ['peer'], registers: [this.registry], collect () { this.reset(); for (const r of node.network.peerRecords()) this.set({ peer: r.peer }, r.banned ? 1 : 0) } })
    // Gossip copies received (duplicates included) against distinct messages validated: the duplicate ratio (docs/network.md).
    new Gauge({ name: 'medledger_gossip_messages_received', help: 'Gossip messages received since start: copies (duplicates included) and distinct (handed to validation)', labelNames: ['kind'], registers: [this.registry], collect () { const g = node.network.gossipStats; this.set({ kind: 'copies' }, g?.copies ?? 0); this.set({ kind: 'distinct' }, g?.received ?? 0) } })
    // Gossip received per topic: every copy (duplicates included) and the distinct messages, with their data bytes.
    new Counter({ name: 'medledger_gossip_received_messages_total', help: 'Gossip messages received, by topic; kind=copies counts every copy (duplicates included), kind=distinct the messages handed to the application', labelNames: ['topic', 'kind'], registers: [this.registry], collect () { this.reset(); for (const [topic, t] of trafficEntries(node.network.traffic)) { this.inc({ topic, kind: 'copies' }, t.copies); this.inc({ topic, kind: 'distinct' }, t.distinct) } } })
    new Counter({ name: 'medledger_gossip_received_bytes_total', help: 'Data bytes of gossip messages received, by topic and kind (copies, distinct)', labelNames: ['topic', 'kind'], registers: [this.registry], collect () { this.reset(); for (const [topic, t] of trafficEntries(node.network.traffic)) { this.inc({ topic, kind: 'copies' }, t.copyBytes); this.inc({ topic, kind: 'distinct' }, t.distinctBytes) } } })
    // A connected peer found without an outbound gossip stream and given a new one (src/network/gossip-streams.ts).
    new Counter({ name: 'medledger_gossip_streams_reopened_total', help: 'Outbound gossip streams opened again to a peer that stayed connected after the connection carrying its stream closed', registers: [this.registry], collect () { this.reset(); this.inc(node.network.gossipStats?.streamsReopened ?? 0) } })
    // Compact proposals (src/network/compact-proposals.ts): made whole from the mempool, with batches fetched, or given up on.
    new Counter({ name: 'medledger_compact_proposals_total', help: 'Compact proposals received, by outcome: assembled (made whole), fetched (of those, needing batches from a peer), failed (given up: batches not to be had)', labelNames: ['outcome'], registers: [this.registry], collect () { this.reset(); const a = node.network.assembly; this.inc({ outcome: 'assembled' }, a.assembled); this.inc({ outcome: 'fetched' }, a.fetches); this.inc({ outcome: 'failed' }, a.failed) } })
    new Counter({ name: 'medledger_proposal_batches_fetched_total', help: 'Batches of compact proposals fetched from a peer because this node did not hold them', registers: [this.registry], collect () { this.reset(); this.inc(node.network.assembly.batchesFetched) } })
    new Gauge({ name: 'medledger_mempool_records', help: 'Records waiting for a block', registers: [this.registry], collect () { this.set(node.mempool.recordCount) } })
  }

  /** Event-stream clients connected, and those dropped for not reading. */
  watchEvents (hub: { readonly size: number, readonly dropped: number }): void {
    new Gauge({ name: 'medledger_api_event_clients', help: 'GET /v1/events clients connected', registers: [this.registry], collect () { this.set(hub.size) } })
    new Gauge({ name: 'medledger_api_event_clients_dropped', help: 'GET /v1/events clients dropped because they did not read (since start)', registers: [this.registry], collect () { this.set(hub.dropped) } })
  }

  async render (): Promise<string> {
    return await this.registry.metrics()
  }
}
