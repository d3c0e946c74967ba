import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { z } from 'zod'
import { LIMITS } from '../chain/limits.ts'
import type { MedRecord } from '../chain/types.ts'
import type { Genesis } from '../chain/genesis.ts'
import type { ValidatorSet } from '../chain/validator-set.ts'
import { verifySignature } from '../crypto/ed25519.ts'
import type { StoredRecord } from '../storage/index.ts'
import { fromHex, toHex } from '../encoding/bytes.ts'
import { decodeEnvelope, wrapsFor } from '../privacy/envelope.ts'
import { consentRecord, consentValid, enrolmentValid, enrolRecord, MAX_PATIENT_CONSENT_SKEW_MS, MIN_EMERGENCY_REASON_CHARS, sessionStatement } from '../privacy/patient-records.ts'
import { MAX_GRANT_TYPES, MAX_READER_CHARS, MAX_REASON_CHARS } from '../privacy/records.ts'
import type { PrivacyService } from '../privacy/service.ts'
import type { RecordProofs } from './proof.ts'
import { isMemberChange, type GovernanceAction } from '../governance/change.ts'
import { issues, sendError, sendKnown } from './error-reply.ts'
import { isMedledgerError } from '../errors.ts'
import { ApiErrorCode, PatientErrorCode } from './errors.ts'
import { PrivacyErrorCode } from '../privacy/errors.ts'
import { pageOf, pageQuery } from './paging.ts'
import { RateLimiter } from './rate-limit.ts'
import { ExpiringSecrets } from './patient-sessions.ts'
import { registerPatientPage } from './patient/index.ts'

export interface PatientRouteDeps {
  node: {
    readonly role: 'validator' | 'observer' | 'member'
    readonly genesis: Genesis
    readonly key: { publicKey: Uint8Array }
    readonly schedule: { latest: () => ValidatorSet, changes: () => ReadonlyArray<{ includedAt: number, effective: number, change: { action: GovernanceAction, name: string, publicKey: Uint8Array } }> }
    readonly store: { readonly head: { height: number } | null, getRecord: (id: Uint8Array) => Promise<StoredRecord | undefined> }
    submitRecords: (records: Array<Omit<MedRecord, 'author'>>) => Promise<{ ids: string[] }>
    waitFinal: (ids: string[], timeoutMs: number) => Promise<number>
  }
  privacy: PrivacyService
  maxWaitMs?: number
}

/** The header that carries a patient session (never the API's Authorization tokens). */
export const PATIENT_SESSION_HEADER = 'x-medledger-patient'
export const CHALLENGE_TTL_MS = 60_000
export const SESSION_TTL_MS = 15 * 60_000
export const ENROL_CODE_TTL_MS = 15 * 60_000
/** Outstanding challenges, sessions and enrolment codes each node keeps at most. */
export const MAX_OUTSTANDING = 10_000
/** Calls a minute per client address on the patient's public routes (challenge, session, enrol). */
export const PUBLIC_CALLS_PER_MINUTE = 30
/** Calls a minute per patient key on the session routes. */
export const SESSION_CALLS_PER_MINUTE = 120
/** Records per page of GET /v1/patient/records. */
export const PATIENT_RECORD_PAGE = 20

const HEX32 = /^[0-9a-fA-F]{64}$/
const Hex32 = z.string().regex(HEX32, '64 hex characters')
const Sig = z.string().regex(/^[0-9a-fA-F]{128}$/, 'an Ed25519 signature: 128 hex characters')
const RecordType = z.string().min(1).max(LIMITS.recordTypeChars).regex(/^[a-z][a-z0-9._-]*$/)

const EnrolCodeBody = z.object({ subject: Hex32 }).strict()
const EnrolBody = z.object({ code: Hex32, subject: Hex32, signKey: Hex32, boxKey: Hex32, signature: Sig }).strict()
const ChallengeBody = z.object({ signKey: Hex32 }).strict()
const SessionBody = z.object({ signKey: Hex32, nonce: Hex32, signature: Sig }).strict()
const ConsentBody = z.object({
  custodian: Hex32,
  subject: Hex32,
  grantee: Hex32,
  grant: z.boolean(),
  types: z.array(RecordType).max(MAX_GRANT_TYPES).default([]),
  notAfter: z.number().int().nonnegative().default(0),
  issuedAt: z.number().int().nonnegative(),
  signature: Sig
}).strict()
const EmergencyBody = z.object({ recordId: Hex32, reason: z.string().max(MAX_REASON_CHARS).refine(s => s.trim().length >= MIN_EMERGENCY_REASON_CHARS, `a stated reason of at least ${MIN_EMERGENCY_REASON_CHARS} characters`) }).strict()

