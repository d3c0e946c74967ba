import test from 'ava'
import { GovernanceSchedule } from '../../../src/governance/schedule.ts'
import { MemberAllowlist } from '../../../src/governance/members.ts'
import { approveChange, checkChange, decodeChange, encodeChange, GOVERNANCE_RECORD_TYPE, type GovernanceAction, type ValidatorSetChange } from '../../../src/governance/change.ts'
import { checkGovernanceRecords } from '../../../src/governance/admission.ts'
import { checkBatch } from '../../../src/chain/validate.ts'
import { authorsAt } from '../../../src/chain/validator-schedule.ts'
import { MemberSet } from '../../../src/chain/member-set.ts'
import { Genesis } from '../../../src/chain/genesis.ts'
import { ChainErrorCode } from '../../../src/chain/errors.ts'
import { ChainVerifier, genesisTip } from '../../../src/chain/verifier.ts'
import type { Block, RecordBatch } from '../../../src/chain/types.ts'
import { ZERO_HASH } from '../../../src/crypto/hash.ts'
import { peerIdOfPublicKey } from '../../../src/crypto/ed25519.ts'
import { VerifyPool } from '../../../src/crypto/verify-pool.ts'
import { toHex } from '../../../src/encoding/bytes.ts'
import { isMedledgerError } from '../../../src/errors.ts'
import { makeChain, sampleRecord, signBatch, testKey, testValidators, TEST_CHAIN_ID, TEST_TIME, validatorSetOf } from '../../helpers/fixtures.ts'

const V = testValidators(4)
const SET = validatorSetOf(V)
const MEMBER = testKey(60)
const LATE = testKey(61)
const STRANGER = testKey(62)
const DELAY = 2
const pool = new VerifyPool({ inlineBelow: Number.MAX_SAFE_INTEGER })
test.after.always(async () => { await pool.close() })

function change (action: GovernanceAction, publicKey: Uint8Array, approvers = 3, nonce = 0): ValidatorSetChange {
  let c: ValidatorSetChange = { action, name: 'clinic', publicKey, nonce, approvals: [] }
  for (const v of V.slice(0, approvers)) c = approveChange(TEST_CHAIN_ID, c, v)
  return c
}

function governanceBatch (c: ValidatorSetChange, serial: number): RecordBatch {
  return signBatch(V[0], [sampleRecord(V[0].publicKey, serial, { type: GOVERNANCE_RECORD_TYPE, payload: encodeChange(c) })])
}

function block (height: number, c?: ValidatorSetChange): Block {
  return { header: { height } as Block['header'], body: { batches: c === undefined ? [] : [governanceBatch(c, height)], lastCommit: null, evidence: [] } }
}

let serial = 0
const batchBy = (author: typeof MEMBER): RecordBatch => signBatch(author, [sampleRecord(author.publicKey, 5_000 + serial++)])

const codeOf = (fn: () => unknown): string | undefined => {
  try { fn() } catch (err) { return isMedledgerError(err) ? err.code : 'OTHER' }
  return undefined
}

/** A schedule whose genesis has MEMBER; LATE is added at `added` and MEMBER removed at `removed` (in force DELAY later). */
function schedule (events: Map<number, ValidatorSetChange>, last: number): GovernanceSchedule {
  const s = new GovernanceSchedule(SET, DELAY, new MemberSet([{ name: 'member', publicKey: MEMBER.publicKey }]))
  for (let h = 1; h <= last; h++) s.observe(block(h, events.get(h)))
  return s
}

test('a batch by a member in force is valid; by a stranger it is not; by a removed member it is valid until the removal takes effect, not from then on', t => {
  const s = schedule(new Map([[3, change('remove-member', MEMBER.publicKey)]]), 6)
  const effect = 3 + DELAY
  for (let h = 1; h < effect; h++) t.notThrows(() => checkBatch(TEST_CHAIN_ID, batchBy(MEMBER), authorsAt(s, h)), `member batch at ${h}`)
  for (const h of [effect, effect + 1, 100]) t.is(codeOf(() => checkBatch(TEST_CHAIN_ID, batchBy(MEMBER), authorsAt(s, h))), ChainErrorCode.BATCH_AUTHOR_UNKNOWN, `removed member at ${h}`)
  for (const h of [1, 4, 10]) t.is(codeOf(() => checkBatch(TEST_CHAIN_ID, batchBy(STRANGER), authorsAt(s, h))), ChainErrorCode.BATCH_AUTHOR_UNKNOWN, `stranger at ${h}`)
  // Validators keep authoring: a member change leaves the validator set (and its hash) as it was.
  t.notThrows(() => checkBatch(TEST_CHAIN_ID, batchBy(V[2]), authorsAt(s, 10)))
  t.deepEqual(s.at(10).hash, SET.hash)
})

