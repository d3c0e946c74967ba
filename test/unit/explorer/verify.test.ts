import test from 'ava'
import fc from 'fast-check'
import { type Cbor, encodeCbor as nodeCbor } from '../../../src/encoding/cbor.ts'
import { bytesEqual, toHex as nodeToHex } from '../../../src/encoding/bytes.ts'
import { inclusionProof, leafHash as nodeLeaf, merkleRoot } from '../../../src/merkle/rfc6962.ts'
import { Genesis, DEFAULT_PARAMS } from '../../../src/chain/genesis.ts'
import { ValidatorSet } from '../../../src/chain/validator-set.ts'
import { recordId } from '../../../src/chain/hashing.ts'
import { encodeHeader } from '../../../src/chain/codec.ts'
import { sha256 as nodeSha } from '../../../src/crypto/hash.ts'
import {
  encodeCbor, fromBase64, fromHex, headerCbor, leafHash, publicKeyOfPeerId, readGenesis, recordCbor, sha256, toHex,
  validatorSetHash, validatorsAt, verifyEd25519, verifyInclusion
} from '../../../src/api/explorer/verify.js'
import { keyFromSeed, sampleRecord, testKey } from '../../helpers/fixtures.ts'

/*
 * The explorer's verify.js re-implements, for the browser, the encodings and checks a record
 * proof needs. These tests hold it to the node's implementation (src/) on random inputs and to
 * the test vectors of docs/protocol.md.
 */

