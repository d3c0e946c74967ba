import { readFileSync } from 'node:fs'
import type { FastifyReply } from 'fastify'

/** The headers of the node's plain-file pages (explorer, patient page): same-origin only, no framing. */
export const PAGE_CSP = "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

/**
 * The files of a page, read once at start (they ship with the code and never change while the
 * node runs), and a handler factory that serves one of them with its type and the page headers.
 */
export function pageFiles (dir: URL, types: Record<string, string>): (file: string) => (_req: unknown, reply: FastifyReply) => Promise<FastifyReply> {
  const content = new Map(Object.keys(types).map(f => [f, readFileSync(new URL(f, dir))]))
  return (file) => async (_req, reply) => reply
    .header('content-type', types[file])
    .header('cache-control', 'no-cache')
    .header('x-content-type-options', 'nosniff')
    .header('content-security-policy', PAGE_CSP)
    .send(content.get(file))
}
