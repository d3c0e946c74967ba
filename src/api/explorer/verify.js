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
    else if (typeof x === 'string') { const b = new TextEncoder().encode(x); parts.push(head(3, b.length), b) } else if (x instanceof Uint8Array) parts.push(head(2, x.length), x)
    else if (Array.isArray(x)) { parts.push(head(4, x.length)); x.forEach(walk) } else throw new Error(`CBOR: cannot encode ${typeof x}`)
  }
  walk(v)
  return concat(parts)
}

/**
 * Decodes one canonical CBOR item of the same data model (unsigned and negative integers, text,
 * bytes, arrays, false, true, null). Anything else, trailing bytes, or a form that is not the
 * canonical one (re-encoding gives other bytes) is refused, as the node's decoder does.
 */
export function decodeCbor (bytes) {
  let at = 0
  const need = (n) => { if (at + n > bytes.length) throw new Error('CBOR: truncated'); const v = bytes.subarray(at, at + n); at += n; return v }
  const arg = (info) => {
    if (info < 24) return info
    const len = info === 24 ? 1 : info === 25 ? 2 : info === 26 ? 4 : info === 27 ? 8 : 0
    if (len === 0) throw new Error('CBOR: indefinite or reserved length')
    let n = 0
    for (const b of need(len)) n = n * 256 + b
    if (!Number.isSafeInteger(n)) throw new Error('CBOR: integer beyond 2^53 - 1')
    return n
  }
  const item = (depth) => {
    if (depth > 16) throw new Error('CBOR: nested too deeply')
    const ib = need(1)[0]
    const major = ib >> 5
    const info = ib & 0x1f
    if (major === 7) {
      if (info === 20) return false
      if (info === 21) return true
      if (info === 22) return null
      throw new Error('CBOR: float or unsupported simple value')
    }
    const n = arg(info)
    if (major === 0) return n
    if (major === 1) return -1 - n
    if (major === 2) return need(n).slice()
    if (major === 3) return new TextDecoder('utf-8', { fatal: true }).decode(need(n))
    if (major === 4) { const out = []; for (let i = 0; i < n; i++) out.push(item(depth + 1)); return out }
    throw new Error('CBOR: maps and tags are not used')
  }
  const v = item(0)
  if (at !== bytes.length) throw new Error('CBOR: trailing bytes')
  if (!bytesEqual(encodeCbor(v), bytes)) throw new Error('CBOR: not the canonical encoding')
  return v
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
  genesis: 'medledger/genesis/v1',
  governance: 'medledger/governance/v1'
}
const PRECOMMIT = 2
/** The record type of a validator-set change, and the most validators a set may hold. */
export const GOVERNANCE_RECORD_TYPE = 'governance.validator-set'
const MAX_VALIDATORS = 256

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
  // RFC 3339 UTC only, a real date (as src/chain/genesis.ts parseGenesisTime): local-time forms would hash by time zone.
  const when = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,3}))?Z$/.exec(String(json.genesisTime))
  const time = when === null ? NaN : Date.parse(json.genesisTime)
  if (!Number.isFinite(time) || new Date(time).toISOString() !== `${when[1]}.${(when[2] ?? '').padEnd(3, '0')}Z`) throw new Error('the genesis file has no valid genesisTime')
  if (!Array.isArray(json.validators) || json.validators.length === 0) throw new Error('the genesis file lists no validators')
  const validators = json.validators.map((m, i) => member(m, `validators[${i}]`)).sort((a, b) => bytesCompare(a.publicKey, b.publicKey))
  const observers = (json.observers ?? []).map((m, i) => member(m, `observers[${i}]`))
  // Members (write, never vote) enter the hash as a seventh item only when there are some.
  const members = (json.members ?? []).map((m, i) => member(m, `members[${i}]`)).sort((a, b) => bytesCompare(a.publicKey, b.publicKey))
  const params = { heartbeatMs: 10000, governanceDelay: 2, ...(json.params ?? {}) }
  const hash = await sha256(encodeCbor([
    DOMAIN.genesis, json.chainId, time,
    validators.map(item),
    observers.map(item),
    [params.heartbeatMs, params.governanceDelay],
    ...(members.length === 0 ? [] : [members.map(item)])
  ]))
  return { chainId: json.chainId, hash, validators, observers, members, params }
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

