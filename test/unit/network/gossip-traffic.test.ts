import test from 'ava'
import { GossipTraffic, trafficTopic } from '../../../src/network/gossip-traffic.ts'
import { topics } from '../../../src/network/protocol-ids.ts'

test('gossip traffic is counted per topic: copies (duplicates included) and distinct messages, with their bytes', t => {
  const tp = topics('chain-x')
  t.is(trafficTopic(tp.batches), 'batches')
  t.is(trafficTopic(tp.consensus), 'consensus')
  t.is(trafficTopic('/someone/else/topic'), 'other')
  const g = new GossipTraffic()
  t.true(Number.isNaN(g.duplicateRatio()))
  // One consensus message arriving from three peers, one batch message from one.
  for (let i = 0; i < 3; i++) g.copy(tp.consensus, 100)
  g.distinct(tp.consensus, 100)
  g.copy(tp.batches, 5000)
  g.distinct(tp.batches, 5000)
  t.deepEqual(g.byTopic.consensus, { copies: 3, copyBytes: 300, distinct: 1, distinctBytes: 100 })
  t.deepEqual(g.byTopic.batches, { copies: 1, copyBytes: 5000, distinct: 1, distinctBytes: 5000 })
  t.is(g.duplicateRatio('consensus'), 3)
  t.is(g.duplicateRatio(), 2)
  // Any topic name a peer makes up lands in the one 'other' bucket: nothing grows.
  for (let i = 0; i < 100; i++) g.copy(`/x/${i}/y`, 1)
  t.deepEqual(Object.keys(g.byTopic).sort(), ['batches', 'consensus', 'other'])
})
