import test from 'ava'
import { randomBytes } from 'node:crypto'
import { encodeEnvelope, sealEnvelope, type EnvelopeContext } from '../../../src/privacy/envelope.ts'
import { isPrivacyError } from '../../../src/privacy/errors.ts'
import { generateX25519 } from '../../../src/crypto/x25519.ts'
import { fromHex, toBase64, toHex } from '../../../src/encoding/bytes.ts'
import {
  consentRecord, consentValid, decodeConsent, decodeEmergency, decodeEnrol, emergencyRecord, enrolmentValid, enrolRecord, sessionStatement, type Consent
} from '../../../src/privacy/patient-records.ts'
import { verifySignature } from '../../../src/crypto/ed25519.ts'
import { isReservedType } from '../../../src/privacy/records.ts'
import { ExpiringSecrets } from '../../../src/api/patient-sessions.ts'
import { RateLimiter } from '../../../src/api/rate-limit.ts'
import { consentStatement, enrolStatement, generatePatientKey, loadRecovery, openRecord, recoveryFile, sessionStatement as pageSessionStatement, sign } from '../../../src/api/patient/crypto.js'

/*
 * The patient's record formats and signature checks (docs/privacy.md, "Patients"). The patient's
 * side is the page's own crypto.js under Node's WebCrypto: what the browser signs is what the
 * node verifies, and what the node seals to the patient is what the browser opens.
 */

const CHAIN = 'medledger-test'
const hospitalA = new Uint8Array(randomBytes(32))
const hospitalB = new Uint8Array(randomBytes(32))
const subject = new Uint8Array(32).fill(9)

test('an enrolment signed in the page verifies on the node, round-trips its record, and fails for another chain, hospital, subject or key', async t => {
  const key = await generatePatientKey()
  const sig = await sign(key, enrolStatement(CHAIN, toHex(hospitalA), toHex(subject), key))
  const e = { signKey: fromHex(key.signKey), boxKey: fromHex(key.boxKey), signature: sig }
  t.true(enrolmentValid(CHAIN, hospitalA, subject, e))
  const rec = enrolRecord(subject, e, Date.now())
  t.is(rec.type, 'patient.enrol')
  t.true(isReservedType(rec.type), 'clients cannot write patient records through POST /v1/records')
  t.deepEqual(decodeEnrol(rec.payload), e)
  t.false(enrolmentValid('other-chain', hospitalA, subject, e))
  t.false(enrolmentValid(CHAIN, hospitalB, subject, e))
  t.false(enrolmentValid(CHAIN, hospitalA, new Uint8Array(32).fill(8), e))
  const other = await generatePatientKey()
  t.false(enrolmentValid(CHAIN, hospitalA, subject, { ...e, boxKey: fromHex(other.boxKey) }), 'the box key is signed too')
  t.false(enrolmentValid(CHAIN, hospitalA, subject, { ...e, signKey: fromHex(other.signKey) }))
  t.true(isPrivacyError(t.throws(() => decodeEnrol(rec.payload.subarray(0, rec.payload.length - 1)))))
})

test('a consent signed in the page verifies on the node; changing grantee, kind, types, time or custodian breaks it', async t => {
  const key = await generatePatientKey()
  const fields = { custodian: toHex(hospitalA), grantee: toHex(hospitalB), grant: true, types: ['consultation'], notAfter: 0, issuedAt: Date.now() }
  const signature = await sign(key, consentStatement(CHAIN, toHex(subject), fields))
  const c: Consent = { signKey: fromHex(key.signKey), custodian: hospitalA, grantee: hospitalB, grant: true, types: ['consultation'], notAfter: 0, issuedAt: fields.issuedAt, signature }
  t.true(consentValid(CHAIN, subject, c))
  t.deepEqual(decodeConsent(consentRecord(subject, c, Date.now()).payload), c)
  t.false(consentValid(CHAIN, subject, { ...c, grant: false }), 'a grant is not a revocation')
  t.false(consentValid(CHAIN, subject, { ...c, grantee: hospitalA }))
  t.false(consentValid(CHAIN, subject, { ...c, custodian: hospitalB }))
  t.false(consentValid(CHAIN, subject, { ...c, types: [] }))
  t.false(consentValid(CHAIN, subject, { ...c, issuedAt: c.issuedAt + 1 }))
  t.false(consentValid('other-chain', subject, c))
  t.false(consentValid(CHAIN, new Uint8Array(32), c))
})

