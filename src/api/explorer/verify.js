// Record proof verification for the explorer, run in the browser with WebCrypto (SHA-256 and
// Ed25519) and importable as is by Node 20 (globalThis.crypto.subtle), where the tests run it
// against real proofs. It re-implements, independently of the node's code, what
// docs/protocol.md specifies: the canonical CBOR of the hashed and signed values (section 2),
// record and batch ids (5), sign bytes (6), RFC 6962 inclusion proofs (7) and the record proof
// steps (8). Plain JavaScript, no dependencies: the browser loads this very file.

const subtle = globalThis.crypto?.subtle

// ---- bytes ----

export function toHex (b) {
  let s = ''
  for (const x of b) s += x.toString(16).padStart(2, '0')
  return s
}

/** Strict hex of an optional exact byte length; throws on anything else. */
export function fromHex (s, length) {
  if (typeof s !== 'string' || !/^([0-9a-fA-F]{2})*$/.test(s)) throw new Error('not a hex string')
  const out = new Uint8Array(s.length / 2)
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16)
  if (length !== undefined && out.length !== length) throw new Error(`expected ${length} bytes, got ${out.length}`)
  return out
}

/** Strict padded base64 (as the API writes payloads). */
export function fromBase64 (s) {
  if (typeof s !== 'string' || s.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) throw new Error('not padded base64')
  const bin = atob(s)
  const out = new Uint8Array(bin.length)
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i)
  // Reject non-canonical encodings (unused bits set): re-encoding must give the same text.
  if (btoa(bin) !== s) throw new Error('not canonical base64')
  return out
}

export function bytesEqual (a, b) {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

function bytesCompare (a, b) {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i]
  return a.length - b.length
}

function concat (parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let o = 0
  for (const p of parts) { out.set(p, o); o += p.length }
  return out
}

const BASE58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz'

/** The raw Ed25519 key of a libp2p peer id (base58btc of the identity multihash 00 24 08 01 12 20 key). */
export function publicKeyOfPeerId (peerId) {
  let n = 0n
  for (const c of peerId) {
    const v = BASE58.indexOf(c)
    if (v < 0) throw new Error('not a base58 peer id')
    n = n * 58n + BigInt(v)
  }
  const bytes = []
  while (n > 0n) { bytes.unshift(Number(n % 256n)); n /= 256n }
  for (const c of peerId) { if (c !== '1') break; bytes.unshift(0) }
  const b = new Uint8Array(bytes)
  const prefix = [0x00, 0x24, 0x08, 0x01, 0x12, 0x20]
  if (b.length !== 38 || !prefix.every((x, i) => b[i] === x)) throw new Error('not an Ed25519 peer id')
  return b.slice(6)
}

// ---- canonical CBOR: just the items medledger hashes and signs ----

function head (major, n) {
  if (!Number.isSafeInteger(n) || n < 0) throw new Error('CBOR: integers must be safe integers')
  const m = major << 5
  if (n < 24) return Uint8Array.of(m | n)
  if (n < 0x100) return Uint8Array.of(m | 24, n)
  if (n < 0x10000) return Uint8Array.of(m | 25, n >> 8, n & 0xff)
  if (n < 0x100000000) return Uint8Array.of(m | 26, n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff)
  const hi = Math.floor(n / 0x100000000)
  const lo = n >>> 0
  return Uint8Array.of(m | 27, hi >>> 24, (hi >>> 16) & 0xff, (hi >>> 8) & 0xff, hi & 0xff, lo >>> 24, (lo >>> 16) & 0xff, (lo >>> 8) & 0xff, lo & 0xff)
}