function parseLink (p, at) {
  const obj = (v, what) => { if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`${what} is not an object`); return v }
  const str = (v, what) => { if (typeof v !== 'string') throw new Error(`${what} is not text`); return v }
  const int = (v, what) => { if (!Number.isSafeInteger(v) || v < 0) throw new Error(`${what} is not a whole number`); return v }
  const hex = (v, what, len) => { try { return fromHex(str(v, what), len) } catch (err) { throw new Error(`${what}: ${err.message}`) } }
  const hexList = (v, what) => { if (!Array.isArray(v)) throw new Error(`${what} is not a list`); return v.map((x, i) => hex(x, `${what}[${i}]`, 32)) }
  obj(p, at === '' ? 'the proof' : at.slice(0, -1))
  const r = obj(p.record, `${at}record`)
  const b = obj(p.batch, `${at}batch`)
  const blk = obj(p.block, `${at}block`)
  const h = obj(blk.header, `${at}block.header`)
  const c = obj(p.certificate, `${at}certificate`)
  if (!Array.isArray(c.signatures)) throw new Error(`${at}certificate.signatures is not a list`)
  return {
    recordId: hex(p.recordId, `${at}recordId`, 32),
    record: { type: str(r.type, `${at}record.type`), subject: hex(r.subject, `${at}record.subject`, 32), contentType: str(r.contentType, `${at}record.contentType`), payload: (() => { try { return fromBase64(str(r.payload, `${at}record.payload`)) } catch (err) { throw new Error(`${at}record.payload: ${err.message}`) } })(), author: hex(r.author, `${at}record.author`, 32), timestamp: int(r.timestamp, `${at}record.timestamp`) },
    batch: { author: hex(b.author, `${at}batch.author`, 32), recordsRoot: hex(b.recordsRoot, `${at}batch.recordsRoot`, 32), count: int(b.count, `${at}batch.count`), signature: hex(b.signature, `${at}batch.signature`, 64), index: int(b.index, `${at}batch.index`), path: hexList(b.path, `${at}batch.path`) },
    header: { chainId: str(h.chainId, `${at}block.header.chainId`), height: int(h.height, `${at}block.header.height`), round: int(h.round, `${at}block.header.round`), time: int(h.time, `${at}block.header.time`), proposer: hex(h.proposer, `${at}block.header.proposer`, 32), parentHash: hex(h.parentHash, `${at}block.header.parentHash`, 32), recordsRoot: hex(h.recordsRoot, `${at}block.header.recordsRoot`, 32), validatorSetHash: hex(h.validatorSetHash, `${at}block.header.validatorSetHash`, 32), lastCommitHash: hex(h.lastCommitHash, `${at}block.header.lastCommitHash`, 32), evidenceHash: hex(h.evidenceHash, `${at}block.header.evidenceHash`, 32) },
    block: { batchIndex: int(blk.batchIndex, `${at}block.batchIndex`), batchCount: int(blk.batchCount, `${at}block.batchCount`), path: hexList(blk.path, `${at}block.path`) },
    certificate: {
      height: int(c.height, `${at}certificate.height`),
      round: int(c.round, `${at}certificate.round`),
      blockHash: hex(c.blockHash, `${at}certificate.blockHash`, 32),
      signatures: c.signatures.map((s, i) => { obj(s, `${at}certificate.signatures[${i}]`); return { validator: hex(s.validator, `${at}certificate.signatures[${i}].validator`, 32), signature: hex(s.signature, `${at}certificate.signatures[${i}].signature`, 64) } })
    }
  }
}

function parse (p) {
  if (typeof p !== 'object' || p === null || Array.isArray(p)) throw new Error('the proof is not an object')
  if (p.version !== 1) throw new Error('unsupported proof version')
  if (typeof p.chainId !== 'string') throw new Error('chainId is not text')
  // Proofs from nodes older than governance chains carry none: the genesis set is then the only one.
  const governance = p.governance ?? []
  if (!Array.isArray(governance)) throw new Error('governance is not a list')
  return {
    chainId: p.chainId,
    genesisHash: (() => { try { return fromHex(String(p.genesisHash), 32) } catch (err) { throw new Error(`genesisHash: ${err.message}`) } })(),
    ...parseLink(p, ''),
    governance: governance.map((l, i) => parseLink(l, `governance[${i}].`))
  }
}

