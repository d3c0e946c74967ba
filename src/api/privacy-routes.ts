import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { z } from 'zod'
import { LIMITS } from '../chain/limits.ts'
import type { MedRecord } from '../chain/types.ts'
import { fromBase64, fromHex, isCanonicalBase64, toBase64, toHex } from '../encoding/bytes.ts'
import { PrivacyErrorCode } from '../privacy/errors.ts'
import { isReservedType, MAX_GRANT_TYPES, MAX_READER_CHARS, MAX_REASON_CHARS } from '../privacy/records.ts'
import { MAX_RECIPIENTS } from '../privacy/envelope.ts'
import { subjectPseudonym } from '../privacy/pseudonym.ts'
import type { PrivacyService } from '../privacy/service.ts'
import type { ApiContext } from './server.ts'
import { issues, sendError, sendKnown } from './error-reply.ts'
import { ApiErrorCode } from './errors.ts'
import { MAX_LIST_PAGE, pageOf, pageQuery } from './paging.ts'
import { RateLimiter } from './rate-limit.ts'

export interface PrivacyRouteDeps {
  node: {
    readonly role: 'validator' | 'observer' | 'member'
    submitRecords: (records: Array<Omit<MedRecord, 'author'>>) => Promise<{ ids: string[] }>
    waitFinal: (ids: string[], timeoutMs: number) => Promise<number>
  }
  privacy: PrivacyService
  /** The hospital's subject secret, for POST /v1/privacy/subjects. */
  subjectSecret?: Uint8Array
  /** POST /v1/privacy/subjects calls a minute per token (api.pseudonym_lookups_per_minute). */
  pseudonymLookupsPerMinute?: number
  maxWaitMs?: number
}

const HEX32 = /^[0-9a-fA-F]{64}$/
const RecordType = z.string().min(1).max(LIMITS.recordTypeChars).regex(/^[a-z][a-z0-9._-]*$/, 'lower-case letters, digits, dot, dash or underscore')
const Subject = z.string().regex(HEX32, 'a pseudonymous subject: 64 hex characters (a keyed hash, never a name)')

const PlaintextRecord = z.object({
  type: RecordType,
  subject: Subject,
  contentType: z.string().min(1).max(LIMITS.contentTypeChars),
  plaintext: z.string().max(Math.ceil(LIMITS.payloadBytes / 3) * 4, 'plaintext too large').refine(isCanonicalBase64, 'padded, canonical base64'),
  recipients: z.array(z.string().min(1).max(128)).max(MAX_RECIPIENTS - 1).default([]),
  timestamp: z.number().int().nonnegative().optional()
}).strict()

const GrantBody = z.object({
  subject: Subject,
  grantee: z.string().min(1).max(128),
  types: z.array(RecordType).max(MAX_GRANT_TYPES).default([]),
  notAfter: z.number().int().nonnegative().default(0),
  consentHash: z.string().regex(HEX32, '64 hex characters (SHA-256 of the consent document)').optional()
}).strict()
const RevokeBody = z.object({ subject: Subject, grantee: z.string().min(1).max(128) }).strict()
const ShredBody = z.object({ recordId: z.string().regex(HEX32, 'a record id: 64 hex characters'), reason: z.string().max(MAX_REASON_CHARS).default('') }).strict()
const SubjectBody = z.object({ patientId: z.string().min(1).max(256) }).strict()

/**
 * The privacy API (docs/privacy.md): encryption on submit, plaintext reads with their own token
 * and an access record on the chain, grants, revocations, shreds, subject pseudonyms, and
 * metadata views. Registered by createApi before its own routes, so the hooks here see them.
 * Every route declares its role (src/api/auth.ts); createApi's access check enforces it before
 * any hook or handler here runs.
 */
