import { randomBytes } from 'node:crypto'
import { sha256 } from '../crypto/hash.ts'
import { bytesEqual, toHex } from '../encoding/bytes.ts'
import { decodeCbor, encodeCbor, readBytes, readList, readText, readTuple, readUint } from '../encoding/cbor.ts'
import { LIMITS } from '../chain/limits.ts'
import { AEAD_KEY_LENGTH, AEAD_NONCE_LENGTH, AEAD_TAG_LENGTH, aeadOpen, aeadSeal, hkdf } from '../crypto/aead.ts'
import { PrivacyError, PrivacyErrorCode } from './errors.ts'
import { generateX25519, x25519, X25519_KEY_LENGTH } from '../crypto/x25519.ts'

/**
 * The encrypted payload of a record (docs/privacy.md, "Envelope"). A fresh 32-byte data key per
 * record encrypts `[contentType, body]` with AES-256-GCM; the data key is wrapped for each
 * recipient's X25519 delivery key (ephemeral ECDH, HKDF-SHA256, AES-256-GCM). Both layers bind
 * the chain id, record type, subject and author, so an envelope cannot be replayed on another
 * record, and one changed byte anywhere fails authentication.
 */
export const ENVELOPE_CONTENT_TYPE = 'application/vnd.medledger.envelope+cbor'
export const ENVELOPE_VERSION = 1
export const ENVELOPE_DOMAIN = 'medledger/envelope/v1'
export const WRAP_DOMAIN = 'medledger/envelope/wrap/v1'
export const MAX_RECIPIENTS = 64
const WRAPPED_KEY_LENGTH = AEAD_KEY_LENGTH + AEAD_TAG_LENGTH
// Each wrap's key-encryption key is used exactly once (it depends on a fresh ephemeral key).
const WRAP_NONCE = new Uint8Array(AEAD_NONCE_LENGTH)

/** What the envelope is bound to: the record's fields other than the payload and timestamp. */
export interface EnvelopeContext {
  chainId: string
  type: string
  subject: Uint8Array
  /** Ed25519 public key of the node that authors the record. */
  author: Uint8Array
}

/** A recipient: a node (its Ed25519 key, as in genesis) and its current X25519 delivery key. */
export interface EnvelopeRecipient {
  node: Uint8Array
  deliveryKey: Uint8Array
}

export interface WrappedKey extends EnvelopeRecipient {
  ephemeral: Uint8Array
  wrapped: Uint8Array
}

export interface Envelope {
  nonce: Uint8Array
  ciphertext: Uint8Array
  recipients: WrappedKey[]
}

export interface EnvelopeContent {
  contentType: string
  body: Uint8Array
}

export function contentAad (ctx: EnvelopeContext): Uint8Array {
  return encodeCbor([ENVELOPE_DOMAIN, ctx.chainId, ctx.type, ctx.subject, ctx.author])
}

function wrapAad (ctx: EnvelopeContext, node: Uint8Array, deliveryKey: Uint8Array, ephemeral: Uint8Array): Uint8Array {
  return encodeCbor([WRAP_DOMAIN, sha256(contentAad(ctx)), node, deliveryKey, ephemeral])
}

function keyEncryptionKey (ephemeralPrivate: Uint8Array | null, ephemeralPublic: Uint8Array, deliveryPrivate: Uint8Array | null, deliveryKey: Uint8Array): Uint8Array {
  const shared = ephemeralPrivate !== null ? x25519(ephemeralPrivate, deliveryKey) : x25519(deliveryPrivate as Uint8Array, ephemeralPublic)
  const salt = new Uint8Array(2 * X25519_KEY_LENGTH)
  salt.set(ephemeralPublic, 0)
  salt.set(deliveryKey, X25519_KEY_LENGTH)
  return hkdf(shared, salt, WRAP_DOMAIN)
}

/** Wraps `dataKey` for one recipient with a fresh ephemeral X25519 key. */
export function wrapDataKey (ctx: EnvelopeContext, dataKey: Uint8Array, r: EnvelopeRecipient): WrappedKey {
  const eph = generateX25519()
  let kek: Uint8Array
  try {
    kek = keyEncryptionKey(eph.privateKey, eph.publicKey, null, r.deliveryKey)
  } catch (err) {
    throw new PrivacyError(PrivacyErrorCode.RECIPIENT_UNKNOWN, `the recipient's delivery key ${toHex(r.deliveryKey)} is unusable: ${(err as Error).message}`)
  }
  return { node: r.node, deliveryKey: r.deliveryKey, ephemeral: eph.publicKey, wrapped: aeadSeal(kek, WRAP_NONCE, dataKey, wrapAad(ctx, r.node, r.deliveryKey, eph.publicKey)) }
}

/** Encrypts content for the recipients. Returns the envelope and its data key (for the author's cache). */
export function sealEnvelope (ctx: EnvelopeContext, content: EnvelopeContent, recipients: EnvelopeRecipient[]): { envelope: Envelope, dataKey: Uint8Array } {
  if (recipients.length === 0 || recipients.length > MAX_RECIPIENTS) throw new PrivacyError(PrivacyErrorCode.RECIPIENT_UNKNOWN, `an envelope needs 1 to ${MAX_RECIPIENTS} recipients`)
  const seen = new Set<string>()
  for (const r of recipients) {
    if (seen.has(toHex(r.node))) throw new PrivacyError(PrivacyErrorCode.RECIPIENT_UNKNOWN, 'a recipient is listed twice')
    seen.add(toHex(r.node))
  }
  const dataKey = new Uint8Array(randomBytes(AEAD_KEY_LENGTH))
  const nonce = new Uint8Array(randomBytes(AEAD_NONCE_LENGTH))
  const ciphertext = aeadSeal(dataKey, nonce, encodeCbor([content.contentType, content.body]), contentAad(ctx))
  return { envelope: { nonce, ciphertext, recipients: recipients.map(r => wrapDataKey(ctx, dataKey, r)) }, dataKey }
}