/** Governance action codes: a validator added or removed, a member (writes, never votes) added or removed. */
const ACTIONS = { 1: 'add', 2: 'remove', 3: 'add-member', 4: 'remove-member' }

/** A governance change record's payload: [action, name, publicKey, nonce, [[validator, signature], ...]]. */
function decodeChange (payload) {
  const v = decodeCbor(payload)
  const ok = Array.isArray(v) && v.length === 5 && ACTIONS[v[0]] !== undefined && typeof v[1] === 'string' && v[1].length <= 64 &&
    v[2] instanceof Uint8Array && v[2].length === 32 && Number.isSafeInteger(v[3]) && v[3] >= 0 && Array.isArray(v[4]) && v[4].length <= MAX_VALIDATORS &&
    v[4].every(a => Array.isArray(a) && a.length === 2 && a[0] instanceof Uint8Array && a[0].length === 32 && a[1] instanceof Uint8Array && a[1].length === 64)
  if (!ok) throw new Error('the change is not in the governance record format')
  return { actionCode: v[0], action: ACTIONS[v[0]], name: v[1], publicKey: v[2], nonce: v[3], approvals: v[4].map(([validator, signature]) => ({ validator, signature })) }
}

/**
 * One record in one certified block, against the set in force there (docs/protocol.md, record
 * proof steps 1-6). Returns the first problem, in plain words, or undefined.
 */
async function checkLink (l, chainId, validators, members = []) {
  // A batch author is a validator or a member in force there.
  const has = (pk) => validators.some(v => bytesEqual(v.publicKey, pk)) || members.some(m => bytesEqual(m.publicKey, pk))
  const id = await sha256(encodeCbor(recordCbor(l.record)))
  if (!bytesEqual(id, l.recordId)) return 'the record does not hash to its id'
  if (!await verifyInclusion(await leafHash(id), l.batch.index, l.batch.count, l.batch.path, l.batch.recordsRoot)) return 'the record is not in its batch'
  if (!has(l.batch.author) || !bytesEqual(l.batch.author, l.record.author)) return 'the batch author is not a validator or member there, or not the record author'
  if (!await verifyEd25519(l.batch.author, encodeCbor([DOMAIN.batch, chainId, l.batch.author, l.batch.recordsRoot, l.batch.count]), l.batch.signature)) return 'the batch signature does not verify'
  const bid = await sha256(encodeCbor([l.batch.author, l.batch.recordsRoot, l.batch.count, l.batch.signature]))
  if (!await verifyInclusion(await leafHash(bid), l.block.batchIndex, l.block.batchCount, l.block.path, l.header.recordsRoot)) return 'the batch is not in the block'
  if (l.header.chainId !== chainId || !bytesEqual(l.header.validatorSetHash, await validatorSetHash(validators.map(v => v.publicKey)))) return 'the block names another chain or validator set'
  const hash = await sha256(encodeCbor(headerCbor(l.header)))
  const c = l.certificate
  if (c.height !== l.header.height || !bytesEqual(c.blockHash, hash)) return 'the certificate is for another block'
  const message = encodeCbor([DOMAIN.vote, chainId, PRECOMMIT, c.height, c.round, c.blockHash])
  const seen = new Set()
  for (const s of c.signatures) {
    const k = toHex(s.validator)
    // Members write batches but never vote: only validators sign certificates.
    if (!validators.some(v => bytesEqual(v.publicKey, s.validator)) || seen.has(k) || !await verifyEd25519(s.validator, message, s.signature)) return 'a certificate signature is not a valid one of a distinct validator'
    seen.add(k)
  }
  if (seen.size < quorum(validators.length)) return 'the certificate has no quorum'
  return undefined
}

/**
 * The validator set in force at the proof's block, learned from the genesis set by applying the
 * proof's governance chain in order (docs/protocol.md, "The governance chain"): each change is
 * proved in its block, certified by the set in force there, approved by a quorum of that set,
 * included once the previous change took effect, and in force at the record's height.
 */
