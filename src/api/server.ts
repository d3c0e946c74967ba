import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import { timingSafeEqual } from 'node:crypto'
import { z } from 'zod'
import { fromCheckedBase64, fromHex, isCanonicalBase64, toHex } from '../encoding/bytes.ts'
import { blockHash } from '../chain/hashing.ts'
import { peerIdOfPublicKey } from '../crypto/ed25519.ts'
import { LIMITS } from '../chain/limits.ts'
import { isMedledgerError } from '../errors.ts'
import type { MedledgerNode } from '../node/node.ts'
import type { FinalizedBlock } from '../chain/types.ts'
import { blockJson, evidenceJson } from './json.ts'
import { recordProof } from './proof.ts'
import { Metrics } from './metrics.ts'
import { connectedPeerViews, nodeVersions } from './status-views.ts'
import { registerExplorer } from './explorer/index.ts'

export interface ApiOptions {
  host: string
  port: number
  /** Bearer token for POST /v1/records. */
  token: string
  maxBodyBytes: number
  /** Longest wait=final may hold a request. */
  maxWaitMs?: number
  /** Registers more routes and hooks before the built-in routes (the privacy API). */
  extend?: (app: FastifyInstance) => Promise<void>
}

const RecordInput = z.object({
  type: z.string().min(1).max(LIMITS.recordTypeChars).regex(/^[a-z][a-z0-9._-]*$/, 'lower-case letters, digits, dot, dash or underscore'),
  subject: z.string().regex(/^[0-9a-fA-F]{64}$/, 'a pseudonymous subject: 64 hex characters (a keyed hash, never a name)'),
  contentType: z.string().min(1).max(LIMITS.contentTypeChars),
  payload: z.string().max(Math.ceil(LIMITS.payloadBytes / 3) * 4, 'payload too large').refine(isCanonicalBase64, 'padded, canonical base64'),
  timestamp: z.number().int().nonnegative().optional()
}).strict()

const SubmitBody = z.object({ records: z.array(RecordInput).min(1).max(LIMITS.recordsPerBatch) }).strict()

function sendError (reply: FastifyReply, status: number, code: string, message: string): FastifyReply {
  return reply.code(status).send({ error: { code, message } })
}