/** Deterministic CBOR (RFC 8949 4.2.1) of null, booleans, safe integers, text, bytes and arrays. */
export function encodeCbor (v) {
  const parts = []
  const walk = (x) => {
    if (x === null) parts.push(Uint8Array.of(0xf6))
    else if (x === false) parts.push(Uint8Array.of(0xf4))
    else if (x === true) parts.push(Uint8Array.of(0xf5))
    else if (typeof x === 'number') parts.push(x >= 0 ? head(0, x) : head(1, -1 - x))
    else if (typeof x === 'string') { const b = new TextEncoder().encode(x); parts.push(head(3, b.length), b) }
    else if (x instanceof Uint8Array) parts.push(head(2, x.length), x)
    else if (Array.isArray(x)) { parts.push(head(4, x.length)); x.forEach(walk) }
    else throw new Error(`CBOR: cannot encode ${typeof x}`)
  }
  walk(v)
  return concat(parts)
}

// ---- hashes and signatures ----

export async function sha256 (...parts) {
  return new Uint8Array(await subtle.digest('SHA-256', parts.length === 1 ? parts[0] : concat(parts)))
}

export const leafHash = (d) => sha256(Uint8Array.of(0), d)
export const nodeHash = (l, r) => sha256(Uint8Array.of(1), l, r)

/** RFC 9162 2.1.3.2: is `leaf` (a leaf hash) at `index` of a `size`-leaf tree with this root? */
export async function verifyInclusion (leaf, index, size, path, root) {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) return false
  let fn = index
  let sn = size - 1
  let r = leaf
  for (const p of path) {
    if (sn === 0) return false
    if ((fn & 1) === 1 || fn === sn) {
      r = await nodeHash(p, r)
      if ((fn & 1) === 0) while ((fn & 1) === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2) }
    } else {
      r = await nodeHash(r, p)
    }
    fn = Math.floor(fn / 2)
    sn = Math.floor(sn / 2)
  }
  return sn === 0 && bytesEqual(r, root)
}

const keyCache = new Map()

/** Ed25519 (RFC 8032) verify with WebCrypto. Throws UnsupportedError when the browser lacks it. */
export async function verifyEd25519 (publicKey, message, signature) {
  if (publicKey.length !== 32 || signature.length !== 64) return false
  const id = toHex(publicKey)
  let key = keyCache.get(id)
  if (key === undefined) {
    try {
      key = await subtle.importKey('raw', publicKey, { name: 'Ed25519' }, false, ['verify'])
    } catch (err) {
      if (err?.name === 'NotSupportedError' || /Unrecognized|not supported|Algorithm/i.test(String(err?.message))) throw new UnsupportedError()
      return false
    }
    keyCache.set(id, key)
  }
  try {
    return await subtle.verify({ name: 'Ed25519' }, key, signature, message)
  } catch {
    return false
  }
}

export class UnsupportedError extends Error {
  constructor () { super('this browser cannot check Ed25519 signatures; use a current Chrome, Edge, Firefox or Safari, or `medledger proof verify`') }
}

// ---- medledger values (docs/protocol.md) ----

export const DOMAIN = {
  batch: 'medledger/batch/v1',
  vote: 'medledger/vote/v1',
  validatorSet: 'medledger/validator-set/v1',
  genesis: 'medledger/genesis/v1'
}
const PRECOMMIT = 2

/** Votes for a quorum of n validators: floor(2n / 3) + 1. */
export const quorum = (n) => Math.floor((2 * n) / 3) + 1

export const recordCbor = (r) => [r.type, r.subject, r.contentType, r.payload, r.author, r.timestamp]
export const headerCbor = (h) => [h.chainId, h.height, h.round, h.time, h.proposer, h.parentHash, h.recordsRoot, h.validatorSetHash, h.lastCommitHash, h.evidenceHash]

export async function validatorSetHash (publicKeys) {
  return await sha256(encodeCbor([DOMAIN.validatorSet, [...publicKeys].sort(bytesCompare)]))
}

/**
 * The genesis file as a trust root: its hash (docs/protocol.md section 5), chain id and
 * validators, computed here from the JSON the user chose.
 */
