import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import { fromCheckedBase64, fromHex, isCanonicalBase64 } from '../encoding/bytes.ts'
import { LIMITS } from '../chain/limits.ts'
import type { MedRecord } from '../chain/types.ts'
import { isMedledgerError, type MedledgerError } from '../errors.ts'
import { httpStatusOf } from '../error-registry.ts'
import type { ApiNode, SubmittedBatch } from './api-node.ts'
import type { Metrics } from './metrics.ts'
import { issues, sendError, sendKnown } from './error-reply.ts'
import { ApiErrorCode } from './errors.ts'

/** Most batches one POST /v1/batches carries by default (api.max_batches_per_request). */
export const DEFAULT_MAX_BATCHES_PER_REQUEST = 1000

export interface SubmitRouteOptions {
  /** Most batches in one POST /v1/batches; more are refused with 413 before anything is signed. */
  maxBatchesPerRequest: number
  /** Longest wait=final may hold a request. */
  maxWaitMs: number
}

const RecordInput = z.object({
  type: z.string().min(1).max(LIMITS.recordTypeChars).regex(/^[a-z][a-z0-9._-]*$/, 'lower-case letters, digits, dot, dash or underscore'),
  subject: z.string().regex(/^[0-9a-fA-F]{64}$/, 'a pseudonymous subject: 64 hex characters (a keyed hash, never a name)'),
  contentType: z.string().min(1).max(LIMITS.contentTypeChars),
  payload: z.string().max(Math.ceil(LIMITS.payloadBytes / 3) * 4, 'payload too large').refine(isCanonicalBase64, 'padded, canonical base64'),
  timestamp: z.number().int().nonnegative().optional()
}).strict()

const BatchInput = z.object({ records: z.array(RecordInput).min(1).max(LIMITS.recordsPerBatch) }).strict()
const BatchesBody = z.object({ batches: z.array(BatchInput).min(1) }).strict()

type Input = z.infer<typeof BatchInput>
type Records = Array<Omit<MedRecord, 'author'>>

/** The records of one input batch as the node takes them, or the message that refuses them. */
function recordsOf (input: Input, now: number, where: string): Records | string {
  const records = input.records.map(r => ({ type: r.type, subject: fromHex(r.subject.toLowerCase()), contentType: r.contentType, payload: fromCheckedBase64(r.payload), timestamp: r.timestamp ?? now }))
  const i = records.findIndex(r => r.payload.length > LIMITS.payloadBytes)
  return i < 0 ? records : `${where}records.${i}.payload: a payload exceeds ${LIMITS.payloadBytes} bytes`
}

/**
 * The submit role's routes (src/api/auth.ts): POST /v1/records signs one batch; POST /v1/batches
 * signs several in one request (docs/api.md), admitted together and each answered on its own, so
 * a client of single-record batches pays one HTTP request for many of them.
 */
export function registerSubmitRoutes (app: FastifyInstance, node: ApiNode, metrics: Metrics, opts: SubmitRouteOptions): void {
  const SUBMIT = { config: { role: 'submit' as const } }

  app.post('/v1/records', SUBMIT, async (req, reply) => {
    const parsed = BatchInput.safeParse(req.body)
    if (!parsed.success) return sendError(reply, ApiErrorCode.INVALID_BODY, issues(parsed.error))
    const records = recordsOf(parsed.data, Date.now(), '')
    if (typeof records === 'string') return sendError(reply, ApiErrorCode.INVALID_BODY, records)
    let submitted
    try {
      submitted = await node.submitRecords(records)
    } catch (err) {
      return sendKnown(reply, err)
    }
    metrics.submitted.inc(records.length)
    if ((req.query as { wait?: string }).wait !== 'final') return reply.code(202).send({ ...submitted, final: false })
    try {
      const height = await node.waitFinal(submitted.ids, opts.maxWaitMs)
      return reply.code(200).send({ ...submitted, final: true, height })
    } catch (err) {
      return sendKnown(reply, err)
    }
  })

  // Body: {"batches": [{"records": [...]}, ...]}. 202 when every batch was admitted, 207 when
  // some were not (each result carries its own status and error), 200 with wait=final once every
  // admitted batch is final (or 207 if one timed out).
  app.post('/v1/batches', SUBMIT, async (req, reply) => {
    const body = req.body as { batches?: unknown } | null
    // The count is checked before the records are parsed or anything is signed.
    if (typeof body === 'object' && body !== null && Array.isArray(body.batches) && body.batches.length > opts.maxBatchesPerRequest) {
      return sendError(reply, ApiErrorCode.TOO_MANY_BATCHES, `this request carries ${body.batches.length} batches, more than the ${opts.maxBatchesPerRequest} one request may carry (api.max_batches_per_request); split it`)
    }
    const parsed = BatchesBody.safeParse(body)
    if (!parsed.success) return sendError(reply, ApiErrorCode.INVALID_BODY, issues(parsed.error))
    const now = Date.now()
    const lists: Records[] = []
    for (const [i, b] of parsed.data.batches.entries()) {
      const records = recordsOf(b, now, `batches.${i}.`)
      if (typeof records === 'string') return sendError(reply, ApiErrorCode.INVALID_BODY, records)
      lists.push(records)
    }
    let outcomes: Array<SubmittedBatch | MedledgerError>
    try {
      outcomes = await node.submitBatches(lists)
    } catch (err) {
      return sendKnown(reply, err)
    }
    const results: Array<Record<string, unknown>> = outcomes.map(o => isMedledgerError(o)
      ? { status: httpStatusOf(o), error: { code: o.code, message: o.message } }
      : { status: 202, ...o, final: false })
    const accepted = outcomes.filter(o => !isMedledgerError(o)).length
    metrics.submitted.inc(outcomes.reduce((n, o, i) => isMedledgerError(o) ? n : n + lists[i].length, 0))
    if ((req.query as { wait?: string }).wait === 'final') {
      await Promise.all(outcomes.map(async (o, i) => {
        if (isMedledgerError(o)) return
        try {
          results[i] = { status: 200, ...o, final: true, height: await node.waitFinal(o.ids, opts.maxWaitMs) }
        } catch (err) {
          if (!isMedledgerError(err)) throw err
          results[i] = { status: httpStatusOf(err), batchId: o.batchId, ids: o.ids, error: { code: err.code, message: err.message } }
        }
      }))
    }
    const allOk = results.every(r => r.status === 200 || r.status === 202)
    return reply.code(allOk ? (results[0].status as number) : 207).send({ accepted, refused: outcomes.length - accepted, results })
  })
}
