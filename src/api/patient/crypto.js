// The patient's cryptography, in the browser with WebCrypto (Ed25519 to sign, X25519 to open the
// records sealed to the patient, HKDF-SHA256, AES-256-GCM) and importable as is by Node 20, where
// the tests run it against envelopes the node sealed. It re-implements, independently of the
// node's code, docs/privacy.md sections 2 ("Envelope") and "Patients" (the signed statements).
// Plain JavaScript, no dependencies: the browser loads this very file.

import { encodeCbor, fromHex, fromBase64, sha256, toHex } from '../explorer/verify.js'

const subtle = globalThis.crypto.subtle

export const ENVELOPE_DOMAIN = 'medledger/envelope/v1'
export const WRAP_DOMAIN = 'medledger/envelope/wrap/v1'
export const ENROL_DOMAIN = 'medledger/patient/enrol/v1'
export const CONSENT_DOMAIN = 'medledger/patient/consent/v1'
export const SESSION_DOMAIN = 'medledger/patient/session/v1'
export const RECOVERY_TYPE = 'medledger-patient-key'

// ---- keys ----

/** A new patient key: an Ed25519 pair (sign) and an X25519 pair (open records), made on this device. */
export async function generatePatientKey () {
  const sign = await subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify'])
  const box = await subtle.generateKey({ name: 'X25519' }, true, ['deriveBits'])
  return await describe(sign.privateKey, box.privateKey)
}

async function describe (signPrivate, boxPrivate) {
  const sj = await subtle.exportKey('jwk', signPrivate)
  const bj = await subtle.exportKey('jwk', boxPrivate)
  return { signPrivate, boxPrivate, signKey: toHex(b64url(sj.x)), boxKey: toHex(b64url(bj.x)), recovery: { type: RECOVERY_TYPE, version: 1, sign: sj, box: bj } }
}

function b64url (s) {
  const b = s.replace(/-/g, '+').replace(/_/g, '/')
  return fromBase64(b + '='.repeat((4 - b.length % 4) % 4))
}

/** The recovery file's JSON (the private keys in the clear: keep it like a house key). */
export function recoveryFile (key) {
  return JSON.stringify(key.recovery)
}

/** Loads a key from its recovery file's JSON; throws on anything else. */
export async function loadRecovery (text) {
  const j = typeof text === 'string' ? JSON.parse(text) : text
  if (j?.type !== RECOVERY_TYPE || j.version !== 1 || j.sign?.crv !== 'Ed25519' || j.box?.crv !== 'X25519') throw new Error('not a medledger patient key file')
  const signPrivate = await subtle.importKey('jwk', j.sign, { name: 'Ed25519' }, true, ['sign'])
  const boxPrivate = await subtle.importKey('jwk', j.box, { name: 'X25519' }, true, ['deriveBits'])
  return await describe(signPrivate, boxPrivate)
}

export async function sign (key, bytes) {
  return new Uint8Array(await subtle.sign({ name: 'Ed25519' }, key.signPrivate, bytes))
}

// ---- the statements the patient signs (docs/privacy.md, "Patients") ----

export function enrolStatement (chainId, custodianHex, subjectHex, key) {
  return encodeCbor([ENROL_DOMAIN, chainId, fromHex(custodianHex, 32), fromHex(subjectHex, 32), fromHex(key.signKey, 32), fromHex(key.boxKey, 32)])
}

export function consentStatement (chainId, subjectHex, c) {
  return encodeCbor([CONSENT_DOMAIN, chainId, fromHex(c.custodian, 32), fromHex(subjectHex, 32), fromHex(c.grantee, 32), c.grant ? 'grant' : 'revoke', c.types, c.notAfter, c.issuedAt])
}

export function sessionStatement (chainId, signKeyHex, nonceHex) {
  return encodeCbor([SESSION_DOMAIN, chainId, fromHex(signKeyHex, 32), fromHex(nonceHex, 32)])
}

// ---- opening a record sealed to the patient ----