function limited (reply: FastifyReply, waitMs: number): FastifyReply {
  return sendError(reply.header('retry-after', String(Math.ceil(waitMs / 1000))), ApiErrorCode.RATE_LIMITED, `too many calls; retry in ${Math.ceil(waitMs / 1000)} s`)
}

declare module 'fastify' {
  interface FastifyRequest { patientKey?: string }
}

/**
 * The patient API (docs/privacy.md, "Patients"). No API token: the patient proves the key with a
 * signed one-time challenge and gets a short session, which serves only the records of the
 * subjects enrolled to that key (at any hospital of the chain). Also the hospital's side of
 * enrolment (an admin-issued one-time code) and emergency reads (plaintext token).
 */
export function patientRoutes (deps: PatientRouteDeps): (app: FastifyInstance, ctx: { proofs: RecordProofs }) => Promise<void> {
  const { node, privacy } = deps
  const chainId = node.genesis.chainId
  const me = toHex(node.key.publicKey)
  const PUBLIC = { config: { role: 'public' as const } }
  const PATIENT = { config: { role: 'patient' as const } }
  const ADMIN = { config: { role: 'admin' as const } }
  const PLAINTEXT = { config: { role: 'plaintext' as const } }
  const byAddress = new RateLimiter(PUBLIC_CALLS_PER_MINUTE)
  const byPatient = new RateLimiter(SESSION_CALLS_PER_MINUTE)
  const codes = new ExpiringSecrets<string>(ENROL_CODE_TTL_MS, MAX_OUTSTANDING)
  const challenges = new ExpiringSecrets<string>(CHALLENGE_TTL_MS, MAX_OUTSTANDING)
  const sessions = new ExpiringSecrets<string>(SESSION_TTL_MS, MAX_OUTSTANDING)

  const submitFinal = async (reply: FastifyReply, record: Omit<MedRecord, 'author'>): Promise<{ recordId: string, height: number } | undefined> => {
    try {
      const { ids } = await node.submitRecords([record])
      return { recordId: ids[0], height: await node.waitFinal(ids, deps.maxWaitMs ?? 60_000) }
    } catch (err) {
      sendKnown(reply, err)
      return undefined
    }
  }
  const named = (hex: string): { name: string, publicKey: string } => ({ name: privacy.nameOf(hex), publicKey: hex })

  return async (app, { proofs }) => {
    registerPatientPage(app)
    // Every patient route: a live session, and within the patient key's rate.
    app.addHook('preHandler', async (req: FastifyRequest, reply) => {
      if (req.routeOptions.config.role !== 'patient') return
      const h = req.headers[PATIENT_SESSION_HEADER]
      const key = typeof h === 'string' && HEX32.test(h) ? sessions.peek(h.toLowerCase()) : undefined
      if (key === undefined) return sendError(reply, PatientErrorCode.SESSION, `${req.method} ${req.routeOptions.url ?? ''} needs a patient session (${PATIENT_SESSION_HEADER}): POST /v1/patient/challenge, sign it, POST /v1/patient/session`)
      const waitMs = byPatient.take(key)
      if (waitMs > 0) return limited(reply, waitMs)
      req.patientKey = key
    })
    const publicRate = (req: FastifyRequest, reply: FastifyReply): boolean => {
      const waitMs = byAddress.take(req.ip)
      if (waitMs > 0) { limited(reply, waitMs); return false }
      return true
    }

    // ---- enrolment: the hospital's desk issues a code for a subject, the patient's device signs ----

    app.post('/v1/privacy/enrolments', ADMIN, async (req, reply) => {
      if (node.role !== 'validator') return sendError(reply, PrivacyErrorCode.OBSERVER, 'observers do not enrol patients')
      const p = EnrolCodeBody.safeParse(req.body)
      if (!p.success) return sendError(reply, ApiErrorCode.INVALID_BODY, issues(p.error))
      const subject = p.data.subject.toLowerCase()
      const code = codes.issue(subject)
      if (code === undefined) return sendError(reply, PatientErrorCode.BUSY, 'too many enrolment codes outstanding; retry later')
      // enrolCode: what the desk gives the patient (a QR code or text) to type into /patient.
      return { chainId, custodian: named(me), subject, code: code.secret, enrolCode: `${subject}.${code.secret}`, expiresAt: code.expiresAt }
    })

    app.post('/v1/patient/enrol', PUBLIC, async (req, reply) => {
      if (!publicRate(req, reply)) return reply
      const p = EnrolBody.safeParse(req.body)
      if (!p.success) return sendError(reply, ApiErrorCode.INVALID_BODY, issues(p.error))
      const b = p.data
      const subject = b.subject.toLowerCase()
      // The code is spent by this call, right or wrong: it cannot be guessed at leisure.
      if (codes.take(b.code.toLowerCase()) !== subject) return sendError(reply, PatientErrorCode.ENROL_CODE, 'this enrolment code is unknown, used, expired, or for another subject; ask the hospital for a new one')
      const e = { signKey: fromHex(b.signKey.toLowerCase()), boxKey: fromHex(b.boxKey.toLowerCase()), signature: fromHex(b.signature.toLowerCase()) }
      if (!enrolmentValid(chainId, node.key.publicKey, fromHex(subject), e)) return sendError(reply, PatientErrorCode.SIGNATURE, 'the enrolment is not signed by this patient key for this chain, hospital and subject')
      const done = await submitFinal(reply, enrolRecord(fromHex(subject), e, Date.now()))
      if (done === undefined) return reply
      return { ...done, custodian: named(me), subject }
    })

    // ---- sessions: a one-time challenge signed with the patient's key ----

    app.post('/v1/patient/challenge', PUBLIC, async (req, reply) => {
      if (!publicRate(req, reply)) return reply
      const p = ChallengeBody.safeParse(req.body)
      if (!p.success) return sendError(reply, ApiErrorCode.INVALID_BODY, issues(p.error))
      const c = challenges.issue(p.data.signKey.toLowerCase())
      if (c === undefined) return sendError(reply, PatientErrorCode.BUSY, 'too many challenges outstanding; retry later')
      return { chainId, nonce: c.secret, expiresAt: c.expiresAt }
    })

    app.post('/v1/patient/session', PUBLIC, async (req, reply) => {
      if (!publicRate(req, reply)) return reply
      const p = SessionBody.safeParse(req.body)
      if (!p.success) return sendError(reply, ApiErrorCode.INVALID_BODY, issues(p.error))
      const signKey = p.data.signKey.toLowerCase()
      const nonce = p.data.nonce.toLowerCase()
      // Single use: the nonce is spent by this call whatever its outcome.
      if (challenges.take(nonce) !== signKey) return sendError(reply, PatientErrorCode.CHALLENGE, 'this challenge is unknown, used, expired or for another key; ask for a new one')
      if (!verifySignature(fromHex(signKey), sessionStatement(chainId, fromHex(signKey), fromHex(nonce)), fromHex(p.data.signature.toLowerCase()))) return sendError(reply, PatientErrorCode.CHALLENGE, 'the challenge is not signed by this key')
      if ((await privacy.patientRecords(signKey)).length === 0) return sendError(reply, PatientErrorCode.NOT_ENROLLED, 'this key is not enrolled at any hospital of this chain')
      const s = sessions.issue(signKey)
      if (s === undefined) return sendError(reply, PatientErrorCode.BUSY, 'too many patient sessions open; retry later')
      return { session: s.secret, expiresAt: s.expiresAt }
    })

    // ---- the patient's records, their access logs, consents ----

    app.get('/v1/patient/records', PATIENT, async (req, reply) => {
      const key = req.patientKey as string
      const q = req.query as { after?: string, limit?: string }
      const pq = pageQuery(q, q.after, PATIENT_RECORD_PAGE)
      if (pq === undefined) return sendError(reply, ApiErrorCode.INVALID_RANGE, 'limit and after are whole numbers')
      const enrolments = await privacy.patientRecords(key)
      const all = enrolments.flatMap(e => e.recordIds.map(id => ({ id, custodian: e.custodian, subject: e.subject })))
      const page = pageOf(all, pq.cursor ?? 0, pq.limit)
      const records = []
      for (const x of page.items) {
        const stored = await node.store.getRecord(fromHex(x.id))
        if (stored === undefined) continue
        let wraps: Array<{ node: string, deliveryKey: string, ephemeral: string, wrapped: string }> = []
        try {
          wraps = wrapsFor(decodeEnvelope(stored.record.payload), fromHex(key)).map(w => ({ node: toHex(w.node), deliveryKey: toHex(w.deliveryKey), ephemeral: toHex(w.ephemeral), wrapped: toHex(w.wrapped) }))
        } catch (err) {
          // A malformed envelope on the chain wraps nothing to anyone; its key releases may still.
          if (!isMedledgerError(err)) throw err
        }
        wraps.push(...privacy.patientReleases(x.id).filter(w => w.node === key))
        records.push({
          recordId: x.id,
          type: stored.record.type,
          custodian: named(x.custodian),
          subject: x.subject,
          timestamp: stored.record.timestamp,
          height: stored.location.height,
          shredded: privacy.isShredded(x.id),
          wraps,
          proof: await proofs.proof(stored),
          access: [
            ...privacy.accessLog({ recordId: x.id }).map(a => ({ kind: 'read', node: named(a.node), reader: a.reader, height: a.height, timestamp: a.timestamp, recordId: a.accessRecordId })),
            ...privacy.emergencyLog({ recordId: x.id }).map(e => ({ kind: 'emergency', node: named(e.node), reader: e.reader, reason: e.reason, height: e.height, timestamp: e.timestamp, recordId: e.emergencyRecordId }))
          ].sort((a, b) => a.height - b.height || a.timestamp - b.timestamp)
        })
      }
      const set = node.schedule.latest()
      return {
        chainId,
        genesisHash: toHex(node.genesis.hash),
        patient: key,
        enrolments: enrolments.map(e => ({
          custodian: named(e.custodian),
          subject: e.subject,
          records: e.recordIds.length,
          grants: privacy.grants({ custodian: e.custodian, subject: e.subject }).map(g => ({ grantee: named(g.grantee), kind: g.kind, inForce: g.inForce, types: g.types, notAfter: g.notAfter, byPatient: g.patient !== undefined, height: g.height }))
        })),
        hospitals: set.members.map(m => named(toHex(m.publicKey))),
        // As GET /v1/validators: the page checks each proof against the set of its height.
        validators: {
          height: (node.store.head?.height ?? 0) + 1,
          validators: set.members.map(m => named(toHex(m.publicKey))),
          // Validator changes only (member changes do not change who certifies), as /v1/validators lists them.
          changes: node.schedule.changes().filter(c => !isMemberChange(c.change)).map(c => ({ includedAt: c.includedAt, effective: c.effective, action: c.change.action, name: c.change.name, publicKey: toHex(c.change.publicKey) }))
        },
        records,
        next: page.next
      }
    })

    app.post('/v1/patient/consents', PATIENT, async (req, reply) => {
      const key = req.patientKey as string
      const p = ConsentBody.safeParse(req.body)
      if (!p.success) return sendError(reply, ApiErrorCode.INVALID_BODY, issues(p.error))
      const b = p.data
      const custodian = b.custodian.toLowerCase()
      const subject = b.subject.toLowerCase()
      if (privacy.enrolmentOf(custodian, subject)?.signKey !== key) return sendError(reply, PatientErrorCode.NOT_ENROLLED, 'this session\'s key is not enrolled for that hospital and subject')
      if (!node.schedule.latest().members.some(m => toHex(m.publicKey) === b.grantee.toLowerCase())) return sendError(reply, PatientErrorCode.GRANTEE, 'the grantee is not a validator (hospital) of this chain')
      if (Math.abs(Date.now() - b.issuedAt) > MAX_PATIENT_CONSENT_SKEW_MS) return sendError(reply, PatientErrorCode.ISSUED_AT, 'issuedAt is more than 10 minutes from the node\'s clock')
      const c = { signKey: fromHex(key), custodian: fromHex(custodian), grantee: fromHex(b.grantee.toLowerCase()), grant: b.grant, types: b.types, notAfter: b.notAfter, issuedAt: b.issuedAt, signature: fromHex(b.signature.toLowerCase()) }
      if (!consentValid(chainId, fromHex(subject), c)) return sendError(reply, PatientErrorCode.SIGNATURE, 'the consent is not signed by this patient\'s key')
      const done = await submitFinal(reply, consentRecord(fromHex(subject), c, Date.now()))
      if (done === undefined) return reply
      return done
    })

    // ---- a hospital's emergency (break-glass) read ----

    app.post('/v1/privacy/emergency', PLAINTEXT, async (req, reply) => {
      const p = EmergencyBody.safeParse(req.body)
      if (!p.success) return sendError(reply, ApiErrorCode.INVALID_BODY, issues(p.error))
      const h = req.headers['x-medledger-reader']
      const reader = typeof h === 'string' ? h : ''
      if (reader.length > MAX_READER_CHARS) return sendError(reply, ApiErrorCode.INVALID_READER, `x-medledger-reader is at most ${MAX_READER_CHARS} characters`)
      let record
      try {
        record = await privacy.emergencyRecord(p.data.recordId.toLowerCase(), p.data.reason, reader)
      } catch (err) {
        return sendKnown(reply, err)
      }
      const done = await submitFinal(reply, record)
      if (done === undefined) return reply
      return { ...done, readable: `GET /v1/records/${p.data.recordId.toLowerCase()}/plaintext once the custodian's node has released the key (a few seconds)` }
    })
  }
}