export async function readGenesis (json) {
  if (typeof json !== 'object' || json === null) throw new Error('the genesis file is not a JSON object')
  const member = (m, where) => {
    if (typeof m?.name !== 'string' || m.name.length === 0) throw new Error(`${where}: a member needs a name`)
    const pk = typeof m.publicKey === 'string' ? fromHex(m.publicKey, 32) : publicKeyOfPeerId(String(m.peerId))
    if (typeof m.publicKey === 'string' && typeof m.peerId === 'string' && !bytesEqual(pk, publicKeyOfPeerId(m.peerId))) throw new Error(`${where}: peerId and publicKey disagree`)
    // An optional X25519 encryption key (hex) enters the hash only when present.
    const encryptionKey = m.encryptionKey === undefined ? undefined : fromHex(String(m.encryptionKey), 32)
    return { name: m.name, publicKey: pk, encryptionKey }
  }
  const item = (m) => m.encryptionKey === undefined ? [m.name, m.publicKey] : [m.name, m.publicKey, m.encryptionKey]
  if (typeof json.chainId !== 'string') throw new Error('the genesis file has no chainId')
  const time = Date.parse(String(json.genesisTime))
  if (!Number.isFinite(time)) throw new Error('the genesis file has no valid genesisTime')
  if (!Array.isArray(json.validators) || json.validators.length === 0) throw new Error('the genesis file lists no validators')
  const validators = json.validators.map((m, i) => member(m, `validators[${i}]`)).sort((a, b) => bytesCompare(a.publicKey, b.publicKey))
  const observers = (json.observers ?? []).map((m, i) => member(m, `observers[${i}]`))
  const params = { heartbeatMs: 10000, governanceDelay: 2, ...(json.params ?? {}) }
  const hash = await sha256(encodeCbor([
    DOMAIN.genesis, json.chainId, time,
    validators.map(item),
    observers.map(item),
    [params.heartbeatMs, params.governanceDelay]
  ]))
  return { chainId: json.chainId, hash, validators, observers }
}

/**
 * The validator set in force at `height`, from the node's GET /v1/validators: its set at the
 * next height with the changes that took effect after `height` undone, newest first.
 */
export function validatorsAt (height, v) {
  let set = v.validators.map(m => ({ name: m.name, publicKey: typeof m.publicKey === 'string' ? fromHex(m.publicKey, 32) : m.publicKey }))
  const changes = [...(v.changes ?? [])].filter(c => c.effective <= v.height && c.effective > height).sort((a, b) => b.effective - a.effective)
  for (const c of changes) {
    const pk = fromHex(c.publicKey, 32)
    set = c.action === 'add' ? set.filter(m => !bytesEqual(m.publicKey, pk)) : [...set, { name: c.name, publicKey: pk }]
  }
  return set.sort((a, b) => bytesCompare(a.publicKey, b.publicKey))
}

// ---- the proof ----

