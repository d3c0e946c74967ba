import test from 'ava'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { bytesEqual, fromHex, toHex } from '../../../src/encoding/bytes.ts'
import { decodeCbor, encodeCbor } from '../../../src/encoding/cbor.ts'
import { verifySignature } from '../../../src/crypto/ed25519.ts'
import { sha256 } from '../../../src/crypto/hash.ts'
import { EMPTY_ROOT, inclusionProof, leafHash, merkleRoot, verifyInclusion } from '../../../src/merkle/rfc6962.ts'
import {
  bodyFromCbor, decodeBlock, decodeCertificate, decodeEvidence, decodeFinalized, decodeRecord, decodeVote, encodeBlock, encodeCertificate,
  encodeFinalized, encodeHeader, encodeRecord, encodeVote, headerFromCbor
} from '../../../src/chain/codec.ts'
import { checkBlock, checkCertificate, checkEvidence } from '../../../src/chain/validate.ts'
import { FINALIZED_BLOCK_MAX_BYTES } from '../../../src/network/reqresp/blocks.ts'
import {
  batchId, batchRecordsRoot, batchSignBytes, blockHash, blockRecordsRoot, certificateHash, DOMAIN, evidenceHash,
  proposalSignBytes, recordId, voteSignBytes
} from '../../../src/chain/hashing.ts'
import { LIMITS } from '../../../src/chain/limits.ts'
import { Genesis } from '../../../src/chain/genesis.ts'
import { ValidatorSet } from '../../../src/chain/validator-set.ts'
import { MemberSet } from '../../../src/chain/member-set.ts'
import { GovernanceSchedule } from '../../../src/governance/schedule.ts'
import { approveChange, changeSignBytes, decodeChange, encodeChange } from '../../../src/governance/change.ts'
import type { BlockHeader, Certificate, MedRecord, Vote, VoteType } from '../../../src/chain/types.ts'
import { keyFromSeed, publicKeyOfSeed } from '../../helpers/fixtures.ts'
import { verifyRecordProof } from '../../../src/audit/proof-verify.ts'
import { RecordProofs } from '../../../src/api/proof.ts'
import { makeGovernedChain } from '../../helpers/governed-chain.ts'
import { readGenesis as readJsGenesis, verifyProof as verifyJsProof } from '../../../src/api/explorer/verify.js'

/*
 * docs/protocol.md carries test vectors in fenced blocks tagged `vector <name>`. This test parses
 * them and recomputes every value from the code, so the document cannot drift from the
 * implementation: change an encoding, a domain tag or a limit and this fails until the document
 * is updated too.
 */

type Value = number | string | null | Uint8Array | Uint8Array[]
type Vector = Map<string, Value>

const DOC = readFileSync(fileURLToPath(new URL('../../../docs/protocol.md', import.meta.url)), 'utf8')

