import test from 'ava'
import { GovernanceSchedule } from '../../../src/governance/schedule.ts'
import { MemberAllowlist } from '../../../src/governance/members.ts'
import { approveChange, encodeChange, GOVERNANCE_RECORD_TYPE, type ValidatorSetChange } from '../../../src/governance/change.ts'
import type { Block } from '../../../src/chain/types.ts'
import { sampleRecord, signBatch, testKey, testValidators, validatorSetOf, TEST_CHAIN_ID } from '../../helpers/fixtures.ts'

const validators = testValidators(4)
const observer = testKey(77)
const newcomer = testKey(99)
const DELAY = 2

function change (action: 'add' | 'remove', publicKey: Uint8Array): ValidatorSetChange {
  let c: ValidatorSetChange = { action, name: 'member', publicKey, nonce: 0, approvals: [] }
  for (const v of validators.slice(0, 3)) c = approveChange(TEST_CHAIN_ID, c, v)
  return c
}

function block (height: number, c?: ValidatorSetChange): Block {
  const batches = c === undefined ? [] : [signBatch(validators[0], [sampleRecord(validators[0].publicKey, height, { type: GOVERNANCE_RECORD_TYPE, payload: encodeChange(c) })])]
  return { header: { height } as Block['header'], body: { batches, lastCommit: null, evidence: [] } }
}

/** Replays final blocks 1..last as a node does, recording the allowlist it sets after each (deciding head + 1). */
function follow (changes: Map<number, ValidatorSetChange>, last: number): { schedule: GovernanceSchedule, lists: Map<number, string[]> } {
  const schedule = new GovernanceSchedule(validatorSetOf(validators), DELAY)
  const members = new MemberAllowlist(schedule, [observer.publicKey])
  const lists = new Map<number, string[]>()
  for (let h = 1; h <= last; h++) {
    schedule.observe(block(h, changes.get(h)))
    lists.set(h, members.at(h + 1))
  }
  return { schedule, lists }
}

test('a removed validator is admitted until its removal takes effect, and refused from the head before the effect height on', t => {
  const removed = validators[1]
  const included = 5
  const effect = included + DELAY
  const { schedule, lists } = follow(new Map([[included, change('remove', removed.publicKey)]]), 10)
  t.is(schedule.changes()[0].effective, effect)
  // Included at 5: still in force for heights 6 (its votes may be needed), so still admitted.
  for (let head = 1; head < effect - 1; head++) t.true(lists.get(head)!.includes(removed.peerId), `admitted after block ${head}`)
  // Head effect - 1: the node now decides height `effect`, whose set no longer has it.
  for (let head = effect - 1; head <= 10; head++) t.false(lists.get(head)!.includes(removed.peerId), `refused after block ${head}`)
  // Everyone else stays, observers included.
  for (const v of validators.filter(v => v !== removed)) t.true(lists.get(10)!.includes(v.peerId))
  t.true(lists.get(10)!.includes(observer.peerId))
})

test('the allowlist changes at the effect height, not only when the change is included', t => {
  const removed = validators[2]
  const { lists } = follow(new Map([[3, change('remove', removed.publicKey)]]), 8)
  // What the node used to do: recompute only when a change is included (after block 3).
  const atInclusion = lists.get(3)!
  t.true(atInclusion.includes(removed.peerId), 'still in force when included')
  t.not(lists.get(3 + DELAY - 1)!.length, atInclusion.length, 'recomputed when the removal takes effect')
})

test('an added validator is admitted from the block that includes its addition (so it can sync and vote at the effect height)', t => {
  const { lists } = follow(new Map([[4, change('add', newcomer.publicKey)]]), 8)
  for (let head = 1; head < 4; head++) t.false(lists.get(head)!.includes(newcomer.peerId))
  for (let head = 4; head <= 8; head++) t.true(lists.get(head)!.includes(newcomer.peerId))
})

test('the list has each peer once', t => {
  const schedule = new GovernanceSchedule(validatorSetOf(validators), DELAY)
  const members = new MemberAllowlist(schedule, [observer.publicKey, validators[0].publicKey])
  const list = members.at(1)
  t.is(new Set(list).size, list.length)
  t.is(list.length, 5)
})

test('a member whose removal is final but not yet in force is "leaving" until it is refused', t => {
  const removed = validators[3]
  const schedule = new GovernanceSchedule(validatorSetOf(validators), DELAY)
  const members = new MemberAllowlist(schedule, [observer.publicKey])
  const leavingAfter = new Map<number, string[]>()
  for (let h = 1; h <= 8; h++) {
    schedule.observe(block(h, h === 4 ? change('remove', removed.publicKey) : undefined))
    leavingAfter.set(h, members.leaving(h + 1))
  }
  for (const h of [1, 2, 3]) t.deepEqual(leavingAfter.get(h), [], `nothing leaving after block ${h}`)
  // Included at 4, in force from 6: leaving after block 4, refused (so no longer leaving) after block 5.
  t.deepEqual(leavingAfter.get(4), [removed.peerId])
  for (const h of [5, 6, 7, 8]) t.deepEqual(leavingAfter.get(h), [])
})