function parse (p) {
  const obj = (v, what) => { if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`${what} is not an object`); return v }
  const str = (v, what) => { if (typeof v !== 'string') throw new Error(`${what} is not text`); return v }
  const int = (v, what) => { if (!Number.isSafeInteger(v) || v < 0) throw new Error(`${what} is not a whole number`); return v }
  const hex = (v, what, len) => { try { return fromHex(str(v, what), len) } catch (err) { throw new Error(`${what}: ${err.message}`) } }
  const hexList = (v, what) => { if (!Array.isArray(v)) throw new Error(`${what} is not a list`); return v.map((x, i) => hex(x, `${what}[${i}]`, 32)) }
  obj(p, 'the proof')
  if (p.version !== 1) throw new Error('unsupported proof version')
  const r = obj(p.record, 'record')
  const b = obj(p.batch, 'batch')
  const blk = obj(p.block, 'block')
  const h = obj(blk.header, 'block.header')
  const c = obj(p.certificate, 'certificate')
  if (!Array.isArray(c.signatures)) throw new Error('certificate.signatures is not a list')
  return {
    chainId: str(p.chainId, 'chainId'),
    genesisHash: hex(p.genesisHash, 'genesisHash', 32),
    recordId: hex(p.recordId, 'recordId', 32),
    record: { type: str(r.type, 'record.type'), subject: hex(r.subject, 'record.subject', 32), contentType: str(r.contentType, 'record.contentType'), payload: (() => { try { return fromBase64(str(r.payload, 'record.payload')) } catch (err) { throw new Error(`record.payload: ${err.message}`) } })(), author: hex(r.author, 'record.author', 32), timestamp: int(r.timestamp, 'record.timestamp') },
    batch: { author: hex(b.author, 'batch.author', 32), recordsRoot: hex(b.recordsRoot, 'batch.recordsRoot', 32), count: int(b.count, 'batch.count'), signature: hex(b.signature, 'batch.signature', 64), index: int(b.index, 'batch.index'), path: hexList(b.path, 'batch.path') },
    header: { chainId: str(h.chainId, 'header.chainId'), height: int(h.height, 'header.height'), round: int(h.round, 'header.round'), time: int(h.time, 'header.time'), proposer: hex(h.proposer, 'header.proposer', 32), parentHash: hex(h.parentHash, 'header.parentHash', 32), recordsRoot: hex(h.recordsRoot, 'header.recordsRoot', 32), validatorSetHash: hex(h.validatorSetHash, 'header.validatorSetHash', 32), lastCommitHash: hex(h.lastCommitHash, 'header.lastCommitHash', 32), evidenceHash: hex(h.evidenceHash, 'header.evidenceHash', 32) },
    block: { batchIndex: int(blk.batchIndex, 'block.batchIndex'), batchCount: int(blk.batchCount, 'block.batchCount'), path: hexList(blk.path, 'block.path') },
    certificate: {
      height: int(c.height, 'certificate.height'),
      round: int(c.round, 'certificate.round'),
      blockHash: hex(c.blockHash, 'certificate.blockHash', 32),
      signatures: c.signatures.map((s, i) => { obj(s, `certificate.signatures[${i}]`); return { validator: hex(s.validator, `certificate.signatures[${i}].validator`, 32), signature: hex(s.signature, `certificate.signatures[${i}].signature`, 64) } })
    }
  }
}

/**
 * Checks a record proof (GET /v1/records/:id/proof) step by step, in plain words.
 *
 * `trust` says what it is checked against: `{ chainId, genesisHash, validators: [{ name,
 * publicKey }], source }` where validators is the set in force at the proof's height (use
 * `validatorsAt`) and source names where that came from ('genesis' for a genesis file the user
 * chose, 'node' for the node's own word). Never throws for a bad proof: returns
 * `{ ok: false, steps }` with the failing steps marked. Throws UnsupportedError when the browser
 * cannot check Ed25519 at all.
 */