export function encodeEnvelope (e: Envelope): Uint8Array {
  return encodeCbor([ENVELOPE_VERSION, e.nonce, e.ciphertext, e.recipients.map(r => [r.node, r.deliveryKey, r.ephemeral, r.wrapped])])
}

/** Strict decode: canonical CBOR, exact sizes, 1..64 distinct recipients. */
export function decodeEnvelope (bytes: Uint8Array): Envelope {
  try {
    const f = readTuple(decodeCbor(bytes, LIMITS.payloadBytes), 4, 'envelope')
    if (readUint(f[0], 'envelope.version') !== ENVELOPE_VERSION) throw new Error(`unsupported envelope version ${String(f[0])}`)
    const list = readList(f[3], MAX_RECIPIENTS, 'envelope.recipients')
    if (list.length === 0) throw new Error('an envelope has at least one recipient')
    const recipients = list.map((r, i) => {
      const x = readTuple(r, 4, `envelope.recipients[${i}]`)
      return {
        node: readBytes(x[0], 'recipient.node', { length: 32 }),
        deliveryKey: readBytes(x[1], 'recipient.deliveryKey', { length: X25519_KEY_LENGTH }),
        ephemeral: readBytes(x[2], 'recipient.ephemeral', { length: X25519_KEY_LENGTH }),
        wrapped: readBytes(x[3], 'recipient.wrapped', { length: WRAPPED_KEY_LENGTH })
      }
    })
    if (new Set(recipients.map(r => toHex(r.node))).size !== recipients.length) throw new Error('a recipient is listed twice')
    const ciphertext = readBytes(f[2], 'envelope.ciphertext', { max: LIMITS.payloadBytes })
    if (ciphertext.length < AEAD_TAG_LENGTH) throw new Error('ciphertext shorter than its tag')
    return { nonce: readBytes(f[1], 'envelope.nonce', { length: AEAD_NONCE_LENGTH }), ciphertext, recipients }
  } catch (err) {
    throw new PrivacyError(PrivacyErrorCode.ENVELOPE_MALFORMED, `not a medledger envelope: ${(err as Error).message}`)
  }
}

/** The wraps addressed to a node (normally zero or one). */
export function wrapsFor (e: Envelope, node: Uint8Array): WrappedKey[] {
  return e.recipients.filter(r => bytesEqual(r.node, node))
}

/**
 * Unwraps the data key with one delivery private key. Throws NOT_RECIPIENT when no wrap names
 * this node and that delivery key, UNWRAP_FAILED when a wrap does but does not authenticate
 * (a changed byte, or an envelope moved to another record).
 */
export function unwrapDataKey (ctx: EnvelopeContext, e: Envelope, node: Uint8Array, delivery: { publicKey: Uint8Array, privateKey: Uint8Array }): Uint8Array {
  const w = e.recipients.find(r => bytesEqual(r.node, node) && bytesEqual(r.deliveryKey, delivery.publicKey))
  if (w === undefined) throw new PrivacyError(PrivacyErrorCode.NOT_RECIPIENT, 'the envelope holds no data key for this node and delivery key')
  return unwrapKey(ctx, w, delivery)
}

/**
 * Opens one wrap (an envelope recipient or a key-release record's wrap) with the delivery private
 * key it names; UNWRAP_FAILED when it does not authenticate under the record's context.
 */
export function unwrapKey (ctx: EnvelopeContext, w: WrappedKey, delivery: { publicKey: Uint8Array, privateKey: Uint8Array }): Uint8Array {
  if (!bytesEqual(w.deliveryKey, delivery.publicKey)) throw new PrivacyError(PrivacyErrorCode.NOT_RECIPIENT, 'the wrap names another delivery key')
  let kek: Uint8Array
  try {
    kek = keyEncryptionKey(null, w.ephemeral, delivery.privateKey, w.deliveryKey)
  } catch (err) {
    throw new PrivacyError(PrivacyErrorCode.UNWRAP_FAILED, `cannot derive the key-encryption key: ${(err as Error).message}`)
  }
  const dataKey = aeadOpen(kek, WRAP_NONCE, w.wrapped, wrapAad(ctx, w.node, w.deliveryKey, w.ephemeral))
  if (dataKey === undefined || dataKey.length !== AEAD_KEY_LENGTH) throw new PrivacyError(PrivacyErrorCode.UNWRAP_FAILED, 'the wrapped data key does not authenticate (altered, or bound to another record)')
  return dataKey
}

/** Decrypts the content with the data key; throws DECRYPT_FAILED on any alteration. */
export function openContent (ctx: EnvelopeContext, e: Envelope, dataKey: Uint8Array): EnvelopeContent {
  const plain = aeadOpen(dataKey, e.nonce, e.ciphertext, contentAad(ctx))
  if (plain === undefined) throw new PrivacyError(PrivacyErrorCode.DECRYPT_FAILED, 'the ciphertext does not authenticate (altered, wrong key, or bound to another record)')
  try {
    const f = readTuple(decodeCbor(plain, LIMITS.payloadBytes), 2, 'envelope content')
    return { contentType: readText(f[0], 'content.contentType', LIMITS.contentTypeChars), body: readBytes(f[1], 'content.body') }
  } catch (err) {
    throw new PrivacyError(PrivacyErrorCode.DECRYPT_FAILED, `the decrypted content is malformed: ${(err as Error).message}`)
  }
}
