import type { FastifyReply } from 'fastify'
import type { z } from 'zod'
import { httpStatusOf, errorSpec } from '../error-registry.ts'
import { isMedledgerError } from '../errors.ts'
import { ApiErrorCode } from './errors.ts'

/**
 * The API's error answer, `{ error: { code, message } }`, with the status the error registry
 * gives the code (src/error-registry.ts): no route picks a status of its own.
 */
export function sendError (reply: FastifyReply, code: string, message: string): FastifyReply {
  const status = errorSpec(code)?.status
  if (status === undefined) throw new Error(`sendError: ${code} is not in the error registry`)
  return reply.code(status).send({ error: { code, message } })
}

/** Answers a medledger error (thrown by the node, the mempool, privacy...) with its registered status; rethrows anything else for the server's error handler. */
export function sendKnown (reply: FastifyReply, err: unknown): FastifyReply {
  if (!isMedledgerError(err) || errorSpec(err.code) === undefined) throw err
  return reply.code(httpStatusOf(err)).send({ error: { code: err.code, message: err.message } })
}

/** zod's issues as one line: `records.0.type: ...; subject: ...`. */
export function issues (e: z.ZodError, prefix = ''): string {
  return e.issues.map(i => `${[prefix, ...i.path].filter(x => x !== '').join('.')}: ${i.message}`).join('; ')
}

/**
 * An error Fastify raised itself (body parsing, a malformed URL, a 4xx from a plugin): its own
 * status and code (FST_...), or BAD_REQUEST when it has none.
 */
export function sendFrameworkError (reply: FastifyReply, status: number, code: string | undefined, message: string): FastifyReply {
  return reply.code(status).send({ error: { code: code ?? ApiErrorCode.BAD_REQUEST, message } })
}