test('a member added by governance authors from its effect height on', t => {
  const s = schedule(new Map([[2, change('add-member', LATE.publicKey)]]), 5)
  t.is(codeOf(() => checkBatch(TEST_CHAIN_ID, batchBy(LATE), authorsAt(s, 2 + DELAY - 1))), ChainErrorCode.BATCH_AUTHOR_UNKNOWN)
  t.notThrows(() => checkBatch(TEST_CHAIN_ID, batchBy(LATE), authorsAt(s, 2 + DELAY)))
  t.is(s.membersAt(2 + DELAY).size, 2)
  t.is(s.latestMembers().size, 2)
})

test('member changes: a quorum of validators approves, one role per peer, and one change at a time with validator changes', t => {
  const members = new MemberSet([{ name: 'member', publicKey: MEMBER.publicKey }])
  t.is(codeOf(() => checkChange(TEST_CHAIN_ID, change('add-member', LATE.publicKey, 2), SET, members)), ChainErrorCode.GOVERNANCE_INVALID, 'two approvals of four')
  t.is(checkChange(TEST_CHAIN_ID, change('add-member', LATE.publicKey), SET, members).length, 3)
  t.is(codeOf(() => checkChange(TEST_CHAIN_ID, change('add-member', MEMBER.publicKey), SET, members)), ChainErrorCode.GOVERNANCE_INVALID, 'a member twice')
  t.is(codeOf(() => checkChange(TEST_CHAIN_ID, change('add-member', V[1].publicKey), SET, members)), ChainErrorCode.GOVERNANCE_INVALID, 'a validator as a member')
  t.is(codeOf(() => checkChange(TEST_CHAIN_ID, change('add', MEMBER.publicKey), SET, members)), ChainErrorCode.GOVERNANCE_INVALID, 'a member as a validator')
  t.is(codeOf(() => checkChange(TEST_CHAIN_ID, change('remove-member', STRANGER.publicKey), SET, members)), ChainErrorCode.GOVERNANCE_INVALID, 'removing a non-member')
  // A member cannot approve: approvals count validators only.
  const byMember = approveChange(TEST_CHAIN_ID, change('add-member', LATE.publicKey, 2), MEMBER)
  t.is(codeOf(() => checkChange(TEST_CHAIN_ID, byMember, SET, members)), ChainErrorCode.GOVERNANCE_INVALID)
  // One change at a time, whichever set it changes.
  const s = schedule(new Map([[2, change('add-member', LATE.publicKey)]]), 2)
  t.is(codeOf(() => s.checkBlock(TEST_CHAIN_ID, { ...block(3, change('remove', V[3].publicKey, 3, 1)), header: { height: 3 } as Block['header'] })), ChainErrorCode.GOVERNANCE_INVALID)
  t.is(s.checkBlock(TEST_CHAIN_ID, block(4, change('remove', V[3].publicKey, 3, 1))).length, 3)
  // Mempool admission refuses a member change that could never be included.
  t.is(codeOf(() => checkGovernanceRecords(TEST_CHAIN_ID, [sampleRecord(V[0].publicKey, 1, { type: GOVERNANCE_RECORD_TYPE, payload: encodeChange(change('add-member', V[2].publicKey)) })], s)), ChainErrorCode.GOVERNANCE_INVALID)
})

test('member changes round-trip; the schedule state with members survives serialize/restore', t => {
  for (const action of ['add-member', 'remove-member'] as const) {
    const c = change(action, LATE.publicKey)
    t.is(decodeChange(encodeChange(c)).action, action)
  }
  const s = schedule(new Map([[2, change('add-member', LATE.publicKey)], [5, change('remove-member', MEMBER.publicKey, 3, 1)], [8, change('remove', V[3].publicKey, 3, 2)]]), 12)
  const restored = new GovernanceSchedule(SET, DELAY, new MemberSet([{ name: 'member', publicKey: MEMBER.publicKey }]))
  restored.restore(s.serialize())
  for (const h of [1, 4, 6, 7, 9, 10, 12]) {
    t.deepEqual(restored.membersAt(h).keys.map(toHex), s.membersAt(h).keys.map(toHex), `members at ${h}`)
    t.deepEqual(restored.at(h).hash, s.at(h).hash, `validators at ${h}`)
  }
  t.deepEqual(s.membersAt(12).keys.map(toHex), [toHex(LATE.publicKey)])
  t.is(s.at(12).size, 3)
})