/** Parses `name = value` lines; values are integers, null, JSON strings, h'..' bytes or [h'..', ...]. */
function parseVector (body: string): Vector {
  const out: Vector = new Map()
  let rest = body
  const bytesOf = (s: string): Uint8Array => fromHex(s.replace(/#[^\n]*/g, '').replace(/\s+/g, ''))
  for (;;) {
    rest = rest.replace(/^(\s*(#[^\n]*)?\n)*\s*/, '')
    if (rest === '') return out
    const m = /^([A-Za-z][\w-]*)\s*=\s*/.exec(rest)
    if (m === null) throw new Error(`cannot parse vector line: ${rest.split('\n')[0]}`)
    const name = m[1]
    rest = rest.slice(m[0].length)
    let value: Value
    let len: number
    if (rest.startsWith("h'")) {
      len = rest.indexOf("'", 2) + 1
      value = bytesOf(rest.slice(2, len - 1))
    } else if (rest.startsWith('[')) {
      len = rest.indexOf(']') + 1
      value = [...rest.slice(1, len - 1).matchAll(/h'([^']*)'/g)].map(x => bytesOf(x[1]))
    } else if (rest.startsWith('"')) {
      const s = /^"(?:[^"\\]|\\.)*"/.exec(rest)
      if (s === null) throw new Error(`unterminated string for ${name}`)
      len = s[0].length
      value = JSON.parse(s[0]) as string
    } else {
      const s = /^(null|-?\d+)(?=\s|$)/.exec(rest)
      if (s === null) throw new Error(`cannot parse the value of ${name}: ${rest.split('\n')[0]}`)
      len = s[0].length
      value = s[1] === 'null' ? null : Number(s[1])
    }
    if (len <= 0) throw new Error(`unterminated value for ${name}`)
    if (out.has(name)) throw new Error(`${name} is given twice`)
    out.set(name, value)
    rest = rest.slice(len)
  }
}

function parseDoc (doc: string): Map<string, Vector> {
  const vectors = new Map<string, Vector>()
  for (const m of doc.matchAll(/^```vector ([a-z0-9-]+)\n([\s\S]*?)^```$/gm)) {
    if (vectors.has(m[1])) throw new Error(`vector ${m[1]} appears twice`)
    vectors.set(m[1], parseVector(m[2]))
  }
  return vectors
}

const VECTORS = parseDoc(DOC)

/** Typed accessors that fail loudly when the document lacks a value or gives the wrong kind. */
function getter (name: string): { bytes: (k: string) => Uint8Array, int: (k: string) => number, text: (k: string) => string, list: (k: string) => Uint8Array[] } {
  const v = VECTORS.get(name)
  if (v === undefined) throw new Error(`docs/protocol.md has no vector ${name}`)
  const get = (k: string): Value => {
    if (!v.has(k)) throw new Error(`vector ${name} has no ${k}`)
    return v.get(k) as Value
  }
  const check = <T>(k: string, ok: (x: Value) => boolean, what: string): T => {
    const x = get(k)
    if (!ok(x)) throw new Error(`vector ${name}.${k} is not ${what}`)
    return x as T
  }
  return {
    bytes: k => check<Uint8Array>(k, x => x instanceof Uint8Array, 'bytes'),
    int: k => check<number>(k, x => typeof x === 'number', 'an integer'),
    text: k => check<string>(k, x => typeof x === 'string', 'a string'),
    list: k => check<Uint8Array[]>(k, x => Array.isArray(x), 'a list')
  }
}

const hex = toHex

test('the document has exactly the vectors this test checks', t => {
  t.deepEqual([...VECTORS.keys()].sort(), ['batch', 'block-2', 'certificate', 'domains', 'genesis', 'genesis-members', 'header', 'keys', 'limits', 'member-change', 'merkle', 'multi', 'proposal', 'record', 'vote'])
})

test('the vector parser reads every value form and refuses malformed lines', t => {
  const v = parseVector('# comment\na = 12\nb = -1\nc = null\nd = "x y"\ne = h\'01 02 # note\n  03\'\nf = [h\'\', h\'ff\']\n')
  t.deepEqual([...v.entries()], [['a', 12], ['b', -1], ['c', null], ['d', 'x y'], ['e', new Uint8Array([1, 2, 3])], ['f', [new Uint8Array(0), new Uint8Array([255])]]])
  t.throws(() => parseVector('a 12'))
  t.throws(() => parseVector('a = 12x'))
  t.throws(() => parseVector('a = 1\na = 2'))
})

test('limits: the document lists every limit of src/chain/limits.ts with its value', t => {
  const v = VECTORS.get('limits') as Vector
  t.deepEqual(Object.fromEntries(v), { ...LIMITS })
})

test('domains: the document lists every domain tag of src/chain/hashing.ts', t => {
  const v = VECTORS.get('domains') as Vector
  t.deepEqual(Object.fromEntries(v), { ...DOMAIN })
})

test('keys: the public key of the seed, by node:crypto and by NodeKey', t => {
  const k = getter('keys')
  t.is(hex(publicKeyOfSeed(k.bytes('seed'))), hex(k.bytes('publicKey')))
  t.is(hex(keyFromSeed(k.bytes('seed')).publicKey), hex(k.bytes('publicKey')))
})

const KEY = keyFromSeed(getter('keys').bytes('seed'))

test('genesis: the hash preimage and the hash of the Genesis class', t => {
  const g = getter('genesis')
  const genesis = new Genesis({
    chainId: g.text('chainId'),
    genesisTime: g.int('genesisTime'),
    validators: [{ name: g.text('validatorName'), publicKey: g.bytes('validatorKey') }],
    observers: [],
    params: { heartbeatMs: g.int('heartbeatMs'), governanceDelay: g.int('governanceDelay') }
  })
  t.is(hex(g.bytes('validatorKey')), hex(KEY.publicKey))
  t.is(hex(sha256(g.bytes('preimage'))), hex(g.bytes('hash')))
  t.is(hex(genesis.hash), hex(g.bytes('hash')))
  t.deepEqual(decodeCbor(g.bytes('preimage'), 4096), [
    DOMAIN.genesis, genesis.chainId, genesis.genesisTime, [[g.text('validatorName'), KEY.publicKey]], [],
    [genesis.params.heartbeatMs, genesis.params.governanceDelay]
  ])
})

test('genesis-members: a genesis with a member hashes the sorted members as a seventh item', t => {
  const g = getter('genesis-members')
  const plain = getter('genesis')
  const member = { name: g.text('memberName'), publicKey: g.bytes('memberKey') }
  t.is(hex(g.bytes('memberKey')), hex(keyFromSeed(new Uint8Array(32).fill(2)).publicKey))
  const genesis = new Genesis({
    chainId: g.text('chainId'),
    genesisTime: g.int('genesisTime'),
    validators: [{ name: g.text('validatorName'), publicKey: KEY.publicKey }],
    observers: [],
    members: [member],
    params: { heartbeatMs: plain.int('heartbeatMs'), governanceDelay: plain.int('governanceDelay') }
  })
  t.is(hex(sha256(g.bytes('preimage'))), hex(g.bytes('hash')))
  t.is(hex(genesis.hash), hex(g.bytes('hash')))
  t.deepEqual(decodeCbor(g.bytes('preimage'), 4096), [
    DOMAIN.genesis, genesis.chainId, genesis.genesisTime, [[g.text('validatorName'), KEY.publicKey]], [],
    [genesis.params.heartbeatMs, genesis.params.governanceDelay], [[member.name, member.publicKey]]
  ])
  // The member set at height 1 is the genesis members, derived from the file alone (JSON round trip).
  const again = Genesis.fromJson(JSON.parse(JSON.stringify(genesis.toJson())))
  t.is(hex(again.hash), hex(g.bytes('hash')))
  const schedule = new GovernanceSchedule(again.validators, again.params.governanceDelay, again.members)
  t.true(schedule.membersAt(1).has(member.publicKey))
  t.is(hex(schedule.membersAt(1).hash), hex(g.bytes('memberSetHash')))
  t.is(hex(new MemberSet([member]).hash), hex(sha256(encodeCbor([DOMAIN.memberSet, [member.publicKey]]))))
})

test('member-change: the add-member change, its sign bytes, approval and encoding', t => {
  const v = getter('member-change')
  const m = getter('genesis-members')
  const change = approveChange('medledger-example', { action: 'add-member', name: m.text('memberName'), publicKey: m.bytes('memberKey'), nonce: 0, approvals: [] }, KEY)
  t.is(hex(changeSignBytes('medledger-example', change)), hex(v.bytes('signBytes')))
  t.is(hex(change.approvals[0].signature), hex(v.bytes('signature')))
  t.true(verifySignature(KEY.publicKey, v.bytes('signBytes'), v.bytes('signature')))
  t.is(hex(encodeChange(change)), hex(v.bytes('encoding')))
  t.is((decodeCbor(v.bytes('encoding'), 4096) as unknown[])[0], v.int('action'))
  t.is(decodeChange(v.bytes('encoding')).action, 'add-member')
})

function docRecord (): MedRecord {
  const r = getter('record')
  return { type: r.text('type'), subject: r.bytes('subject'), contentType: r.text('contentType'), payload: r.bytes('payload'), author: r.bytes('author'), timestamp: r.int('timestamp') }
}

test('record: encoding and id', t => {
  const r = getter('record')
  const record = docRecord()
  t.is(hex(encodeRecord(record)), hex(r.bytes('encoding')))
  t.is(hex(recordId(record)), hex(r.bytes('id')))
  t.deepEqual(decodeRecord(r.bytes('encoding')), record)
})

test('batch: records root, sign bytes, signature and batch id', t => {
  const b = getter('batch')
  const records = [docRecord()]
  const chainId = b.text('chainId')
  t.is(records.length, b.int('count'))
  t.is(hex(batchRecordsRoot(records)), hex(b.bytes('recordsRoot')))
  t.is(hex(b.bytes('recordsRoot')), hex(leafHash(recordId(records[0]))))
  const signBytes = batchSignBytes(chainId, KEY.publicKey, b.bytes('recordsRoot'), b.int('count'))
  t.is(hex(signBytes), hex(b.bytes('signBytes')))
  t.is(hex(KEY.sign(signBytes)), hex(b.bytes('signature')))
  t.true(verifySignature(KEY.publicKey, signBytes, b.bytes('signature')))
  t.is(hex(batchId({ author: KEY.publicKey, records, signature: b.bytes('signature') })), hex(b.bytes('id')))
})

function docBatch (): { author: Uint8Array, records: MedRecord[], signature: Uint8Array } {
  return { author: KEY.publicKey, records: [docRecord()], signature: getter('batch').bytes('signature') }
}

test('header: records root over the batch ids, validator set hash, encoding and block hash', t => {
  const h = getter('header')
  const header: BlockHeader = {
    chainId: h.text('chainId'),
    height: h.int('height'),
    round: h.int('round'),
    time: h.int('time'),
    proposer: h.bytes('proposer'),
    parentHash: h.bytes('parentHash'),
    recordsRoot: h.bytes('recordsRoot'),
    validatorSetHash: h.bytes('validatorSetHash'),
    lastCommitHash: h.bytes('lastCommitHash'),
    evidenceHash: h.bytes('evidenceHash')
  }
  t.is(hex(header.parentHash), hex(getter('genesis').bytes('hash')))
  t.is(hex(blockRecordsRoot([docBatch()])), hex(header.recordsRoot))
  const set = new ValidatorSet(h.list('validators').map((publicKey, i) => ({ name: `v${i}`, publicKey })))
  t.is(hex(set.hash), hex(header.validatorSetHash))
  t.is(hex(set.hash), hex(sha256(encodeCbor([DOMAIN.validatorSet, [...set.keys]]))))
  t.is(hex(certificateHash(null)), hex(header.lastCommitHash))
  t.is(hex(EMPTY_ROOT), hex(header.evidenceHash))
  t.is(hex(encodeHeader(header)), hex(h.bytes('encoding')))
  t.is(hex(blockHash(header)), hex(h.bytes('blockHash')))
  t.deepEqual(headerFromCbor(decodeCbor(h.bytes('encoding'), 4096)), header)
})

test('vote: sign bytes, signature and encoding of a precommit for the header', t => {
  const v = getter('vote')
  const chainId = v.text('chainId')
  t.is(hex(v.bytes('blockHash')), hex(getter('header').bytes('blockHash')))
  const fields = { type: v.int('type') as VoteType, height: v.int('height'), round: v.int('round'), blockHash: v.bytes('blockHash') }
  const signBytes = voteSignBytes(chainId, fields)
  t.is(hex(signBytes), hex(v.bytes('signBytes')))
  t.is(hex(KEY.sign(signBytes)), hex(v.bytes('signature')))
  t.true(verifySignature(KEY.publicKey, signBytes, v.bytes('signature')))
  const vote: Vote = { ...fields, validator: KEY.publicKey, signature: v.bytes('signature') }
  t.is(hex(encodeVote(vote)), hex(v.bytes('encoding')))
  t.deepEqual(decodeVote(v.bytes('encoding')), vote)
})

test('certificate: encoding and hash of the one-precommit certificate', t => {
  const c = getter('certificate')
  const v = getter('vote')
  const cert: Certificate = {
    height: v.int('height'),
    round: v.int('round'),
    blockHash: v.bytes('blockHash'),
    signatures: [{ validator: KEY.publicKey, signature: v.bytes('signature') }]
  }
  t.is(hex(encodeCertificate(cert)), hex(c.bytes('encoding')))
  t.is(hex(certificateHash(cert)), hex(c.bytes('hash')))
  t.deepEqual(decodeCertificate(c.bytes('encoding')), cert)
})

test('proposal: sign bytes and signature', t => {
  const p = getter('proposal')
  const fields = { height: p.int('height'), round: p.int('round'), validRound: p.int('validRound'), blockHash: p.bytes('blockHash') }
  const signBytes = proposalSignBytes(p.text('chainId'), fields)
  t.is(hex(signBytes), hex(p.bytes('signBytes')))
  t.is(hex(KEY.sign(signBytes)), hex(p.bytes('signature')))
  t.true(verifySignature(KEY.publicKey, signBytes, p.bytes('signature')))
})

test('merkle: root, inclusion proof and empty root', t => {
  const m = getter('merkle')
  const leaves = m.list('leaves')
  t.is(hex(merkleRoot(leaves)), hex(m.bytes('root')))
  const i = m.int('index')
  const path = inclusionProof(leaves.map(leafHash), i)
  t.deepEqual(path.map(hex), m.list('path').map(hex))
  t.true(verifyInclusion(leafHash(leaves[i]), i, leaves.length, m.list('path'), m.bytes('root')))
  t.is(hex(EMPTY_ROOT), hex(m.bytes('emptyRoot')))
  t.true(bytesEqual(merkleRoot([]), m.bytes('emptyRoot')))
})

/** The JSON samples of docs/protocol.md, in fenced blocks tagged `json <name>`. */
function jsonSample (name: string): any {
  const m = new RegExp('^```json ' + name + '\\n([\\s\\S]*?)^```$', 'm').exec(DOC)
  if (m === null) throw new Error(`docs/protocol.md has no json ${name} block`)
  return JSON.parse(m[1])
}

test('samples: the genesis file hashes to the genesis vector, and the sample proof verifies against it with both verifiers', async t => {
  const g = Genesis.fromJson(jsonSample('genesis-sample'))
  t.is(hex(g.hash), hex(getter('genesis').bytes('hash')))
  const proof = jsonSample('proof-sample')
  const r = verifyRecordProof(proof, g)
  t.is(r.recordId, hex(getter('record').bytes('id')))
  t.is(r.blockHash, hex(getter('header').bytes('blockHash')))
  t.is(proof.certificate.signatures[0].signature, hex(getter('vote').bytes('signature')))
  t.is(proof.batch.signature, hex(getter('batch').bytes('signature')))
  const js = await readJsGenesis(jsonSample('genesis-sample'))
  const res = await verifyJsProof(proof, { chainId: js.chainId, genesisHash: js.hash, validators: js.validators, governanceDelay: js.params.governanceDelay, source: 'genesis' })
  t.true(res.ok, JSON.stringify(res.steps))
  const bad = structuredClone(proof)
  bad.record.timestamp += 1
  t.throws(() => verifyRecordProof(bad, g))
})

test('multi: a set of three, a genesis with observers and encryption keys, a batch of three records, a three-signature certificate, evidence', t => {
  const v = getter('multi')
  const [a, b, c] = [2, 3, 4].map(x => keyFromSeed(new Uint8Array(32).fill(x)))
  const set = new ValidatorSet([{ name: 'hospital-a', publicKey: a.publicKey }, { name: 'hospital-b', publicKey: b.publicKey }, { name: 'hospital-c', publicKey: c.publicKey }])
  t.deepEqual(v.list('validators').map(hex), set.keys.map(hex), 'sorted bytewise')
  t.is(hex(set.hash), hex(v.bytes('validatorSetHash')))
  const g = new Genesis({
    chainId: 'medledger-example',
    genesisTime: 1700000000000,
    validators: [{ name: 'hospital-a', publicKey: a.publicKey }, { name: 'hospital-b', publicKey: b.publicKey, encryptionKey: new Uint8Array(32).fill(0x0b) }, { name: 'hospital-c', publicKey: c.publicKey }],
    observers: [{ name: 'regulator', publicKey: keyFromSeed(new Uint8Array(32).fill(1)).publicKey, encryptionKey: new Uint8Array(32).fill(0x0c) }],
    params: { heartbeatMs: 5000, governanceDelay: 3 }
  })
  t.is(hex(g.hash), hex(v.bytes('genesisHash')))
  // The genesis file round-trips to the same hash.
  t.is(hex(Genesis.fromJson(JSON.parse(JSON.stringify(g.toJson()))).hash), hex(v.bytes('genesisHash')))
  // The document's file of it (validators out of key order, keys by publicKey, peerId or both) too.
  const file = Genesis.fromJson(jsonSample('genesis-multi-sample'))
  t.is(hex(file.hash), hex(v.bytes('genesisHash')))
  t.deepEqual(file.observers.map(o => hex(o.encryptionKey!)), ['0c'.repeat(32)])

  const records: MedRecord[] = [0, 1, 2].map(i => ({ type: 'consultation', subject: new Uint8Array(32).fill(i), contentType: 'text/plain', payload: new TextEncoder().encode(`record ${i}`), author: a.publicKey, timestamp: 1700000000000 + i }))
  const root = batchRecordsRoot(records)
  t.is(hex(root), hex(v.bytes('batchRecordsRoot')))
  t.is(hex(root), hex(merkleRoot(records.map(recordId))))
  const sig = v.bytes('batchSignature')
  t.true(verifySignature(a.publicKey, batchSignBytes('medledger-example', a.publicKey, root, 3), sig))
  t.is(hex(a.sign(batchSignBytes('medledger-example', a.publicKey, root, 3))), hex(sig), 'Ed25519 is deterministic')
  t.is(hex(encodeCbor([a.publicKey, root, 3, sig])), hex(v.bytes('batchIdPreimage')))
  t.is(hex(batchId({ author: a.publicKey, records, signature: sig })), hex(v.bytes('batchId')))
  t.is(hex(sha256(v.bytes('batchIdPreimage'))), hex(v.bytes('batchId')))

  const cert = decodeCertificate(v.bytes('certificate'))
  t.is(cert.height, 2)
  t.is(cert.round, 1)
  t.deepEqual(cert.signatures.map(s => hex(s.validator)), set.keys.map(hex))
  const message = voteSignBytes('medledger-example', { type: 2 as VoteType, height: 2, round: 1, blockHash: new Uint8Array(32).fill(0xbb) })
  t.true(cert.signatures.every(s => verifySignature(s.validator, message, s.signature)))
  t.is(hex(encodeCertificate(cert)), hex(v.bytes('certificate')))
  t.is(hex(certificateHash(cert)), hex(v.bytes('certificateHash')))

  const ev = decodeEvidence(v.bytes('evidence'))
  t.is(ev.kind, 'vote')
  if (ev.kind !== 'vote') return
  t.is(hex(ev.a.validator), hex(b.publicKey))
  t.is(ev.b.blockHash, null)
  t.true([ev.a, ev.b].every(x => verifySignature(x.validator, voteSignBytes('medledger-example', x), x.signature)))
  t.is(hex(evidenceHash(ev)), hex(v.bytes('evidenceHash')))
  t.is(hex(sha256(v.bytes('evidence'))), hex(v.bytes('evidenceHash')))
})

test('block-2: a header with a non-null lastCommit and evidence, its body, block and finalized block, valid against its parent', t => {
  const v = getter('block-2')
  const parent = getter('header')
  const header = headerFromCbor(decodeCbor(v.bytes('header'), 4096))
  t.is(header.chainId, v.text('chainId'))
  t.is(header.height, v.int('height'))
  t.is(header.time, v.int('time'))
  t.is(hex(header.parentHash), hex(parent.bytes('blockHash')))
  t.is(hex(header.lastCommitHash), hex(getter('certificate').bytes('hash')))
  t.is(hex(blockHash(header)), hex(v.bytes('blockHash')))
  t.is(hex(encodeHeader(header)), hex(v.bytes('header')))

  const body = bodyFromCbor(decodeCbor(v.bytes('body'), 4096))
  t.is(body.batches.length, 0)
  t.is(hex(encodeCertificate(body.lastCommit!)), hex(getter('certificate').bytes('encoding')))
  t.is(body.evidence.length, 1)
  t.is(hex(evidenceHash(body.evidence[0])), hex(v.bytes('evidenceItemHash')))
  t.is(hex(header.evidenceHash), hex(merkleRoot([v.bytes('evidenceItemHash')])))
  t.is(hex(header.recordsRoot), hex(EMPTY_ROOT))

  // The block is [header, body]; it decodes and re-encodes byte for byte, and is valid on its parent.
  const blockBytes = new Uint8Array([0x82, ...v.bytes('header'), ...v.bytes('body')])
  const block = decodeBlock(blockBytes)
  t.is(hex(encodeBlock(block)), hex(blockBytes))
  const set = new ValidatorSet([{ name: 'example', publicKey: KEY.publicKey }])
  t.notThrows(() => { checkBlock(v.text('chainId'), block, { height: 1, hash: parent.bytes('blockHash'), time: parent.int('time') }, set) })
  const parentHeader = headerFromCbor(decodeCbor(parent.bytes('encoding'), 4096))
  const signed = [...checkCertificate(v.text('chainId'), block.body.lastCommit!, parentHeader, set), ...checkEvidence(v.text('chainId'), block.body.evidence[0], set)]
  t.is(signed.length, 3)
  t.true(signed.every(c => verifySignature(c.publicKey, c.message, c.signature)))
  const ev = block.body.evidence[0]
  t.true(ev.kind === 'vote' && ev.a.type === 1 && ev.a.height === 1 && ev.b.blockHash === null)

  // Its certificate, and the finalized block [block, certificate] as GET /v1/blocks/2/raw serves it.
  const cert = decodeCertificate(v.bytes('certificate'))
  t.true(checkCertificate(v.text('chainId'), cert, header, set).every(c => verifySignature(c.publicKey, c.message, c.signature)))
  t.is(hex(KEY.sign(voteSignBytes(v.text('chainId'), { type: 2 as VoteType, height: 2, round: 0, blockHash: v.bytes('blockHash') }))), hex(cert.signatures[0].signature))
  const finalized = new Uint8Array([0x82, ...blockBytes, ...v.bytes('certificate')])
  t.is(finalized.length, v.int('finalizedBytes'))
  t.is(hex(encodeFinalized(decodeFinalized(finalized, FINALIZED_BLOCK_MAX_BYTES))), hex(finalized))
  t.is(FINALIZED_BLOCK_MAX_BYTES, LIMITS.blockBytes + LIMITS.validators * 128 + 128)
})

test('genesis file rules (section 15): genesisTime is RFC 3339 UTC naming a real instant, observers are distinct and not validators; both readers agree', async t => {
  const file = jsonSample('genesis-multi-sample')
  const hashOf = async (json: unknown): Promise<[string | Error, string | Error]> => {
    const node = (() => { try { return hex(Genesis.fromJson(json).hash) } catch (err) { return err as Error } })()
    const js = await readJsGenesis(json).then(g => hex(g.hash), (err: Error) => err)
    return [node, js]
  }
  const at = (genesisTime: string): unknown => ({ ...file, genesisTime })
  const ms = async (genesisTime: string): Promise<number> => Genesis.fromJson(at(genesisTime)).genesisTime
  t.is(await ms('2023-11-14T22:13:20.000Z'), 1700000000000)
  t.is(await ms('2023-11-14T22:13:20Z'), 1700000000000)
  t.is(await ms('2023-11-14T22:13:20.5Z'), 1700000000500)
  const [node, js] = await hashOf(at('2023-11-14T22:13:20Z'))
  t.is(node, hex(getter('multi').bytes('genesisHash')))
  t.is(js, node)
  // Local-time forms hash by the reader's time zone; a day that does not exist rolls over; more
  // than milliseconds would be cut. All refused, by both readers.
  for (const bad of ['Nov 14 2023 22:13:20', '2023-11-14', '2023-11-14T22:13:20', '2023-11-14T23:13:20+01:00', '2023-02-30T00:00:00Z', '2023-11-14T24:00:00Z', '2023-11-14T22:13:20.0001Z', '1700000000000']) {
    const [n, j] = await hashOf(at(bad))
    t.true(n instanceof Error && /genesisTime/.test(n.message), `node reader: ${bad}`)
    t.true(j instanceof Error, `verify.js: ${bad}`)
  }
  t.throws(() => Genesis.fromJson({ ...file, observers: [...file.observers, { ...file.observers[0], name: 'again' }] }), { message: /listed twice/ })
  t.throws(() => Genesis.fromJson({ ...file, observers: [{ name: 'x', publicKey: file.validators[0].publicKey }] }), { message: /one role/ })
  t.throws(() => Genesis.fromJson({ ...file, validators: [...file.validators, { ...file.validators[0], name: 'twice' }] }))
})

test('samples: the proof across a validator-set change is what the node writes for that chain, and verifies against the genesis sample with both verifiers', async t => {
  const chain = makeGovernedChain({ initial: [KEY], length: 3, changes: [{ at: 1, action: 'add', key: keyFromSeed(new Uint8Array(32).fill(2)), name: 'hospital-a' }], chainId: 'medledger-example', names: ['example'] })
  const g = Genesis.fromJson(jsonSample('genesis-sample'))
  t.is(hex(chain.genesis.hash), hex(g.hash))
  const proofs = new RecordProofs({ chainId: g.chainId, genesisHash: g.hash, schedule: chain.schedule, store: { getFinalized: async h => chain.blocks[h - 1] } })
  const fb = chain.blocks[2]
  const at = chain.recordAt(3)
  const written = JSON.parse(JSON.stringify(await proofs.proof({ record: fb.block.body.batches[at.batchIndex].records[0], location: { height: 3, ...at }, block: fb.block, certificate: fb.certificate })))
  const sample = jsonSample('proof-governance-sample')
  t.deepEqual(sample, written)
  const r = verifyRecordProof(sample, g)
  t.is(r.governanceChanges, 1)
  t.is(r.validators, 2)
  t.is(sample.governance[0].block.header.height, 1)
  t.is(sample.certificate.signatures.length, 2)
  const js = await readJsGenesis(jsonSample('genesis-sample'))
  const res = await verifyJsProof(sample, { chainId: js.chainId, genesisHash: js.hash, validators: js.validators, governanceDelay: js.params.governanceDelay, source: 'genesis' })
  t.true(res.ok, JSON.stringify(res.steps))
  t.is(res.governanceChanges, 1)
  // Without its link the genesis set alone cannot judge block 3.
  t.throws(() => verifyRecordProof({ ...sample, governance: [] }, g), { message: /another chain or validator set/ })
})