export async function verifyProof (proof, trust) {
  const steps = []
  const step = (id, ok, text, detail) => { steps.push({ id, ok: Boolean(ok), text, detail }); return Boolean(ok) }
  let p
  try {
    p = parse(proof)
  } catch (err) {
    step('format', false, 'The proof is not in the expected form', err.message)
    return { ok: false, steps }
  }
  const name = (pk) => trust.validators.find(v => bytesEqual(v.publicKey, pk))?.name ?? `an unknown key ${toHex(pk).slice(0, 12)}…`
  const h = p.header.height

  step('chain', p.chainId === trust.chainId && bytesEqual(p.genesisHash, trust.genesisHash) && p.header.chainId === trust.chainId,
    `The proof is for this ledger (${trust.chainId})`,
    p.chainId === trust.chainId && bytesEqual(p.genesisHash, trust.genesisHash) && p.header.chainId === trust.chainId ? undefined : 'it names another chain or genesis')

  const id = await sha256(encodeCbor(recordCbor(p.record)))
  step('record', bytesEqual(id, p.recordId), 'The record\'s contents match its fingerprint (record id)', bytesEqual(id, p.recordId) ? undefined : 'the record does not hash to the record id')

  const inBatch = await verifyInclusion(await leafHash(id), p.batch.index, p.batch.count, p.batch.path, p.batch.recordsRoot)
  step('batch-path', inBatch, `The record is number ${p.batch.index + 1} of the ${p.batch.count} record${p.batch.count === 1 ? '' : 's'} in its batch`, inBatch ? undefined : 'the Merkle path from the record to the batch root fails')

  const author = name(p.batch.author)
  const isValidator = trust.validators.some(v => bytesEqual(v.publicKey, p.batch.author))
  const sameAuthor = bytesEqual(p.batch.author, p.record.author)
  const batchSigned = isValidator && sameAuthor && await verifyEd25519(p.batch.author, encodeCbor([DOMAIN.batch, trust.chainId, p.batch.author, p.batch.recordsRoot, p.batch.count]), p.batch.signature)
  step('batch-signature', batchSigned, `${author} signed the batch (digital signature checked)`,
    batchSigned ? undefined : !isValidator ? 'the batch author is not one of the hospitals allowed to sign' : !sameAuthor ? 'the record names another author than the batch' : 'the batch signature does not verify')

  const bid = await sha256(encodeCbor([p.batch.author, p.batch.recordsRoot, p.batch.count, p.batch.signature]))
  const inBlock = await verifyInclusion(await leafHash(bid), p.block.batchIndex, p.block.batchCount, p.block.path, p.header.recordsRoot)
  step('block-path', inBlock, `The batch is part of block #${h}`, inBlock ? undefined : 'the Merkle path from the batch to the block fails')

  const setHash = await validatorSetHash(trust.validators.map(v => v.publicKey))
  const setOk = bytesEqual(setHash, p.header.validatorSetHash)
  step('validator-set', setOk, `Block #${h} names the ${trust.validators.length} hospital${trust.validators.length === 1 ? '' : 's'} allowed to sign it`, setOk ? undefined : 'the block names another validator set than the one checked against')

  const blockHash = await sha256(encodeCbor(headerCbor(p.header)))
  const q = quorum(trust.validators.length)
  const c = p.certificate
  const message = encodeCbor([DOMAIN.vote, trust.chainId, PRECOMMIT, c.height, c.round, c.blockHash])
  const seen = new Set()
  const signers = []
  let problem
  if (c.height !== h) problem = 'the signatures are for another height'
  else if (!bytesEqual(c.blockHash, blockHash)) problem = 'the signatures are for another block'
  for (const s of c.signatures) {
    const k = toHex(s.validator)
    const member = trust.validators.some(v => bytesEqual(v.publicKey, s.validator))
    const ok = member && !seen.has(k) && await verifyEd25519(s.validator, message, s.signature)
    if (!member) problem ??= `a signature is by ${name(s.validator)}, who is not allowed to sign`
    else if (seen.has(k)) problem ??= `${name(s.validator)} is counted twice`
    else if (!ok) problem ??= `the signature of ${name(s.validator)} does not verify`
    seen.add(k)
    signers.push({ name: name(s.validator), publicKey: k, ok })
  }
  const good = signers.filter(s => s.ok).length
  if (problem === undefined && good < q) problem = `only ${good} signatures; ${q} are needed`
  step('certificate', problem === undefined, problem === undefined
    ? `Block #${h} was signed by ${good} of ${trust.validators.length} hospitals (${q} needed): it is final`
    : `Block #${h} is not proven final`, problem)

  const ok = steps.every(s => s.ok)
  return { ok, recordId: toHex(id), height: h, blockHash: toHex(blockHash), author, signers, quorum: q, total: trust.validators.length, source: trust.source, steps }
}