export function privacyRoutes (deps: PrivacyRouteDeps): (app: FastifyInstance, ctx: ApiContext) => Promise<void> {
  const { node, privacy } = deps
  const READ = { config: { role: 'read' as const } }
  const PLAINTEXT = { config: { role: 'plaintext' as const } }
  const ADMIN = { config: { role: 'admin' as const } }
  const lookups = new RateLimiter(deps.pseudonymLookupsPerMinute ?? 60)

  return async (app, ctx) => {
    // POST /v1/records and /v1/batches: records with `plaintext` and `recipients` are encrypted
    // here, before the submit handler sees them, so the chain only ever gets the envelope.
    const sealRecords = (reply: FastifyReply, records: unknown[], where: string): unknown[] | FastifyReply => {
      const out: unknown[] = []
      for (const [i, r] of records.entries()) {
        const rec = r as Record<string, unknown> | null
        if (typeof rec !== 'object' || rec === null) { out.push(r); continue }
        if (typeof rec.type === 'string' && isReservedType(rec.type)) return sendError(reply, PrivacyErrorCode.RESERVED_TYPE, `${where}records.${i}.type: ${rec.type} records are written by the node itself (see /v1/privacy)`)
        if (!('plaintext' in rec) && !('recipients' in rec)) { out.push(r); continue }
        const p = PlaintextRecord.safeParse(rec)
        if (!p.success) return sendError(reply, ApiErrorCode.INVALID_BODY, issues(p.error, `${where}records.${i}`))
        try {
          const sealed = privacy.sealRecord({ type: p.data.type, subject: fromHex(p.data.subject.toLowerCase()), contentType: p.data.contentType, plaintext: fromBase64(p.data.plaintext), recipients: p.data.recipients, timestamp: p.data.timestamp ?? Date.now() })
          out.push({ type: sealed.type, subject: toHex(sealed.subject), contentType: sealed.contentType, payload: toBase64(sealed.payload), timestamp: sealed.timestamp })
        } catch (err) {
          return sendKnown(reply, err)
        }
      }
      return out
    }
    app.addHook('preValidation', async (req, reply) => {
      if (req.method !== 'POST' || (req.routeOptions.url !== '/v1/records' && req.routeOptions.url !== '/v1/batches')) return
      const body = req.body as { records?: unknown, batches?: unknown } | null
      if (typeof body !== 'object' || body === null) return
      const holders = req.routeOptions.url === '/v1/records'
        ? [{ batch: body as { records?: unknown }, where: '' }]
        : Array.isArray(body.batches) ? (body.batches as unknown[]).map((b, j) => ({ batch: b as { records?: unknown }, where: `batches.${j}.` })) : []
      for (const { batch, where } of holders) {
        if (typeof batch !== 'object' || batch === null || !Array.isArray(batch.records)) continue
        const sealed = sealRecords(reply, batch.records, where)
        if (!Array.isArray(sealed)) return sealed
        batch.records = sealed
      }
    })

    app.get('/v1/records/:id/plaintext', PLAINTEXT, async (req, reply) => {
      if (node.role !== 'validator') return sendError(reply, PrivacyErrorCode.OBSERVER, `only validators serve plaintext (this node is ${node.role})`)
      const { id } = req.params as { id: string }
      if (!HEX32.test(id)) return sendError(reply, ApiErrorCode.INVALID_ID, 'a record id is 64 hex characters')
      const h = req.headers['x-medledger-reader']
      const reader = typeof h === 'string' ? h : ''
      if (reader.length > MAX_READER_CHARS) return sendError(reply, ApiErrorCode.INVALID_READER, `x-medledger-reader is at most ${MAX_READER_CHARS} characters`)
      try {
        const r = await privacy.readPlaintext(id.toLowerCase(), reader)
        return { recordId: r.recordId, type: r.type, subject: r.subject, author: r.author, contentType: r.contentType, plaintext: toBase64(r.body), access: r.access }
      } catch (err) {
        return sendKnown(reply, err)
      }
    })

    const submitOne = async (req: FastifyRequest, reply: FastifyReply, build: () => Promise<Omit<MedRecord, 'author'>> | Omit<MedRecord, 'author'>): Promise<unknown> => {
      try {
        const { ids } = await node.submitRecords([await build()])
        if ((req.query as { wait?: string }).wait !== 'final') return reply.code(202).send({ recordId: ids[0], final: false })
        const height = await node.waitFinal(ids, deps.maxWaitMs ?? 60_000)
        return reply.code(200).send({ recordId: ids[0], final: true, height })
      } catch (err) {
        return sendKnown(reply, err)
      }
    }

    app.post('/v1/privacy/grants', ADMIN, async (req, reply) => {
      const p = GrantBody.safeParse(req.body)
      if (!p.success) return sendError(reply, ApiErrorCode.INVALID_BODY, issues(p.error))
      const g = p.data
      return await submitOne(req, reply, () => privacy.grantRecord(fromHex(g.subject.toLowerCase()), g.grantee, { types: g.types, notAfter: g.notAfter, consentHash: g.consentHash === undefined ? new Uint8Array(0) : fromHex(g.consentHash.toLowerCase()) }))
    })

    app.post('/v1/privacy/revocations', ADMIN, async (req, reply) => {
      const p = RevokeBody.safeParse(req.body)
      if (!p.success) return sendError(reply, ApiErrorCode.INVALID_BODY, issues(p.error))
      return await submitOne(req, reply, () => privacy.revokeRecord(fromHex(p.data.subject.toLowerCase()), p.data.grantee))
    })

    app.post('/v1/privacy/shreds', ADMIN, async (req, reply) => {
      const p = ShredBody.safeParse(req.body)
      if (!p.success) return sendError(reply, ApiErrorCode.INVALID_BODY, issues(p.error))
      return await submitOne(req, reply, async () => await privacy.shredRecord(p.data.recordId.toLowerCase(), p.data.reason))
    })

    app.post('/v1/privacy/rotate', ADMIN, async (_req, reply) => {
      if (node.role !== 'validator') return sendError(reply, PrivacyErrorCode.OBSERVER, `only validators hold encryption keys (this node is ${node.role})`)
      return reply.code(202).send(await privacy.rotate())
    })

    // A pseudonym look-up links a patient identifier to every record of that patient: admin only,
    // rate-limited per token, and audited (a log line without the identifier, and a metric).
    app.post('/v1/privacy/subjects', ADMIN, async (req, reply) => {
      if (deps.subjectSecret === undefined) return sendError(reply, PrivacyErrorCode.NOT_CONFIGURED, 'this node has no subject secret (privacy.subject_secret_file)')
      const p = SubjectBody.safeParse(req.body)
      if (!p.success) return sendError(reply, ApiErrorCode.INVALID_BODY, issues(p.error))
      const role = ctx.tokens.roleOf(req.headers.authorization) ?? 'none'
      const waitMs = lookups.take(role)
      if (waitMs > 0) {
        ctx.metrics.pseudonymLookups.inc({ outcome: 'limited' })
        ctx.log.warn({ audit: 'pseudonym-lookup', outcome: 'limited', role, remote: req.ip }, 'pseudonym look-up refused: rate limit')
        return sendError(reply.header('retry-after', String(Math.ceil(waitMs / 1000))), ApiErrorCode.RATE_LIMITED, `at most ${lookups.perMinute} pseudonym look-ups a minute (api.pseudonym_lookups_per_minute); retry in ${Math.ceil(waitMs / 1000)} s`)
      }
      const subject = toHex(subjectPseudonym(deps.subjectSecret, p.data.patientId))
      ctx.metrics.pseudonymLookups.inc({ outcome: 'done' })
      ctx.log.info({ audit: 'pseudonym-lookup', outcome: 'done', role, remote: req.ip, subject }, 'pseudonym look-up')
      return { subject }
    })

    const lower = (s: string | undefined): string | undefined => s === undefined ? undefined : s.toLowerCase()
    const named = (hex: string): { name: string, publicKey: string } => ({ name: privacy.nameOf(hex), publicKey: hex })

    // Lists page oldest first, MAX_LIST_PAGE at a time: `after` = the previous page's `next`.
    app.get('/v1/privacy/grants', READ, async (req, reply) => {
      const q = req.query as { subject?: string, grantee?: string, custodian?: string, after?: string, limit?: string }
      const p = pageQuery(q, q.after, MAX_LIST_PAGE)
      if (p === undefined) return sendError(reply, ApiErrorCode.INVALID_RANGE, 'limit and after are whole numbers')
      const page = pageOf(privacy.grants({ subject: lower(q.subject), grantee: lower(q.grantee), custodian: lower(q.custodian) }), p.cursor ?? 0, p.limit)
      return { grants: page.items.map(g => ({ ...g, custodian: named(g.custodian), grantee: named(g.grantee) })), next: page.next }
    })

    app.get('/v1/privacy/access', READ, async (req, reply) => {
      const q = req.query as { record?: string, subject?: string, node?: string, after?: string, limit?: string }
      const p = pageQuery(q, q.after, MAX_LIST_PAGE)
      if (p === undefined) return sendError(reply, ApiErrorCode.INVALID_RANGE, 'limit and after are whole numbers')
      const page = pageOf(privacy.accessLog({ recordId: lower(q.record), subject: lower(q.subject), node: lower(q.node) }), p.cursor ?? 0, p.limit)
      return { reads: page.items.map(a => ({ ...a, node: named(a.node) })), next: page.next }
    })

    app.get('/v1/privacy/records/:id', READ, async (req, reply) => {
      const { id } = req.params as { id: string }
      if (!HEX32.test(id)) return sendError(reply, ApiErrorCode.INVALID_ID, 'a record id is 64 hex characters')
      try {
        return await privacy.recordStatus(id.toLowerCase())
      } catch (err) {
        return sendKnown(reply, err)
      }
    })

    app.get('/v1/privacy/keys', READ, async () => privacy.keyStatus())
  }
}