const leaf: fc.Arbitrary<Cbor> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.maxSafeInteger(),
  fc.integer({ min: -1000, max: 1000 }),
  fc.integer({ min: 0, max: 2 ** 32 + 10 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.uint8Array({ maxLength: 300 })
)
const value: fc.Arbitrary<Cbor> = fc.letrec<{ v: Cbor }>(tie => ({
  v: fc.oneof({ depthSize: 'small', maxDepth: 6 }, leaf, fc.array(tie('v'), { maxLength: 5 }))
})).v

test('its CBOR encoder gives the node\'s canonical bytes for every value of the model', t => {
  fc.assert(fc.property(value, v => bytesEqual(encodeCbor(v), nodeCbor(v))), { numRuns: 2000 })
  for (const n of [0, 23, 24, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER, -1, -24, -25, -(2 ** 32), -Number.MAX_SAFE_INTEGER]) {
    t.is(toHex(encodeCbor(n)), nodeToHex(nodeCbor(n)), String(n))
  }
  t.throws(() => encodeCbor(1.5))
  t.throws(() => encodeCbor(2 ** 53))
})

test('hex and base64 are strict', t => {
  t.deepEqual(fromHex('00ff'), Uint8Array.of(0, 255))
  t.throws(() => fromHex('0'))
  t.throws(() => fromHex('zz'))
  t.throws(() => fromHex('00', 2))
  t.deepEqual(fromBase64('aGk='), new TextEncoder().encode('hi'))
  t.throws(() => fromBase64('aGk'))
  t.throws(() => fromBase64('aGl='), undefined, 'unused bits set: not canonical')
})

test('SHA-256 and RFC 6962 inclusion match the node\'s Merkle code', async t => {
  for (const n of [1, 2, 3, 5, 8, 13]) {
    const data = Array.from({ length: n }, (_, i) => Uint8Array.of(i, n))
    const root = merkleRoot(data)
    const leaves = data.map(nodeLeaf)
    for (let i = 0; i < n; i++) {
      t.is(toHex(await leafHash(data[i])), nodeToHex(leaves[i]))
      const path = inclusionProof(leaves, i)
      t.true(await verifyInclusion(leaves[i], i, n, path, root), `${i} of ${n}`)
      if (n > 1) t.false(await verifyInclusion(leaves[i], (i + 1) % n, n, path, root), `wrong index ${i} of ${n}`)
      t.false(await verifyInclusion(leaves[(i + 1) % n], i, n, path, root) && n > 1, `wrong leaf ${i} of ${n}`)
    }
  }
  t.is(toHex(await sha256(new Uint8Array(0))), nodeToHex(nodeSha(new Uint8Array(0))))
})

test('record ids, header hashes, validator-set and genesis hashes are the node\'s', async t => {
  const keys = [testKey(1), testKey(2), testKey(3)]
  const r = sampleRecord(keys[0].publicKey, 7)
  t.is(toHex(await sha256(encodeCbor(recordCbor(r)))), nodeToHex(recordId(r)))
  const header = { chainId: 'medledger-test', height: 12, round: 1, time: 1_700_000_000_123, proposer: keys[1].publicKey, parentHash: new Uint8Array(32).fill(1), recordsRoot: new Uint8Array(32).fill(2), validatorSetHash: new Uint8Array(32).fill(3), lastCommitHash: new Uint8Array(32).fill(4), evidenceHash: new Uint8Array(32).fill(5) }
  t.is(toHex(encodeCbor(headerCbor(header))), nodeToHex(encodeHeader(header)))
  const set = new ValidatorSet(keys.map((k, i) => ({ name: `v${i}`, publicKey: k.publicKey })))
  t.is(toHex(await validatorSetHash([...keys].reverse().map(k => k.publicKey))), nodeToHex(set.hash))

  const genesis = new Genesis({ chainId: 'national-health', genesisTime: 1_700_000_000_000, validators: keys.map((k, i) => ({ name: `hospital-${i}`, publicKey: k.publicKey })), observers: [{ name: 'regulator', publicKey: testKey(9).publicKey }], params: { ...DEFAULT_PARAMS, heartbeatMs: 5000 } })
  const json = genesis.toJson()
  t.is(toHex((await readGenesis(json)).hash), nodeToHex(genesis.hash))
  // A genesis file may name members by peer id alone.
  const byPeerId = { ...json, validators: json.validators.map(m => ({ name: m.name, peerId: m.peerId })), observers: json.observers.map(m => ({ name: m.name, peerId: m.peerId })) }
  t.is(toHex((await readGenesis(byPeerId)).hash), nodeToHex(genesis.hash))
  t.is(toHex(publicKeyOfPeerId(json.validators[0].peerId)), json.validators[0].publicKey)
  await t.throwsAsync(readGenesis({ ...json, validators: [{ ...json.validators[0], publicKey: json.validators[1].publicKey }] }))
  // Members with an encryption key (docs/privacy.md): it enters the hash.
  const withKeys = new Genesis({ chainId: 'national-health', genesisTime: 1_700_000_000_000, validators: keys.map((k, i) => ({ name: `hospital-${i}`, publicKey: k.publicKey, ...(i === 1 ? { encryptionKey: new Uint8Array(32).fill(7) } : {}) })), observers: [], params: DEFAULT_PARAMS })
  t.is(toHex((await readGenesis(withKeys.toJson())).hash), nodeToHex(withKeys.hash))
})

test('the test vectors of docs/protocol.md', async t => {
  const key = keyFromSeed(new Uint8Array(32).fill(1))
  const pk = key.publicKey
  t.is(toHex(pk), '8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c')
  const g = await readGenesis({ chainId: 'medledger-example', genesisTime: new Date(1700000000000).toISOString(), validators: [{ name: 'example', publicKey: toHex(pk) }], observers: [], params: { heartbeatMs: 10000, governanceDelay: 2 } })
  t.is(toHex(g.hash), '41db5d36032dba33ea1ee3722dd6406e91fad3025cef4cfe54a7ec850f9e5374')
  const record = { type: 'consultation', subject: fromHex('c7ac19792b4a355113c4eb7e10018c7818e9a70d1d1c4b5080c724bf07b4d6b8'), contentType: 'text/plain', payload: fromHex('68656c6c6f2c206c6564676572'), author: pk, timestamp: 1700000000000 }
  t.is(toHex(await sha256(encodeCbor(recordCbor(record)))), '3b993a916d333f36583ef94a0d7d40c9336c9e90cf9cfa4f508965298ee137c4')
  const blockHash = fromHex('0c3e1304993ad2dd1b6b7843bc22a93af7c24708ed816764570f7c7e70a40084')
  const header = { chainId: 'medledger-example', height: 1, round: 0, time: 1700000000000, proposer: pk, parentHash: g.hash, recordsRoot: fromHex('de325daa90ce2e05249f92d646cf8d78b997cbfd9c7c2fd433024c55a96db9b3'), validatorSetHash: fromHex('9b882c12eb649c4eb5e913b1ddd6c81857b3cb94f4052d7c1e7630dab6ccc702'), lastCommitHash: new Uint8Array(32), evidenceHash: fromHex('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855') }
  t.is(toHex(await sha256(encodeCbor(headerCbor(header)))), toHex(blockHash))
  t.is(toHex(await validatorSetHash([pk])), toHex(header.validatorSetHash))
  const voteBytes = encodeCbor(['medledger/vote/v1', 'medledger-example', 2, 1, 0, blockHash])
  const sig = fromHex('a69d9dd5875437bffb1ed00479d8fcf90f3dabf861af304e19659af25407c893f3c61ae72267abb0dd625798d8d67a28b045c7ded53b7637b905b7de2ba9220f')
  t.true(await verifyEd25519(pk, voteBytes, sig))
  const bad = sig.slice()
  bad[5] ^= 1
  t.false(await verifyEd25519(pk, voteBytes, bad))
  t.false(await verifyEd25519(testKey(4).publicKey, voteBytes, sig))
  t.false(await verifyEd25519(pk.slice(1), voteBytes, sig))
})

test('validatorsAt undoes the membership changes that took effect after a height', t => {
  const [a, b, c] = [testKey(1), testKey(2), testKey(3)].map(k => nodeToHex(k.publicKey))
  const view = {
    height: 30,
    validators: [{ name: 'a', publicKey: a }, { name: 'c', publicKey: c }],
    changes: [
      { includedAt: 8, effective: 10, action: 'add' as const, name: 'c', publicKey: c },
      { includedAt: 18, effective: 20, action: 'remove' as const, name: 'b', publicKey: b },
      { includedAt: 29, effective: 31, action: 'add' as const, name: 'd', publicKey: nodeToHex(testKey(4).publicKey) }
    ]
  }
  const names = (h: number): string[] => validatorsAt(h, view).map(m => m.name).sort()
  t.deepEqual(names(5), ['a', 'b'])
  t.deepEqual(names(10), ['a', 'b', 'c'])
  t.deepEqual(names(19), ['a', 'b', 'c'])
  t.deepEqual(names(20), ['a', 'c'])
  t.deepEqual(names(30), ['a', 'c'])
})