async function learnValidators (p, trust) {
  let set = trust.validators.map(v => ({ name: v.name, publicKey: v.publicKey }))
  // Members write batches but never vote: the genesis members, then the member changes below.
  let members = (trust.members ?? []).map(m => ({ name: m.name, publicKey: m.publicKey }))
  if (p.governance.length === 0) return { set, members }
  if (!Number.isSafeInteger(trust.governanceDelay)) return { set, problem: 'the genesis parameters (governanceDelay) are needed to follow validator-set changes' }
  let effective = 0
  for (const [i, l] of p.governance.entries()) {
    const h = l.header.height
    const at = `validator-set change ${i + 1} (block #${h})`
    if (h < effective) return { set, problem: `${at} was included before the previous change took effect` }
    effective = h + trust.governanceDelay
    if (h === 1 && !bytesEqual(l.header.parentHash, trust.genesisHash)) return { set, problem: `${at}: the block at height 1 does not follow this genesis` }
    if (effective > p.header.height) return { set, problem: `${at} takes effect after block #${p.header.height}` }
    const linkProblem = await checkLink(l, trust.chainId, set, members)
    if (linkProblem !== undefined) return { set, members, problem: `${at}: ${linkProblem}` }
    if (l.record.type !== GOVERNANCE_RECORD_TYPE) return { set, problem: `${at}: the record is not a validator-set change` }
    let c
    try {
      c = decodeChange(l.record.payload)
    } catch (err) {
      return { set, problem: `${at}: ${err.message}` }
    }
    const inSet = set.some(v => bytesEqual(v.publicKey, c.publicKey))
    const isMember = members.some(m => bytesEqual(m.publicKey, c.publicKey))
    const applies = c.action === 'add'
      ? !inSet && !isMember && set.length < MAX_VALIDATORS
      : c.action === 'remove'
        ? inSet && set.length > 1
        : c.action === 'add-member'
          ? !inSet && !isMember
          : isMember
    if (c.name.length === 0 || !applies) return { set, members, problem: `${at}: the change does not apply to the sets in force` }
    const message = encodeCbor([DOMAIN.governance, trust.chainId, c.actionCode, c.name, c.publicKey, c.nonce])
    const seen = new Set()
    for (const a of c.approvals) {
      const k = toHex(a.validator)
      if (!set.some(v => bytesEqual(v.publicKey, a.validator)) || seen.has(k) || !await verifyEd25519(a.validator, message, a.signature)) return { set, problem: `${at}: an approval is not a valid one of a distinct validator` }
      seen.add(k)
    }
    if (seen.size < quorum(set.length)) return { set, problem: `${at}: approved by ${seen.size}, a quorum is ${quorum(set.length)}` }
    if (c.action === 'add') set = [...set, { name: c.name, publicKey: c.publicKey }]
    else if (c.action === 'remove') set = set.filter(v => !bytesEqual(v.publicKey, c.publicKey))
    else if (c.action === 'add-member') members = [...members, { name: c.name, publicKey: c.publicKey }]
    else members = members.filter(m => !bytesEqual(m.publicKey, c.publicKey))
  }
  return { set: set.sort((a, b) => bytesCompare(a.publicKey, b.publicKey)), members, changes: p.governance.length }
}

