import test from 'ava'
import fc from 'fast-check'
import { decodeCbor } from '../../../src/encoding/cbor.ts'
import { verifySignature } from '../../../src/crypto/ed25519.ts'
import { sha256 } from '../../../src/crypto/hash.ts'
import {
  batchRecordsRoot, batchSignBytes, blockHash, certificateHash, DOMAIN, proposalSignBytes, voteSignBytes
} from '../../../src/chain/hashing.ts'
import { VoteType } from '../../../src/chain/types.ts'
import {
  makeChain, sampleBatch, signProposalHeader, signVote, TEST_CHAIN_ID, testKey, testValidators
} from '../../helpers/fixtures.ts'

/*
 * Domain-separated sign bytes: [domain tag, chain id, ...fields] in canonical CBOR. A signature
 * verifies only over exactly those bytes: any changed byte, another chain id, another field
 * value or another message type makes it fail.
 */

const key = testKey(1)
const HASH = sha256(new Uint8Array([1]))
const OTHER = sha256(new Uint8Array([2]))

/** Every single-bit change of `msg` and of `sig` must fail verification. */
function everyBitFlipFails (publicKey: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean {
  for (const [which, bytes] of [['msg', msg], ['sig', sig]] as const) {
    for (let i = 0; i < bytes.length; i++) {
      for (let bit = 0; bit < 8; bit += 3) {
        const c = bytes.slice()
        c[i] ^= 1 << bit
        if (which === 'msg' ? verifySignature(publicKey, c, sig) : verifySignature(publicKey, msg, c)) return false
      }
    }
  }
  return true
}

const otherChainId = fc.string({ minLength: 1, maxLength: 64 }).filter(c => c !== TEST_CHAIN_ID)

test('sign bytes start with the domain tag and the chain id', t => {
  const sb = [
    [DOMAIN.batch, batchSignBytes('c', key.publicKey, HASH, 1)],
    [DOMAIN.vote, voteSignBytes('c', { type: VoteType.PREVOTE, height: 1, round: 0, blockHash: null })],
    [DOMAIN.proposal, proposalSignBytes('c', { height: 1, round: 0, validRound: -1, blockHash: HASH })]
  ] as const
  for (const [tag, bytes] of sb) t.deepEqual((decodeCbor(bytes, 1024) as unknown[]).slice(0, 2), [tag, 'c'])
})

test('batch: the author signature verifies, and fails under any changed byte, another chain id or another record', t => {
  const b = sampleBatch(key, 3)
  const msg = batchSignBytes(TEST_CHAIN_ID, b.author, batchRecordsRoot(b.records), b.records.length)
  t.true(verifySignature(b.author, msg, b.signature))
  t.true(everyBitFlipFails(b.author, msg, b.signature))
  fc.assert(fc.property(otherChainId, c =>
    !verifySignature(b.author, batchSignBytes(c, b.author, batchRecordsRoot(b.records), b.records.length), b.signature)), { numRuns: 50 })
  const changed = [{ ...b.records[0], timestamp: 0 }, ...b.records.slice(1)]
  t.false(verifySignature(b.author, batchSignBytes(TEST_CHAIN_ID, b.author, batchRecordsRoot(changed), 3), b.signature))
  t.false(verifySignature(b.author, batchSignBytes(TEST_CHAIN_ID, b.author, batchRecordsRoot(b.records.slice(0, 2)), 2), b.signature))
  // The count is signed: the same root claimed for another number of records fails.
  t.false(verifySignature(b.author, batchSignBytes(TEST_CHAIN_ID, b.author, batchRecordsRoot(b.records), 4), b.signature))
  t.false(verifySignature(testKey(2).publicKey, msg, b.signature))
})

test('vote: the signature verifies, and fails under any changed byte, another chain id or field', t => {
  const v = signVote(key, { type: VoteType.PREVOTE, height: 10, round: 2, blockHash: HASH })
  const msg = voteSignBytes(TEST_CHAIN_ID, v)
  t.true(verifySignature(v.validator, msg, v.signature))
  t.true(everyBitFlipFails(v.validator, msg, v.signature))
  fc.assert(fc.property(otherChainId, c => !verifySignature(v.validator, voteSignBytes(c, v), v.signature)), { numRuns: 50 })
  for (const change of [{ type: VoteType.PRECOMMIT }, { height: 11 }, { round: 3 }, { blockHash: OTHER }, { blockHash: null }]) {
    t.false(verifySignature(v.validator, voteSignBytes(TEST_CHAIN_ID, { ...v, ...change }), v.signature), JSON.stringify(Object.keys(change)))
  }
})

test('proposal: the signature verifies, and fails under any changed byte, another chain id or field', t => {
  const p = signProposalHeader(key, { height: 10, round: 2, validRound: 1, blockHash: HASH })
  const msg = proposalSignBytes(TEST_CHAIN_ID, p)
  t.true(verifySignature(p.proposer, msg, p.signature))
  t.true(everyBitFlipFails(p.proposer, msg, p.signature))
  fc.assert(fc.property(otherChainId, c => !verifySignature(p.proposer, proposalSignBytes(c, p), p.signature)), { numRuns: 50 })
  for (const change of [{ height: 11 }, { round: 3 }, { validRound: -1 }, { blockHash: OTHER }]) {
    t.false(verifySignature(p.proposer, proposalSignBytes(TEST_CHAIN_ID, { ...p, ...change }), p.signature), JSON.stringify(change))
  }
})

test('a signature over one message type never verifies as another', t => {
  const fields = { height: 1, round: 0, blockHash: HASH }
  const prevote = signVote(key, { type: VoteType.PREVOTE, ...fields })
  const proposal = signProposalHeader(key, { ...fields, validRound: -1 })
  t.false(verifySignature(key.publicKey, proposalSignBytes(TEST_CHAIN_ID, { ...fields, validRound: -1 }), prevote.signature))
  t.false(verifySignature(key.publicKey, voteSignBytes(TEST_CHAIN_ID, { type: VoteType.PREVOTE, ...fields }), proposal.signature))
  t.false(verifySignature(key.publicKey, voteSignBytes(TEST_CHAIN_ID, { type: VoteType.PRECOMMIT, ...fields }), prevote.signature))
  t.false(verifySignature(key.publicKey, batchSignBytes(TEST_CHAIN_ID, key.publicKey, HASH, 1), prevote.signature))
})

test('sign bytes of different message types never coincide', t => {
  fc.assert(fc.property(fc.nat(), fc.nat(), fc.integer({ min: -1, max: 100 }), (height, round, validRound) => {
    const v = voteSignBytes('c', { type: VoteType.PREVOTE, height, round, blockHash: HASH })
    const p = proposalSignBytes('c', { height, round, validRound, blockHash: HASH })
    const b = batchSignBytes('c', key.publicKey, HASH, height)
    return Buffer.compare(v, p) !== 0 && Buffer.compare(v, b) !== 0 && Buffer.compare(p, b) !== 0
  }))
  t.pass()
})

test('a fixture chain links and verifies: parent hashes, last commits and every certificate signature', t => {
  const validators = testValidators(4)
  const chain = makeChain(validators, 5)
  chain.forEach(({ block, certificate }, i) => {
    const h = block.header
    t.is(h.height, i + 1)
    t.deepEqual(certificate.blockHash, blockHash(h))
    if (i > 0) {
      t.deepEqual(h.parentHash, blockHash(chain[i - 1].block.header))
      t.deepEqual(block.body.lastCommit, chain[i - 1].certificate)
      t.deepEqual(h.lastCommitHash, certificateHash(chain[i - 1].certificate))
    } else {
      t.is(block.body.lastCommit, null)
    }
    const msg = voteSignBytes(TEST_CHAIN_ID, { type: VoteType.PRECOMMIT, height: h.height, round: certificate.round, blockHash: certificate.blockHash })
    for (const s of certificate.signatures) t.true(verifySignature(s.validator, msg, s.signature))
    for (const b of block.body.batches) {
      t.true(verifySignature(b.author, batchSignBytes(TEST_CHAIN_ID, b.author, batchRecordsRoot(b.records), b.records.length), b.signature))
    }
  })
})

test('signatures are not malleable: S + L (the same signature, non-canonical) is refused', t => {
  // A malleable signature would give one signed batch two batch ids.
  const L = 2n ** 252n + 27742317777372353535851937790883648493n
  const msg = batchSignBytes(TEST_CHAIN_ID, key.publicKey, HASH, 1)
  const sig = key.sign(msg)
  let s = 0n
  for (let i = 31; i >= 0; i--) s = (s << 8n) | BigInt(sig[32 + i])
  const twin = sig.slice()
  for (let i = 0; i < 32; i++) twin[32 + i] = Number(((s + L) >> BigInt(8 * i)) & 0xffn)
  t.true(verifySignature(key.publicKey, msg, sig))
  t.false(verifySignature(key.publicKey, msg, twin))
})
