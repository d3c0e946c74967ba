import test from 'ava'
import { blockHash } from '../../../src/chain/hashing.ts'
import { ChainErrorCode } from '../../../src/chain/errors.ts'
import { checkProposedBlock } from '../../../src/chain/validate.ts'
import type { BlockHeader, ProposalHeader } from '../../../src/chain/types.ts'
import { makeBlock, signProposalHeader, testValidators, validatorSetOf } from '../../helpers/fixtures.ts'

// Four validators; the proposer of (h, r) is V[(h + r) mod 4] (quorum.test.ts holds that rule).
const keys = testValidators(4)
const set = validatorSetOf(keys)
const H = 6
const proposerOf = (round: number): typeof keys[number] => keys.find(k => set.isProposer(k.publicKey, H, round))!

/** A block built in round `builtIn` by `builder`, proposed in `round` with `validRound`. */
function propose (round: number, validRound: number, builtIn: number, builder = proposerOf(builtIn)): { header: BlockHeader, proposal: ProposalHeader } {
  const block = makeBlock({ height: H, round: builtIn, proposer: builder })
  const proposal = signProposalHeader(proposerOf(round), { height: H, round, validRound, blockHash: blockHash(block.header) })
  return { header: block.header, proposal }
}

test('a new block is built in the round it is proposed in, by that round\'s proposer', t => {
  const ok = propose(2, -1, 2)
  t.notThrows(() => checkProposedBlock(ok.header, ok.proposal, set))
  const older = propose(2, -1, 1)
  t.throws(() => checkProposedBlock(older.header, older.proposal, set), { code: ChainErrorCode.HEADER_ROUND })
  const otherBuilder = propose(2, -1, 2, proposerOf(3))
  t.throws(() => checkProposedBlock(otherBuilder.header, otherBuilder.proposal, set), { code: ChainErrorCode.HEADER_PROPOSER })
})

test('a re-proposal carries the block as the proposer of an earlier round built it (found by simulation 3)', t => {
  // The round-0 proposer built B0, a polka formed for it, then that validator went down; the
  // proposer of round 1 re-proposes B0 with validRound 0. Every correct validator must accept it.
  const reproposed = propose(1, 0, 0)
  t.notDeepEqual(reproposed.header.proposer, reproposed.proposal.proposer)
  t.notThrows(() => checkProposedBlock(reproposed.header, reproposed.proposal, set))
  // Re-proposed again later, by yet another proposer, from a later polka on the same block.
  const later = propose(5, 3, 0)
  t.notThrows(() => checkProposedBlock(later.header, later.proposal, set))
  // By the validator that built it, too.
  const own = propose(4, 2, 0)
  t.deepEqual(own.header.proposer, own.proposal.proposer)
  t.notThrows(() => checkProposedBlock(own.header, own.proposal, set))
})

test('a re-proposed block cannot be newer than its valid round, nor built out of turn', t => {
  const newer = propose(3, 1, 2)
  t.throws(() => checkProposedBlock(newer.header, newer.proposal, set), { code: ChainErrorCode.HEADER_ROUND })
  const outOfTurn = propose(3, 1, 1, proposerOf(2))
  t.throws(() => checkProposedBlock(outOfTurn.header, outOfTurn.proposal, set), { code: ChainErrorCode.HEADER_PROPOSER })
})