test('the session challenge the page signs is the one the node checks', async t => {
  const key = await generatePatientKey()
  const nonce = toHex(new Uint8Array(randomBytes(32)))
  const sig = await sign(key, pageSessionStatement(CHAIN, key.signKey, nonce))
  t.true(verifySignature(fromHex(key.signKey), sessionStatement(CHAIN, fromHex(key.signKey), fromHex(nonce)), sig))
  t.false(verifySignature(fromHex(key.signKey), sessionStatement('other-chain', fromHex(key.signKey), fromHex(nonce)), sig))
})

test('an emergency read states a reason; its record round-trips', t => {
  const id = new Uint8Array(randomBytes(32))
  t.true(isPrivacyError(t.throws(() => emergencyRecord(subject, id, '  ', 'rdr:x', 1))))
  t.true(isPrivacyError(t.throws(() => emergencyRecord(subject, id, 'x'.repeat(257), '', 1))))
  const r = emergencyRecord(subject, id, 'unconscious in A&E, allergy check', 'rdr:ab', 1)
  t.is(r.type, 'access.emergency')
  t.like(decodeEmergency(r.payload), { reason: 'unconscious in A&E, allergy check', reader: 'rdr:ab' })
  t.deepEqual(decodeEmergency(r.payload).recordId, id)
})

test('a record the node seals to the patient opens in the page with the patient key (also after recovery), and not with another', async t => {
  const key = await generatePatientKey()
  const hospital = generateX25519()
  const ctx: EnvelopeContext = { chainId: CHAIN, type: 'consultation', subject, author: hospitalA }
  const { envelope } = sealEnvelope(ctx, { contentType: 'text/plain', body: new Uint8Array(Buffer.from('BP 120/80, follow up in 2 weeks')) }, [
    { node: hospitalA, deliveryKey: hospital.publicKey },
    { node: fromHex(key.signKey), deliveryKey: fromHex(key.boxKey) }
  ])
  const record = { type: ctx.type, subject: toHex(subject), author: toHex(hospitalA), payload: toBase64(encodeEnvelope(envelope)) }
  const w = envelope.recipients[1]
  const wrap = { node: toHex(w.node), deliveryKey: toHex(w.deliveryKey), ephemeral: toHex(w.ephemeral), wrapped: toHex(w.wrapped) }
  const opened = await openRecord(key, CHAIN, record, wrap)
  t.is(opened.contentType, 'text/plain')
  t.is(Buffer.from(opened.body).toString(), 'BP 120/80, follow up in 2 weeks')
  const recovered = await loadRecovery(recoveryFile(key))
  t.is(recovered.signKey, key.signKey)
  t.is(Buffer.from((await openRecord(recovered, CHAIN, record, wrap)).body).toString(), 'BP 120/80, follow up in 2 weeks')
  const other = await generatePatientKey()
  await t.throwsAsync(openRecord(other, CHAIN, record, wrap))
  await t.throwsAsync(openRecord(key, CHAIN, { ...record, type: 'other' }, wrap), undefined, 'bound to the record')
  await t.throwsAsync(openRecord(key, 'other-chain', record, wrap))
  await t.throwsAsync(loadRecovery('{"type":"something"}'))
})

test('one-time secrets are single use, expire, and are bounded', t => {
  let now = 1000
  const s = new ExpiringSecrets<string>(100, 2, () => now)
  const a = s.issue('a')
  const b = s.issue('b')
  t.truthy(a); t.truthy(b)
  t.is(s.issue('c'), undefined, 'full of live entries: refused, none evicted')
  t.is(s.take(a!.secret), 'a')
  t.is(s.take(a!.secret), undefined, 'spent')
  t.is(s.peek(b!.secret), 'b')
  now += 100
  t.is(s.peek(b!.secret), undefined, 'expired')
  t.truthy(s.issue('d'))
  t.truthy(s.issue('e'), 'expired entries are swept when full')
  t.is(s.size, 2)
})

test('a rate limiter keyed by address keeps at most maxKeys buckets', t => {
  let now = 0
  const rl = new RateLimiter(2, () => now, 100)
  for (let i = 0; i < 1000; i++) rl.take(`10.0.${i >> 8}.${i & 255}`)
  t.true(rl.size <= 100, `buckets: ${rl.size}`)
  t.is(rl.take('x'), 0)
  t.is(rl.take('x'), 0)
  t.true(rl.take('x') > 0, 'a live bucket still limits')
  now += 60_000
})
