import test from 'ava'
import { randomBytes } from 'node:crypto'
import { encodeConsensusMessage, type ConsensusMessage } from '../../../src/chain/codec.ts'
import { VoteType } from '../../../src/chain/types.ts'
import { sha256 } from '../../../src/crypto/hash.ts'
import { bytesEqual } from '../../../src/encoding/bytes.ts'
import { GOSSIP_ID_EPOCH_MS, gossipMessageId, withoutSeq } from '../../../src/network/message-id.ts'
import { topics } from '../../../src/network/protocol-ids.ts'
import { gossipOptions } from '../../../src/network/libp2p-node.ts'
import { makeBlock, makeProposal, sampleBatch, signVote, testValidators } from '../../helpers/fixtures.ts'

const [A] = testValidators(4)
const tp = topics('id-test')
const vote: ConsensusMessage = { kind: 'vote', vote: signVote(A, { type: VoteType.PRECOMMIT, height: 3, round: 1, blockHash: null }) }
const proposal: ConsensusMessage = { kind: 'proposal', proposal: makeProposal(A, makeBlock({ height: 3, round: 1, proposer: A, batches: [sampleBatch(A, 50)] })) }
const t0 = 1_700_000_000_000

test('the unsigned seq is not part of a consensus message id: re-sent copies within an epoch are one message', t => {
  for (const m of [vote, proposal]) {
    const first = gossipMessageId(tp.consensus, encodeConsensusMessage({ ...m, seq: 0 }), t0)
    for (const seq of [1, 23, 24, 255, 256, 65_535, 65_536, 2 ** 32, 2 ** 40]) {
      t.true(bytesEqual(gossipMessageId(tp.consensus, encodeConsensusMessage({ ...m, seq }), t0 + GOSSIP_ID_EPOCH_MS - 1), first), `seq ${seq}`)
    }
  }
})

test('a rebroadcast in a later epoch gets a new id; other content gets another id', t => {
  const bytes = encodeConsensusMessage(vote)
  t.false(bytesEqual(gossipMessageId(tp.consensus, bytes, t0), gossipMessageId(tp.consensus, bytes, t0 + GOSSIP_ID_EPOCH_MS)))
  t.false(bytesEqual(gossipMessageId(tp.consensus, bytes, t0), gossipMessageId(tp.consensus, encodeConsensusMessage(proposal), t0)))
})

test('batch messages (all signed) and bytes that are no consensus message keep the hash of their bytes', t => {
  const data = randomBytes(300)
  t.true(bytesEqual(gossipMessageId(tp.batches, data, t0), sha256(data)))
  t.true(bytesEqual(gossipMessageId(tp.consensus, data, t0), sha256(data)))
  const bytes = encodeConsensusMessage(vote)
  // Truncated, or with bytes after the seq: not a consensus message.
  t.is(withoutSeq(bytes.subarray(0, bytes.length - 1)), undefined)
  t.is(withoutSeq(new Uint8Array([...bytes, 0])), undefined)
  t.is(withoutSeq(new Uint8Array([0x83, 0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])), undefined)
})

test('a consensus message gets another gossip id one epoch later: an IHAVE from one node names an id another cannot match, so lazy gossip is off', t => {
  const data = encodeConsensusMessage({ ...vote, seq: 0 })
  t.false(bytesEqual(gossipMessageId(tp.consensus, data, t0), gossipMessageId(tp.consensus, data, t0 + GOSSIP_ID_EPOCH_MS)), 'two nodes one epoch apart name one message differently')
  // IHAVE/IWANT promises on such ids were broken promises, behaviour penalties against honest peers.
  const o = gossipOptions()
  t.is(o?.Dlazy, 0, 'no IHAVE to a fixed number of peers')
  t.is(o?.gossipFactor, 0, 'nor to a share of them')
})