/** Strict enough CBOR decoding of what envelopes hold: unsigned integers, bytes, text, arrays. */
export function decodeCbor (bytes) {
  let at = 0
  const need = (n) => { if (at + n > bytes.length) throw new Error('CBOR: truncated'); const s = bytes.subarray(at, at + n); at += n; return s }
  const uint = (ai) => {
    if (ai < 24) return ai
    const n = { 24: 1, 25: 2, 26: 4, 27: 8 }[ai]
    if (n === undefined) throw new Error('CBOR: unsupported length')
    let v = 0
    for (const b of need(n)) v = v * 256 + b
    if (!Number.isSafeInteger(v)) throw new Error('CBOR: integer too large')
    return v
  }
  const item = (depth) => {
    if (depth > 8) throw new Error('CBOR: too deep')
    const [b] = need(1)
    const major = b >> 5
    const n = uint(b & 31)
    if (major === 0) return n
    if (major === 2) return need(n).slice()
    if (major === 3) return new TextDecoder('utf-8', { fatal: true }).decode(need(n))
    if (major === 4) { const out = []; for (let i = 0; i < n; i++) out.push(item(depth + 1)); return out }
    throw new Error(`CBOR: unsupported major type ${major}`)
  }
  const v = item(0)
  if (at !== bytes.length) throw new Error('CBOR: trailing bytes')
  return v
}

async function hkdf (ikm, salt, info) {
  const k = await subtle.importKey('raw', ikm, 'HKDF', false, ['deriveBits'])
  return new Uint8Array(await subtle.deriveBits({ name: 'HKDF', hash: 'SHA-256', salt, info: new TextEncoder().encode(info) }, k, 256))
}

async function aesOpen (key, nonce, sealed, aad) {
  const k = await subtle.importKey('raw', key, 'AES-GCM', false, ['decrypt'])
  return new Uint8Array(await subtle.decrypt({ name: 'AES-GCM', iv: nonce, additionalData: aad, tagLength: 128 }, k, sealed))
}

/**
 * Opens a record with the patient's X25519 key: `record` is the proof's record (the bytes the
 * proof verified), `wrap` a wrap of its data key to the patient (from the envelope or a key
 * release). Throws when anything does not authenticate.
 */
export async function openRecord (key, chainId, record, wrap) {
  try {
    return await open(key, chainId, record, wrap)
  } catch (err) {
    throw new Error(`the record does not open with this key: ${err?.message ?? String(err)}`)
  }
}

async function open (key, chainId, record, wrap) {
  const env = decodeCbor(fromBase64(record.payload))
  if (!Array.isArray(env) || env.length !== 4 || env[0] !== 1) throw new Error('not a medledger envelope')
  const [, nonce, ciphertext] = env
  const contentAad = encodeCbor([ENVELOPE_DOMAIN, chainId, record.type, fromHex(record.subject, 32), fromHex(record.author, 32)])
  const node = fromHex(wrap.node, 32)
  const deliveryKey = fromHex(wrap.deliveryKey, 32)
  const ephemeral = fromHex(wrap.ephemeral, 32)
  if (wrap.deliveryKey !== key.boxKey) throw new Error('this wrap is for another key')
  const eph = await subtle.importKey('raw', ephemeral, { name: 'X25519' }, false, [])
  const shared = new Uint8Array(await subtle.deriveBits({ name: 'X25519', public: eph }, key.boxPrivate, 256))
  const salt = new Uint8Array(64)
  salt.set(ephemeral, 0)
  salt.set(deliveryKey, 32)
  const kek = await hkdf(shared, salt, WRAP_DOMAIN)
  const wrapAad = encodeCbor([WRAP_DOMAIN, await sha256(contentAad), node, deliveryKey, ephemeral])
  const dataKey = await aesOpen(kek, new Uint8Array(12), fromHex(wrap.wrapped, 48), wrapAad)
  const content = decodeCbor(await aesOpen(dataKey, nonce, ciphertext, contentAad))
  dataKey.fill(0)
  if (!Array.isArray(content) || content.length !== 2 || typeof content[0] !== 'string' || !(content[1] instanceof Uint8Array)) throw new Error('malformed content')
  return { contentType: content[0], body: content[1] }
}
