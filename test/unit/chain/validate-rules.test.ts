/**
 * The insider rules of docs/protocol.md section 9 ("Time", "Records appear once"), one check at
 * a time: block time strictly after the parent's and, for a new proposal, not beyond the local
 * clock plus the allowed drift; a record id at most once in a batch and in a block.
 */
import test from 'ava'
import { buildBlock } from '../../../src/chain/block-builder.ts'
import { ChainErrorCode, type ChainError } from '../../../src/chain/errors.ts'
import { blockHash, recordId } from '../../../src/chain/hashing.ts'
import { blockRecordIds, checkBatch, checkBlock, checkBlockTime } from '../../../src/chain/validate.ts'
import { ZERO_HASH } from '../../../src/crypto/hash.ts'
import { PeerAction } from '../../../src/errors.ts'
import { makeBlock, sampleRecord, signBatch, testValidators, TEST_CHAIN_ID, TEST_TIME, validatorSetOf } from '../../helpers/fixtures.ts'

const V = testValidators(4)
const SET = validatorSetOf(V)
const YEAR_2100 = Date.UTC(2100, 0, 1)
const DRIFT = 5000

const blockAt = (time: number, parentTime = TEST_TIME) => ({
  block: makeBlock({ height: 1, time, proposer: V[1], validatorSetHash: SET.hash }),
  parent: { height: 0, hash: ZERO_HASH, time: parentTime }
})

test('a block timed at its parent\'s time is refused; one millisecond later is valid', t => {
  const same = blockAt(TEST_TIME)
  t.throws(() => { checkBlock(TEST_CHAIN_ID, same.block, same.parent, SET) }, { code: ChainErrorCode.HEADER_TIME })
  const before = blockAt(TEST_TIME - 1)
  t.throws(() => { checkBlock(TEST_CHAIN_ID, before.block, before.parent, SET) }, { code: ChainErrorCode.HEADER_TIME })
  const after = blockAt(TEST_TIME + 1)
  t.notThrows(() => { checkBlock(TEST_CHAIN_ID, after.block, after.parent, SET) })
})

test('a new block may be at most the allowed drift past the local clock: 2100 is refused', t => {
  const now = Date.now()
  const header = (time: number) => makeBlock({ height: 7, time, proposer: V[0] }).header
  const err = t.throws<ChainError>(() => { checkBlockTime(header(YEAR_2100), now, DRIFT) }, { code: ChainErrorCode.HEADER_FUTURE })
  // Local, not the sender's fault for certain (our clock may be the wrong one): ignored, not punished.
  t.is(err?.action, PeerAction.IGNORE)
  t.throws(() => { checkBlockTime(header(now + DRIFT + 1), now, DRIFT) }, { code: ChainErrorCode.HEADER_FUTURE })
  t.notThrows(() => { checkBlockTime(header(now + DRIFT), now, DRIFT) })
  t.notThrows(() => { checkBlockTime(header(TEST_TIME), now, DRIFT) }, 'the past is never refused by the clock rule')
})

test('the chain rules of a block carry no clock: a block of 2100 after its parent passes checkBlock', t => {
  // What sync, import and audit apply to final blocks: only the parent ordering.
  const { block, parent } = blockAt(YEAR_2100)
  t.notThrows(() => { checkBlock(TEST_CHAIN_ID, block, parent, SET) })
})

test('a proposer builds its block strictly after the parent, even when its clock is behind', t => {
  const parent = { height: 4, hash: blockHash(makeBlock({ height: 4, proposer: V[0] }).header), time: TEST_TIME + 10_000 }
  const args = { chainId: TEST_CHAIN_ID, parent, round: 0, proposer: V[1].publicKey, validators: SET, batches: [], lastCommit: null, evidence: [] }
  t.is(buildBlock({ ...args, now: TEST_TIME }).header.time, parent.time + 1)
  t.is(buildBlock({ ...args, now: parent.time }).header.time, parent.time + 1)
  t.is(buildBlock({ ...args, now: parent.time + 500 }).header.time, parent.time + 500)
})

test('a batch carrying one record twice is refused', t => {
  const r = sampleRecord(V[0].publicKey, 1)
  const twice = signBatch(V[0], [sampleRecord(V[0].publicKey, 2), r, r])
  t.throws(() => checkBatch(TEST_CHAIN_ID, twice, SET), { code: ChainErrorCode.RECORD_DUPLICATE })
  t.notThrows(() => checkBatch(TEST_CHAIN_ID, signBatch(V[0], [sampleRecord(V[0].publicKey, 2), r]), SET))
})

test('a block\'s record ids are all of its batches\' records, and none may repeat across batches', t => {
  const a = signBatch(V[0], [sampleRecord(V[0].publicKey, 1), sampleRecord(V[0].publicKey, 2)])
  const b = signBatch(V[1], [sampleRecord(V[1].publicKey, 3)])
  t.deepEqual(blockRecordIds([a, b]), [...a.records, ...b.records].map(recordId))
  // The same record of author 0 in a second batch, not first in it.
  const again = signBatch(V[0], [sampleRecord(V[0].publicKey, 9), a.records[1]])
  t.throws(() => blockRecordIds([a, b, again]), { code: ChainErrorCode.RECORD_DUPLICATE })
})