/** The HTTP API (JSON under /v1), health endpoints, Prometheus metrics and the event stream. */
export async function createApi (node: MedledgerNode, opts: ApiOptions): Promise<FastifyInstance> {
  const app = Fastify({
    bodyLimit: opts.maxBodyBytes,
    logger: false,
    // Errors raised before routing (a malformed URL, say) get the same JSON error shape.
    frameworkErrors: (err, _req, reply) => { void sendError(reply, 400, err.code ?? 'BAD_REQUEST', err.message) }
  })
  const metrics = new Metrics(node)
  const token = Buffer.from(opts.token)

  app.setErrorHandler(async (err: Error & { statusCode?: number, code?: string }, req, reply) => {
    if (err.statusCode === 413) {
      // Read and drop the rest of the body first (bounded in time): a client still uploading
      // would otherwise see its connection reset instead of this answer.
      await drain(req.raw, 10_000)
      return sendError(reply, 413, 'BODY_TOO_LARGE', `request body exceeds ${opts.maxBodyBytes} bytes`)
    }
    if (err.statusCode !== undefined && err.statusCode < 500) return sendError(reply, err.statusCode, err.code ?? 'BAD_REQUEST', err.message)
    node.log.error({ err }, 'API request failed')
    return sendError(reply, 500, 'INTERNAL', 'internal error; see the node log')
  })
  app.setNotFoundHandler((req, reply) => sendError(reply, 404, 'NOT_FOUND', `no route ${req.method} ${req.url}`))
  await opts.extend?.(app)

  const authorised = (req: FastifyRequest): boolean => {
    const h = req.headers.authorization ?? ''
    const given = Buffer.from(h.startsWith('Bearer ') ? h.slice(7) : '')
    return given.length === token.length && timingSafeEqual(given, token)
  }

  app.get('/livez', async () => ({ ok: true }))
  app.get('/readyz', async (_req, reply) => {
    const peers = node.network.connectedPeers().length
    const ready = node.genesis.validators.size === 1 || peers > 0
    return reply.code(ready ? 200 : 503).send({ ready, peers })
  })

  app.get('/v1/status', async () => status(node))

  app.post('/v1/records', async (req, reply) => {
    if (!authorised(req)) return sendError(reply, 401, 'UNAUTHORISED', 'a valid bearer token is required to submit records')
    const parsed = SubmitBody.safeParse(req.body)
    if (!parsed.success) return sendError(reply, 400, 'INVALID_BODY', parsed.error.issues.map(i => `${i.path.join('.')}: ${i.message}`).join('; '))
    const now = Date.now()
    const records = parsed.data.records.map(r => ({ type: r.type, subject: fromHex(r.subject.toLowerCase()), contentType: r.contentType, payload: fromCheckedBase64(r.payload), timestamp: r.timestamp ?? now }))
    if (records.some(r => r.payload.length > LIMITS.payloadBytes)) return sendError(reply, 400, 'INVALID_BODY', `a payload exceeds ${LIMITS.payloadBytes} bytes`)
    let submitted
    try {
      submitted = node.submit(records)
    } catch (err) {
      if (isMedledgerError(err)) return sendError(reply, err.code === 'MEMPOOL_FULL' ? 503 : err.code === 'NODE_READ_ONLY' ? 403 : err.code === 'BATCH_TOO_LARGE' ? 413 : err.code.startsWith('CHAIN_') ? 400 : 409, err.code, err.message)
      throw err
    }
    metrics.submitted.inc(records.length)
    const wait = (req.query as { wait?: string }).wait
    if (wait !== 'final') return reply.code(202).send({ ...submitted, final: false })
    try {
      const height = await node.waitFinal(submitted.ids, opts.maxWaitMs ?? 60_000)
      return reply.code(200).send({ ...submitted, final: true, height })
    } catch (err) {
      if (isMedledgerError(err)) return sendError(reply, 504, err.code, err.message)
      throw err
    }
  })

  // A final record is only ever served with the proof that makes it checkable.
  const getRecord = async (req: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    const { id } = req.params as { id: string }
    if (!/^[0-9a-fA-F]{64}$/.test(id)) return sendError(reply, 400, 'INVALID_ID', 'a record id is 64 hex characters')
    const stored = await node.store.getRecord(fromHex(id.toLowerCase()))
    if (stored === undefined) return sendError(reply, 404, 'RECORD_NOT_FOUND', `no final record ${id} on this node`)
    return recordProof(node.genesis.chainId, node.genesis.hash, stored)
  }
  app.get('/v1/records/:id', getRecord)
  app.get('/v1/records/:id/proof', getRecord)

  app.get('/v1/blocks/:height', async (req, reply) => {
    const height = Number((req.params as { height: string }).height)
    if (!Number.isSafeInteger(height) || height < 1) return sendError(reply, 400, 'INVALID_HEIGHT', 'height is a positive integer')
    const fb = await node.store.getFinalized(height)
    if (fb === undefined) return sendError(reply, 404, 'BLOCK_NOT_FOUND', `no final block at height ${height}`)
    return blockJson(fb.block, fb.certificate)
  })
  app.get('/v1/blocks', async (req, reply) => {
    const q = req.query as { from?: string, limit?: string }
    const head = node.store.head?.height ?? 0
    const limit = Math.min(Number(q.limit ?? 20), 100)
    const to = q.from === undefined ? head : Math.min(head, Number(q.from) + limit - 1)
    if (!Number.isSafeInteger(limit) || limit < 1 || !Number.isSafeInteger(to)) return sendError(reply, 400, 'INVALID_RANGE', 'from and limit are positive integers')
    const from = Math.max(1, to - limit + 1)
    const out = []
    for await (const fb of node.store.iterateFinalized(from, to)) out.push(blockJson(fb.block, fb.certificate))
    return { head, blocks: out.reverse() }
  })

  app.get('/v1/validators', async () => {
    const height = (node.store.head?.height ?? 0) + 1
    const set = node.schedule.at(height)
    return {
    height,
    quorum: set.quorum,
    changes: node.schedule.changes().map(c => ({ includedAt: c.includedAt, effective: c.effective, action: c.change.action, name: c.change.name, publicKey: toHex(c.change.publicKey) })),
    validators: set.members.map((m, index) => ({ index, name: m.name, publicKey: toHex(m.publicKey), peerId: peerIdOfPublicKey(m.publicKey) })),
    observers: node.genesis.observers.map(m => ({ name: m.name, publicKey: toHex(m.publicKey), peerId: peerIdOfPublicKey(m.publicKey) }))
    }
  })

  app.get('/v1/evidence', async () => ({
    committed: (await node.store.listCommittedEvidence()).map(e => ({ includedAt: e.height, ...evidenceJson(e.evidence) })),
    pending: (await node.store.listPendingEvidence()).map(evidenceJson)
  }))

  app.get('/v1/events', async (req, reply) => {
    reply.raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' })
    reply.raw.write(`event: status\ndata: ${JSON.stringify(status(node))}\n\n`)
    const onBlock = (fb: FinalizedBlock): void => {
      const data = { height: fb.block.header.height, hash: toHex(blockHash(fb.block.header)), time: fb.block.header.time, round: fb.block.header.round, proposer: toHex(fb.block.header.proposer), records: fb.block.body.batches.reduce((n, b) => n + b.records.length, 0), signers: fb.certificate.signatures.map(s => toHex(s.validator)) }
      reply.raw.write(`event: block\ndata: ${JSON.stringify(data)}\n\n`)
    }
    node.on('finalized', onBlock)
    req.raw.on('close', () => { node.off('finalized', onBlock) })
    await new Promise<void>(resolve => req.raw.on('close', resolve))
    return reply
  })

  app.get('/metrics', async (_req, reply) => reply.header('content-type', metrics.contentType).send(await metrics.render()))
  registerExplorer(app, node)

  await app.listen({ host: opts.host, port: opts.port })
  return app
}

async function drain (stream: NodeJS.ReadableStream, timeoutMs: number): Promise<void> {
  if ((stream as { readableEnded?: boolean }).readableEnded === true) return
  await new Promise<void>(resolve => {
    const timer = setTimeout(resolve, timeoutMs)
    const done = (): void => { clearTimeout(timer); resolve() }
    stream.on('end', done)
    stream.on('error', done)
    stream.on('close', done)
    stream.resume()
  })
}

export function status (node: MedledgerNode): Record<string, unknown> {
  const head = node.store.head
  return {
    chainId: node.genesis.chainId,
    genesisHash: toHex(node.genesis.hash),
    role: node.role,
    peerId: node.key.peerId,
    height: head?.height ?? 0,
    headHash: head === null ? null : toHex(head.hash),
    round: node.consensus.currentRound,
    peers: node.network.connectedPeers().length,
    // Who this node is connected to, and where it listens (multiaddrs ending in its peer id).
    connectedPeers: connectedPeerViews(node),
    listen: node.network.addresses,
    // What this node speaks and stores, for rolling upgrades: wire protocol ids carry their version.
    versions: nodeVersions(node.genesis.chainId),
    mempool: { batches: node.mempool.size, records: node.mempool.recordCount },
    validators: node.genesis.validators.size,
    uptimeMs: Date.now() - node.startedAt
  }
}