test('the allowlist admits members in force and those added, and cuts off a removed member at its effect height', t => {
  const events = new Map([[2, change('add-member', LATE.publicKey)], [5, change('remove-member', MEMBER.publicKey, 3, 1)]])
  const s = new GovernanceSchedule(SET, DELAY, new MemberSet([{ name: 'member', publicKey: MEMBER.publicKey }]))
  const allow = new MemberAllowlist(s, [])
  const member = peerIdOfPublicKey(MEMBER.publicKey)
  const late = peerIdOfPublicKey(LATE.publicKey)
  t.true(allow.at(1).includes(member))
  t.false(allow.at(1).includes(late))
  for (let h = 1; h <= 9; h++) {
    s.observe(block(h, events.get(h)))
    const next = allow.at(h + 1)
    if (h >= 2) t.true(next.includes(late), `the added member is admitted from its inclusion (head ${h})`)
    t.is(next.includes(member), h + 1 < 5 + DELAY, `the removed member at head ${h}`)
    t.is(allow.leaving(h + 1).includes(member), h >= 5 && h + 1 < 5 + DELAY, `the removed member is leaving at head ${h}`)
  }
  t.false(allow.at(10).includes(peerIdOfPublicKey(STRANGER.publicKey)))
})

test('ChainVerifier: a member\'s batch verifies while it is in force; after its removal takes effect, a block carrying its batch is refused', async t => {
  const removal = change('remove-member', MEMBER.publicKey)
  const batchesAt = (bad: number) => (h: number, proposer: typeof V[0]): RecordBatch[] => {
    if (h === 2) return [governanceBatch(removal, 9_000)]
    if (h === bad) return [batchBy(MEMBER)]
    return [signBatch(proposer, [sampleRecord(proposer.publicKey, 7_000 + h)]), batchBy(MEMBER)].slice(0, h < 2 + DELAY ? 2 : 1)
  }
  const verify = async (chainLength: number, bad: number): Promise<unknown> => {
    const s = new GovernanceSchedule(SET, DELAY, new MemberSet([{ name: 'member', publicKey: MEMBER.publicKey }]))
    const chain = makeChain(V, chainLength, { batchesAt: batchesAt(bad) })
    return await new ChainVerifier(TEST_CHAIN_ID, s, pool).verifyRun(genesisTip(ZERO_HASH, TEST_TIME), chain)
  }
  // Heights 1 and 3 carry member batches (in force until 4); from 4 on, none: the chain verifies.
  await t.notThrowsAsync(verify(6, 0))
  // The member's batch at the effect height (4) or later is refused.
  await t.throwsAsync(verify(6, 2 + DELAY), { code: ChainErrorCode.BATCH_AUTHOR_UNKNOWN })
  await t.throwsAsync(verify(6, 6), { code: ChainErrorCode.BATCH_AUTHOR_UNKNOWN })
  // A stranger's batch is refused at any height.
  const s = new GovernanceSchedule(SET, DELAY)
  const strangers = makeChain(V, 2, { batchesAt: (h) => h === 2 ? [batchBy(STRANGER)] : [batchBy(V[0])] })
  await t.throwsAsync(new ChainVerifier(TEST_CHAIN_ID, s, pool).verifyRun(genesisTip(ZERO_HASH, TEST_TIME), strangers), { code: ChainErrorCode.BATCH_AUTHOR_UNKNOWN })
})

test('genesis: members are read from the file, hashed only when present, and hold one role', t => {
  const base = { chainId: 'members-test', genesisTime: new Date(TEST_TIME).toISOString(), validators: V.map((v, i) => ({ name: `v${i}`, peerId: v.peerId })), observers: [] }
  const without = Genesis.fromJson(base)
  const withMembers = Genesis.fromJson({ ...base, members: [{ name: 'clinic', peerId: MEMBER.peerId }] })
  t.is(without.members.size, 0)
  t.false('members' in without.toJson())
  t.true(withMembers.members.has(MEMBER.publicKey))
  t.notDeepEqual(withMembers.hash, without.hash)
  t.deepEqual(Genesis.fromJson(JSON.parse(JSON.stringify(withMembers.toJson()))).hash, withMembers.hash)
  t.throws(() => Genesis.fromJson({ ...base, members: [{ name: 'twice', peerId: V[0].peerId }] }), { message: /one role/ })
  t.throws(() => Genesis.fromJson({ ...base, observers: [{ name: 'o', peerId: MEMBER.peerId }], members: [{ name: 'm', peerId: MEMBER.peerId }] }), { message: /one role/ })
  t.throws(() => Genesis.fromJson({ ...base, members: 'clinic' }), { message: /members must be a list/ })
})
