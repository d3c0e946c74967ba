import test from 'ava'
import { randomBytes } from 'node:crypto'
import {
  contentAad, decodeEnvelope, encodeEnvelope, openContent, sealEnvelope, unwrapDataKey, wrapDataKey,
  type Envelope, type EnvelopeContext
} from '../../../src/privacy/envelope.ts'
import { isPrivacyError, PrivacyErrorCode } from '../../../src/privacy/errors.ts'
import { generateX25519, x25519, x25519PublicKey } from '../../../src/crypto/x25519.ts'

const node = (): Uint8Array => new Uint8Array(randomBytes(32))
const hospitalA = { node: node(), keys: generateX25519() }
const hospitalB = { node: node(), keys: generateX25519() }
const outsider = { node: node(), keys: generateX25519() }
const ctx: EnvelopeContext = { chainId: 'medledger-test', type: 'consultation', subject: new Uint8Array(32).fill(7), author: hospitalA.node }
const content = { contentType: 'text/plain', body: new Uint8Array(Buffer.from('blood pressure 120/80')) }

function seal (): Envelope {
  const { envelope } = sealEnvelope(ctx, content, [{ node: hospitalA.node, deliveryKey: hospitalA.keys.publicKey }, { node: hospitalB.node, deliveryKey: hospitalB.keys.publicKey }])
  return decodeEnvelope(encodeEnvelope(envelope))
}

function read (env: Envelope, who: { node: Uint8Array, keys: { publicKey: Uint8Array, privateKey: Uint8Array } }, c = ctx): string {
  return Buffer.from(openContent(c, env, unwrapDataKey(c, env, who.node, who.keys)).body).toString()
}

function code (fn: () => unknown): string | undefined {
  try { fn() } catch (err) { return isPrivacyError(err) ? err.code : `not a privacy error: ${String(err)}` }
  return undefined
}

test('x25519: both sides derive one secret; the public key follows from the private key', t => {
  const a = generateX25519()
  const b = generateX25519()
  t.deepEqual(x25519(a.privateKey, b.publicKey), x25519(b.privateKey, a.publicKey))
  t.deepEqual(x25519PublicKey(a.privateKey), a.publicKey)
  t.throws(() => x25519(a.privateKey, new Uint8Array(32)), { message: /low-order|all-zero/ })
})

test('round trip: every recipient recovers the content and its content type; the plaintext is not in the envelope', t => {
  const env = seal()
  t.is(read(env, hospitalA), 'blood pressure 120/80')
  t.is(read(env, hospitalB), 'blood pressure 120/80')
  t.is(openContent(ctx, env, unwrapDataKey(ctx, env, hospitalB.node, hospitalB.keys)).contentType, 'text/plain')
  const bytes = Buffer.from(encodeEnvelope(env))
  t.is(bytes.indexOf('blood pressure'), -1)
  t.is(bytes.indexOf('text/plain'), -1, 'the inner content type is encrypted too')
})

test('a non-recipient cannot decrypt: no wrap names it, and its key opens no wrap', t => {
  const env = seal()
  t.is(code(() => read(env, outsider)), PrivacyErrorCode.NOT_RECIPIENT)
  // Pretending to be B with another private key fails authentication.
  t.is(code(() => unwrapDataKey(ctx, env, hospitalB.node, { publicKey: hospitalB.keys.publicKey, privateKey: outsider.keys.privateKey })), PrivacyErrorCode.UNWRAP_FAILED)
  // A recipient's data key of another record opens nothing here.
  const other = seal()
  const otherKey = unwrapDataKey(ctx, other, hospitalA.node, hospitalA.keys)
  t.is(code(() => openContent(ctx, env, otherKey)), PrivacyErrorCode.DECRYPT_FAILED)
})

test('each byte of ciphertext, nonce, wrapped key or ephemeral key changed is detected', t => {
  const env = seal()
  const bytes = encodeEnvelope(env)
  const fields: Array<[string, (e: Envelope) => Uint8Array]> = [
    ['ciphertext', e => e.ciphertext],
    ['nonce', e => e.nonce],
    ['wrapped', e => e.recipients[1].wrapped],
    ['ephemeral', e => e.recipients[1].ephemeral]
  ]
  let tried = 0
  for (const [name, field] of fields) {
    const len = field(env).length
    for (let i = 0; i < len; i += Math.max(1, Math.floor(len / 16))) {
      const copy = decodeEnvelope(bytes)
      field(copy)[i] ^= 0x01
      t.truthy(code(() => read(copy, hospitalB)), `${name}[${i}] changed must fail`)
      tried++
    }
  }
  t.true(tried > 40)
})

test('the envelope is bound to chain id, type, subject and author', t => {
  const env = seal()
  for (const c of [
    { ...ctx, chainId: 'other-chain' },
    { ...ctx, type: 'treatment' },
    { ...ctx, subject: new Uint8Array(32).fill(8) },
    { ...ctx, author: hospitalB.node }
  ]) {
    t.is(code(() => read(env, hospitalB, c)), PrivacyErrorCode.UNWRAP_FAILED)
    // Even with the right data key the content does not open under another context.
    const dk = unwrapDataKey(ctx, env, hospitalB.node, hospitalB.keys)
    t.is(code(() => openContent(c, env, dk)), PrivacyErrorCode.DECRYPT_FAILED)
  }
  t.notDeepEqual(contentAad(ctx), contentAad({ ...ctx, type: 'treatment' }))
})

test('a wrap moved between recipients or envelopes does not open', t => {
  const env = seal()
  const other = seal()
  const moved: Envelope = { ...env, recipients: [env.recipients[0], other.recipients[1]] }
  t.is(code(() => read(moved, hospitalB)), PrivacyErrorCode.DECRYPT_FAILED)
  // A wrap made for B, relabelled as the outsider's, fails authentication.
  const relabel: Envelope = { ...env, recipients: [env.recipients[0], { ...env.recipients[1], node: outsider.node }] }
  t.is(code(() => unwrapDataKey(ctx, relabel, outsider.node, hospitalB.keys)), PrivacyErrorCode.UNWRAP_FAILED)
  t.truthy(wrapDataKey(ctx, new Uint8Array(32), { node: outsider.node, deliveryKey: outsider.keys.publicKey }).wrapped.length === 48)
})

test('decoding is strict: wrong version, sizes, duplicate or missing recipients, trailing bytes', t => {
  const env = seal()
  const good = encodeEnvelope(env)
  t.notThrows(() => decodeEnvelope(good))
  t.is(code(() => decodeEnvelope(new Uint8Array([...good, 0]))), PrivacyErrorCode.ENVELOPE_MALFORMED)
  t.is(code(() => decodeEnvelope(encodeEnvelope({ ...env, recipients: [] }))), PrivacyErrorCode.ENVELOPE_MALFORMED)
  t.is(code(() => decodeEnvelope(encodeEnvelope({ ...env, recipients: [env.recipients[0], env.recipients[0]] }))), PrivacyErrorCode.ENVELOPE_MALFORMED)
  t.is(code(() => decodeEnvelope(encodeEnvelope({ ...env, nonce: new Uint8Array(11) }))), PrivacyErrorCode.ENVELOPE_MALFORMED)
  const v2 = new Uint8Array(good)
  v2[1] = 0x02
  t.is(code(() => decodeEnvelope(v2)), PrivacyErrorCode.ENVELOPE_MALFORMED)
  t.is(code(() => sealEnvelope(ctx, content, [])), PrivacyErrorCode.RECIPIENT_UNKNOWN)
})
