/** Which of the two gossip topics a message came on (its name's second-last segment, protocol-ids.ts), or 'other'. */
export type TrafficTopic = 'batches' | 'consensus' | 'other'

export interface TopicTraffic {
  /** Every copy received from a peer, duplicates included (gossipsub's fast id is computed once per copy). */
  copies: number
  copyBytes: number
  /** Distinct messages handed to the application (after gossipsub's seen-cache). */
  distinct: number
  distinctBytes: number
}

const TOPICS: TrafficTopic[] = ['batches', 'consensus', 'other']

export function trafficTopic (topic: string): TrafficTopic {
  const kind = topic.split('/').at(-2)
  return kind === 'consensus' || kind === 'batches' ? kind : 'other'
}

/**
 * Gossip received by this node, per topic: copies on the wire and distinct messages, with their
 * data bytes, so that duplicates (copies per distinct message) are visible in /metrics. Three
 * fixed topics of counters: nothing a peer sends can grow it.
 */
export class GossipTraffic {
  readonly byTopic: Record<TrafficTopic, TopicTraffic> = Object.fromEntries(TOPICS.map(t => [t, { copies: 0, copyBytes: 0, distinct: 0, distinctBytes: 0 }])) as Record<TrafficTopic, TopicTraffic>

  copy (topic: string, bytes: number): void {
    const t = this.byTopic[trafficTopic(topic)]
    t.copies++
    t.copyBytes += bytes
  }

  distinct (topic: string, bytes: number): void {
    const t = this.byTopic[trafficTopic(topic)]
    t.distinct++
    t.distinctBytes += bytes
  }

  /** Copies received per distinct message (1 = no duplicates), or NaN before any message. */
  duplicateRatio (topic?: TrafficTopic): number {
    const ts = topic === undefined ? TOPICS.map(k => this.byTopic[k]) : [this.byTopic[topic]]
    const copies = ts.reduce((n, t) => n + t.copies, 0)
    const distinct = ts.reduce((n, t) => n + t.distinct, 0)
    return distinct === 0 ? NaN : copies / distinct
  }
}