/**
 * Checks a record proof (GET /v1/records/:id/proof) step by step, in plain words.
 *
 * `trust` says what it is checked against: `{ chainId, genesisHash, validators: [{ name,
 * publicKey }], governanceDelay, source }`. With source 'genesis', validators is the genesis
 * set and governanceDelay the genesis parameter (both from `readGenesis` of a file the user
 * chose): the proof's governance chain is verified and applied, so the check needs nothing else.
 * With source 'node', validators is the set in force at the proof's height as the node reports
 * it (use `validatorsAt`) and the governance chain is not consulted. Never throws for a bad
 * proof: returns `{ ok: false, steps }` with the failing steps marked. Throws UnsupportedError
 * when the browser cannot check Ed25519 at all.
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
  const h = p.header.height
  const learned = trust.source === 'node' ? { set: trust.validators } : await learnValidators(p, trust)
  const validators = learned.set
  const members = learned.members ?? trust.members ?? []
  const name = (pk) => validators.find(v => bytesEqual(v.publicKey, pk))?.name ?? members.find(m => bytesEqual(m.publicKey, pk))?.name ?? trust.validators.find(v => bytesEqual(v.publicKey, pk))?.name ?? `an unknown key ${toHex(pk).slice(0, 12)}…`

  // The block at height 1 names the genesis (parentHash): the one place a block binds it (docs/protocol.md 12.3).
  const sameChain = p.chainId === trust.chainId && bytesEqual(p.genesisHash, trust.genesisHash) && p.header.chainId === trust.chainId &&
    (h !== 1 || bytesEqual(p.header.parentHash, trust.genesisHash))
  step('chain', sameChain, `The proof is for this ledger (${trust.chainId})`, sameChain ? undefined : 'it names another chain or genesis')

  const id = await sha256(encodeCbor(recordCbor(p.record)))
  step('record', bytesEqual(id, p.recordId), 'The record\'s contents match its fingerprint (record id)', bytesEqual(id, p.recordId) ? undefined : 'the record does not hash to the record id')

  const inBatch = await verifyInclusion(await leafHash(id), p.batch.index, p.batch.count, p.batch.path, p.batch.recordsRoot)
  step('batch-path', inBatch, `The record is number ${p.batch.index + 1} of the ${p.batch.count} record${p.batch.count === 1 ? '' : 's'} in its batch`, inBatch ? undefined : 'the Merkle path from the record to the batch root fails')

  const author = name(p.batch.author)
  const isValidator = validators.some(v => bytesEqual(v.publicKey, p.batch.author)) || members.some(m => bytesEqual(m.publicKey, p.batch.author))
  const sameAuthor = bytesEqual(p.batch.author, p.record.author)
  const batchSigned = isValidator && sameAuthor && await verifyEd25519(p.batch.author, encodeCbor([DOMAIN.batch, trust.chainId, p.batch.author, p.batch.recordsRoot, p.batch.count]), p.batch.signature)
  step('batch-signature', batchSigned, `${author} signed the batch (digital signature checked)`,
    batchSigned ? undefined : !isValidator ? 'the batch author is not one of the hospitals allowed to sign' : !sameAuthor ? 'the record names another author than the batch' : 'the batch signature does not verify')

  const bid = await sha256(encodeCbor([p.batch.author, p.batch.recordsRoot, p.batch.count, p.batch.signature]))
  const inBlock = await verifyInclusion(await leafHash(bid), p.block.batchIndex, p.block.batchCount, p.block.path, p.header.recordsRoot)
  step('block-path', inBlock, `The batch is part of block #${h}`, inBlock ? undefined : 'the Merkle path from the batch to the block fails')

  const setHash = await validatorSetHash(validators.map(v => v.publicKey))
  const setOk = learned.problem === undefined && bytesEqual(setHash, p.header.validatorSetHash)
  const changes = learned.changes ?? 0
  step('validator-set', setOk,
    `Block #${h} names the ${validators.length} hospital${validators.length === 1 ? '' : 's'} allowed to sign it${changes === 0 ? '' : ` (the genesis list after ${changes} membership change${changes === 1 ? '' : 's'}, each proven)`}`,
    setOk ? undefined : learned.problem ?? 'the block names another validator set than the one checked against')

  const blockHash = await sha256(encodeCbor(headerCbor(p.header)))
  const q = quorum(validators.length)
  const c = p.certificate
  const message = encodeCbor([DOMAIN.vote, trust.chainId, PRECOMMIT, c.height, c.round, c.blockHash])
  const seen = new Set()
  const signers = []
  let problem
  if (c.height !== h) problem = 'the signatures are for another height'
  else if (!bytesEqual(c.blockHash, blockHash)) problem = 'the signatures are for another block'
  for (const s of c.signatures) {
    const k = toHex(s.validator)
    const member = validators.some(v => bytesEqual(v.publicKey, s.validator))
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
    ? `Block #${h} was signed by ${good} of ${validators.length} hospitals (${q} needed): it is final`
    : `Block #${h} is not proven final`, problem)

  const ok = steps.every(s => s.ok)
  return { ok, recordId: toHex(id), height: h, blockHash: toHex(blockHash), author, signers, quorum: q, total: validators.length, governanceChanges: changes, source: trust.source, steps }
}
