import test from 'ava'
import { GovernanceSchedule } from '../../../src/governance/schedule.ts'
import { approveChange, checkChange, decodeChange, encodeChange, GOVERNANCE_RECORD_TYPE, type ValidatorSetChange } from '../../../src/governance/change.ts'
import { verifySignature } from '../../../src/crypto/ed25519.ts'
import { isMedledgerError } from '../../../src/errors.ts'
import type { Block } from '../../../src/chain/types.ts'
import { sampleRecord, signBatch, testKey, testValidators, validatorSetOf, TEST_CHAIN_ID } from '../../helpers/fixtures.ts'

const validators = testValidators(4)
const genesisSet = validatorSetOf(validators)
const newcomer = testKey(99)

function change (approvers: number, action: 'add' | 'remove' = 'add', publicKey = newcomer.publicKey, nonce = 0): ValidatorSetChange {
  let c: ValidatorSetChange = { action, name: 'newcomer', publicKey, nonce, approvals: [] }
  for (const v of validators.slice(0, approvers)) c = approveChange(TEST_CHAIN_ID, c, v)
  return c
}

function blockWith (height: number, changes: ValidatorSetChange[]): Block {
  const records = changes.map((c, i) => sampleRecord(validators[0].publicKey, i, { type: GOVERNANCE_RECORD_TYPE, payload: encodeChange(c) }))
  const batches = records.length === 0 ? [] : [signBatch(validators[0], records)]
  return { header: { height } as Block['header'], body: { batches, lastCommit: null, evidence: [] } }
}

const codeOf = (fn: () => unknown): string | undefined => {
  try { fn() } catch (err) { return isMedledgerError(err) ? err.code : 'OTHER' }
  return undefined
}

test('a change needs a quorum of distinct current validators, and its approvals verify', t => {
  t.is(codeOf(() => checkChange(TEST_CHAIN_ID, change(2), genesisSet)), 'CHAIN_GOVERNANCE_INVALID')
  const checks = checkChange(TEST_CHAIN_ID, change(3), genesisSet)
  t.is(checks.length, 3)
  t.true(checks.every(c => verifySignature(c.publicKey, c.message, c.signature)))
  const twice = change(3)
  twice.approvals.push(twice.approvals[0])
  t.is(codeOf(() => checkChange(TEST_CHAIN_ID, twice, genesisSet)), 'CHAIN_GOVERNANCE_INVALID')
  // Approvals signed for another chain do not verify here.
  const other = checkChange('another-chain', change(3), genesisSet)
  t.false(other.every(c => verifySignature(c.publicKey, c.message, c.signature)))
  t.is(codeOf(() => checkChange(TEST_CHAIN_ID, change(3, 'add', validators[1].publicKey), genesisSet)), 'CHAIN_GOVERNANCE_INVALID', 'adding a member twice')
  t.is(codeOf(() => checkChange(TEST_CHAIN_ID, change(3, 'remove'), genesisSet)), 'CHAIN_GOVERNANCE_INVALID', 'removing a non-member')
})

test('the change file encoding round-trips canonically', t => {
  const c = change(3)
  t.deepEqual(encodeChange(decodeChange(encodeChange(c))), encodeChange(c))
})

test('a change included at h is in force from h + delay; one change at a time; state survives serialize/restore', t => {
  const s = new GovernanceSchedule(genesisSet, 2)
  t.is(s.checkBlock(TEST_CHAIN_ID, blockWith(5, [change(3)])).length, 3)
  t.is(codeOf(() => s.checkBlock(TEST_CHAIN_ID, blockWith(5, [change(3), change(3, 'add', newcomer.publicKey, 1)]))), 'CHAIN_GOVERNANCE_INVALID', 'two changes in one block')
  s.observe(blockWith(5, [change(3)]))
  t.is(s.at(5).size, 4)
  t.is(s.at(6).size, 4)
  t.is(s.at(7).size, 5)
  t.is(s.at(7).quorum, 4)
  // While the change waits (heights 6), another is refused; from 7 on it may come.
  const removal = change(3, 'remove', validators[3].publicKey, 1)
  t.is(codeOf(() => s.checkBlock(TEST_CHAIN_ID, blockWith(6, [removal]))), 'CHAIN_GOVERNANCE_INVALID')
  t.is(codeOf(() => s.checkBlock(TEST_CHAIN_ID, blockWith(7, [change(2, 'remove', validators[3].publicKey, 1)]))), 'CHAIN_GOVERNANCE_INVALID', 'the new set of 5 needs 4 approvals')
  const restored = new GovernanceSchedule(genesisSet, 2)
  restored.restore(s.serialize())
  t.is(restored.scannedTo, 5)
  t.deepEqual(restored.at(7).hash, s.at(7).hash)
  t.deepEqual(restored.at(6).hash, genesisSet.hash)
  // Observing a height again changes nothing (sync may deliver a block twice).
  s.observe(blockWith(5, [change(3)]))
  t.is(s.changes().length, 1)
})
