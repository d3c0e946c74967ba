import type { FastifyInstance } from 'fastify'
import { toHex } from '../../encoding/bytes.ts'
import { blockHash, recordId } from '../../chain/hashing.ts'
import type { ApiNode } from '../api-node.ts'
import { pageFiles } from '../static-page.ts'
import { sendError } from '../error-reply.ts'
import { ApiErrorCode } from '../errors.ts'
import { NotFoundCode } from '../../chain/errors.ts'
import { SRC_ROOT } from '../../src-root.ts'

/**
 * The explorer: a page every node serves at GET / for people who are not engineers (chain head,
 * hospitals and their participation, blocks, records' metadata, record proofs checked in the
 * browser, evidence), live from /v1/events. Plain files beside this one, no build step:
 * index.html, app.js (the page) and verify.js (proof checking with WebCrypto, also run by the
 * tests under Node). Also GET /v1/blocks/:height/records: a block's records without payloads.
 */
const FILES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'verify.js': 'text/javascript; charset=utf-8'
}

const send = pageFiles(new URL('api/explorer/', SRC_ROOT), FILES)

export function registerExplorer (app: FastifyInstance, node: ApiNode): void {
  // The page's files are public; what it shows comes from the API's `read` routes.
  const PUBLIC = { config: { role: 'public' as const } }
  app.get('/', PUBLIC, send('index.html'))
  app.get('/explorer', PUBLIC, async (_req, reply) => reply.redirect('/'))
  for (const file of Object.keys(FILES)) app.get(`/explorer/${file}`, PUBLIC, send(file))

  app.get('/v1/blocks/:height/records', { config: { role: 'read' } }, async (req, reply) => {
    const height = Number((req.params as { height: string }).height)
    if (!Number.isSafeInteger(height) || height < 1) return sendError(reply, ApiErrorCode.INVALID_HEIGHT, 'height is a positive integer')
    const fb = await node.store.getFinalized(height)
    if (fb === undefined) return sendError(reply, NotFoundCode.BLOCK, `no final block at height ${height}`)
    return {
      height,
      hash: toHex(blockHash(fb.block.header)),
      batches: fb.block.body.batches.map((b, index) => ({
        index,
        author: toHex(b.author),
        records: b.records.map((r, ri) => ({ index: ri, id: toHex(recordId(r)), type: r.type, subject: toHex(r.subject), contentType: r.contentType, payloadBytes: r.payload.length, timestamp: r.timestamp }))
      }))
    }
  })
}
