import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import { fromHex, toHex } from '../encoding/bytes.ts'
import { blockHash } from '../chain/hashing.ts'
import { peerIdOfPublicKey } from '../crypto/ed25519.ts'
import { NotFoundCode } from '../chain/errors.ts'
import { ApiErrorCode } from './errors.ts'
import { sendError, sendFrameworkError } from './error-reply.ts'
import type { ApiNode } from './api-node.ts'
import type { FinalizedBlock } from '../chain/types.ts'
import type { Member } from '../chain/validator-set.ts'
import { isMemberChange } from '../governance/change.ts'
import { blockJson, evidenceJson } from './json.ts'
import { RecordProofs } from './proof.ts'
import { headerPage, MAX_HEADER_PAGE } from './headers.ts'
import { Metrics } from './metrics.ts'
import { connectedPeerViews, nodeVersions } from './status-views.ts'
import { registerExplorer } from './explorer/index.ts'
import { assertEveryRouteHasRole, checkExposure, installAccessControl, mayReadMetadata } from './auth.ts'
import type { ApiTokens } from './tokens.ts'
import { BlockList, MAX_BLOCK_PAGE } from './block-list.ts'
import { EventHub } from './event-stream.ts'
import { DEFAULT_MAX_BATCHES_PER_REQUEST, registerSubmitRoutes } from './submit-routes.ts'
import { MAX_LIST_PAGE, pageOf, pageQuery } from './paging.ts'

/**
 * Unread bytes an event-stream client may leave in this process (response and socket buffers, past
 * what the kernel took) before it is dropped: a few hundred events.
 */
export const SSE_MAX_BUFFERED_BYTES = 256 * 1024

export interface ApiOptions {
  host: string
  port: number
  /** The bearer tokens of the roles (src/api/auth.ts). */
  tokens: ApiTokens
  /** Gate the `read` routes behind a token; required when host is not loopback. */
  requireReadToken: boolean
  /** Host names served besides IP addresses, localhost and host (api.allowed_hosts). */
  allowedHosts?: readonly string[]
  /** Origins allowed to call the API from their pages (api.cors_origins). */
  corsOrigins?: readonly string[]
  /** Most event-stream clients at once (api.max_sse_clients). */
  maxSseClients?: number
  maxBodyBytes: number
  /** Longest wait=final may hold a request. */
  maxWaitMs?: number
  /** Most batches in one POST /v1/batches (api.max_batches_per_request). */
  maxBatchesPerRequest?: number
  /** Registers more routes and hooks before the built-in routes (the privacy API); each route declares its role. */
  extend?: (app: FastifyInstance, ctx: ApiContext) => Promise<void>
}

/** What createApi lends the routes of `extend`. */
export interface ApiContext {
  metrics: Metrics
  log: ApiNode['log']
  tokens: ApiTokens
  /** The record proofs (self-contained against the genesis file) the built-in routes serve. */
  proofs: RecordProofs
}

/** The HTTP API (JSON under /v1), health endpoints, Prometheus metrics and the event stream. */
export async function createApi (node: ApiNode, opts: ApiOptions): Promise<FastifyInstance> {
  checkExposure(opts.host, opts.requireReadToken)
  const app = Fastify({
    bodyLimit: opts.maxBodyBytes,
    logger: false,
    // Errors raised before routing (a malformed URL, say) get the same JSON error shape.
    frameworkErrors: (err, _req, reply) => { void sendFrameworkError(reply, 400, err.code, err.message) }
  })
  const metrics = new Metrics(node)
  // First, before any route: every route is checked against the role it declares.
  installAccessControl(app, { tokens: opts.tokens, requireReadToken: opts.requireReadToken, listenHost: opts.host, allowedHosts: opts.allowedHosts ?? [], corsOrigins: opts.corsOrigins ?? [] })

  app.setErrorHandler(async (err: Error & { statusCode?: number, code?: string }, req, reply) => {
    if (err.statusCode === 413) {
      // Read and drop the rest of the body first (bounded in time): a client still uploading
      // would otherwise see its connection reset instead of this answer.
      await drain(req.raw, 10_000)
      return sendError(reply, ApiErrorCode.BODY_TOO_LARGE, `request body exceeds ${opts.maxBodyBytes} bytes`)
    }
    if (err.statusCode !== undefined && err.statusCode < 500) return sendFrameworkError(reply, err.statusCode, err.code, err.message)
    node.log.error({ err }, 'API request failed')
    return sendError(reply, ApiErrorCode.INTERNAL, 'internal error; see the node log')
  })
  app.setNotFoundHandler((req, reply) => sendError(reply, ApiErrorCode.NOT_FOUND, `no route ${req.method} ${req.url}`))
  // A final record is only ever served with the proof that makes it checkable.
  const proofs = new RecordProofs({ chainId: node.genesis.chainId, genesisHash: node.genesis.hash, schedule: node.schedule, store: node.store })
  await opts.extend?.(app, { metrics, log: node.log, tokens: opts.tokens, proofs })

  const PUBLIC = { config: { role: 'public' as const } }
  const READ = { config: { role: 'read' as const } }

  app.get('/livez', PUBLIC, async () => ({ ok: true }))
  app.get('/readyz', PUBLIC, async (_req, reply) => {
    const peers = node.network.connectedPeers().length
    // A node that cannot commit (a storage fault stopped it) is never ready, whatever its peers.
    if (node.fault !== undefined) return reply.code(503).send({ ready: false, peers, fault: node.fault.message })
    const ready = node.genesis.validators.size === 1 || peers > 0
    return reply.code(ready ? 200 : 503).send({ ready, peers })
  })

  // Status is public (health checks, the explorer), but who this node talks to and where it listens
  // is topology: where reads need a token, only a caller holding one sees the peers' addresses.
  app.get('/v1/status', PUBLIC, async (req) => {
    const s = status(node)
    if (!opts.requireReadToken || mayReadMetadata(opts.tokens, req.headers.authorization)) return s
    return { ...s, connectedPeers: undefined, listen: undefined }
  })

  registerSubmitRoutes(app, node, metrics, { maxBatchesPerRequest: opts.maxBatchesPerRequest ?? DEFAULT_MAX_BATCHES_PER_REQUEST, maxWaitMs: opts.maxWaitMs ?? 60_000 })

  const getRecord = async (req: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    const { id } = req.params as { id: string }
    if (!/^[0-9a-fA-F]{64}$/.test(id)) return sendError(reply, ApiErrorCode.INVALID_ID, 'a record id is 64 hex characters')
    const stored = await node.store.getRecord(fromHex(id.toLowerCase()))
    if (stored === undefined) return sendError(reply, NotFoundCode.RECORD, `no final record ${id} on this node`)
    return await proofs.proof(stored)
  }
  app.get('/v1/records/:id', READ, getRecord)
  app.get('/v1/records/:id/proof', READ, getRecord)

  app.get('/v1/blocks/:height', READ, async (req, reply) => {
    const height = Number((req.params as { height: string }).height)
    if (!Number.isSafeInteger(height) || height < 1) return sendError(reply, ApiErrorCode.INVALID_HEIGHT, 'height is a positive integer')
    const fb = await node.store.getFinalized(height)
    if (fb === undefined) return sendError(reply, NotFoundCode.BLOCK, `no final block at height ${height}`)
    return blockJson(fb.block, fb.certificate)
  })
  // Summaries, newest first, MAX_BLOCK_PAGE at most (a larger limit is clamped): `before=H` pages
  // back from H - 1, `from=F` pages forward from F. A block's batches and evidence: GET /v1/blocks/:height.
  const blockList = new BlockList(node.store)
  node.on('finalized', fb => { blockList.add(fb) })
  app.get('/v1/blocks', READ, async (req, reply) => {
    const q = req.query as { from?: string, before?: string, limit?: string }
    const head = node.store.head?.height ?? 0
    const p = pageQuery(q, q.before ?? q.from, MAX_BLOCK_PAGE)
    if (p === undefined || (q.from !== undefined && q.before !== undefined)) return sendError(reply, ApiErrorCode.INVALID_RANGE, 'limit, before and from are positive integers (before or from, not both)')
    const to = q.from !== undefined ? Math.min(head, (p.cursor ?? 1) + p.limit - 1) : Math.min(head, (p.cursor ?? head + 1) - 1)
    const page = await blockList.page(to, p.limit)
    return { head, limit: p.limit, blocks: page.blocks, next: page.next }
  })

  // The canonical bytes of a finalized block as stored and synced: the CBOR array [block, certificate].
  app.get('/v1/blocks/:height/raw', READ, async (req, reply) => {
    const height = Number((req.params as { height: string }).height)
    if (!Number.isSafeInteger(height) || height < 1) return sendError(reply, ApiErrorCode.INVALID_HEIGHT, 'height is a positive integer')
    for await (const bytes of node.store.iterateFinalizedBytes(height, height)) {
      return reply.header('content-type', 'application/octet-stream').send(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength))
    }
    return sendError(reply, NotFoundCode.BLOCK, `no final block at height ${height}`)
  })
  // Headers and certificates from `from` upwards, MAX_HEADER_PAGE at most: what a light client follows.
  app.get('/v1/headers', READ, async (req, reply) => {
    const q = req.query as { from?: string, limit?: string }
    const p = pageQuery(q, q.from ?? '1', MAX_HEADER_PAGE)
    if (p === undefined || p.cursor === undefined || p.cursor < 1) return sendError(reply, ApiErrorCode.INVALID_RANGE, 'from and limit are positive integers')
    return await headerPage(node.store, proofs, new Set(node.schedule.changes().map(c => c.includedAt)), p.cursor, p.limit)
  })

  const changeJson = (c: ReturnType<typeof node.schedule.changes>[number]): Record<string, unknown> => ({ includedAt: c.includedAt, effective: c.effective, action: c.change.action, name: c.change.name, publicKey: toHex(c.change.publicKey) })
  const peerJson = (m: Member): Record<string, unknown> => ({ name: m.name, publicKey: toHex(m.publicKey), peerId: peerIdOfPublicKey(m.publicKey) })
  // `changes` lists validator-set changes only (clients undo them to find the set at a height);
  // member-set changes are in GET /v1/members. `members`: the members in force, for names.
  app.get('/v1/validators', READ, async () => {
    const height = (node.store.head?.height ?? 0) + 1
    const set = node.schedule.at(height)
    return {
      height,
      quorum: set.quorum,
      changes: node.schedule.changes().filter(c => !isMemberChange(c.change)).map(changeJson),
      validators: set.members.map((m, index) => ({ index, ...peerJson(m) })),
      observers: node.genesis.observers.map(peerJson),
      members: node.schedule.membersAt(height).members.map(peerJson)
    }
  })

  // The members (hospitals that write without voting) in force while the node decides `height`,
  // and every member-set change: added or removed, included at, in force from.
  app.get('/v1/members', READ, async () => {
    const height = (node.store.head?.height ?? 0) + 1
    return {
      height,
      members: node.schedule.membersAt(height).members.map(peerJson),
      changes: node.schedule.changes().filter(c => isMemberChange(c.change)).map(changeJson)
    }
  })

  // Committed evidence oldest first, MAX_LIST_PAGE at a time (`after` = the previous page's next);
  // pending evidence (bounded by the node) on the first page only.
  app.get('/v1/evidence', READ, async (req, reply) => {
    const q = req.query as { after?: string, limit?: string }
    const p = pageQuery(q, q.after, MAX_LIST_PAGE)
    if (p === undefined) return sendError(reply, ApiErrorCode.INVALID_RANGE, 'limit and after are whole numbers')
    const page = pageOf(await node.store.listCommittedEvidence(), p.cursor ?? 0, p.limit)
    return {
      committed: page.items.map(e => ({ includedAt: e.height, ...evidenceJson(e.evidence) })),
      pending: p.cursor === undefined ? (await node.store.listPendingEvidence()).map(evidenceJson) : [],
      next: page.next
    }
  })

  const events = new EventHub(opts.maxSseClients ?? 32, SSE_MAX_BUFFERED_BYTES)
  metrics.watchEvents(events)
  node.on('finalized', (fb: FinalizedBlock) => {
    if (events.size === 0) return
    events.send('block', { height: fb.block.header.height, hash: toHex(blockHash(fb.block.header)), time: fb.block.header.time, round: fb.block.header.round, proposer: toHex(fb.block.header.proposer), records: fb.block.body.batches.reduce((n, b) => n + b.records.length, 0), signers: fb.certificate.signatures.map(s => toHex(s.validator)) })
  })
  app.get('/v1/events', READ, async (req, reply) => {
    if (req.method === 'HEAD') return reply.header('content-type', 'text/event-stream').send()
    if (!events.add(reply.raw)) return sendError(reply, ApiErrorCode.TOO_MANY_EVENT_CLIENTS, `this node serves at most ${events.maxClients} event streams at once (api.max_sse_clients)`)
    reply.raw.on('close', () => { events.remove(reply.raw) })
    reply.hijack()
    reply.raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', ...(reply.getHeader('access-control-allow-origin') === undefined ? {} : { 'access-control-allow-origin': String(reply.getHeader('access-control-allow-origin')), vary: 'origin' }) })
    events.sendTo(reply.raw, `event: status\ndata: ${JSON.stringify(status(node))}\n\n`)
  })

  app.get('/metrics', READ, async (_req, reply) => reply.header('content-type', metrics.contentType).send(await metrics.render()))
  registerExplorer(app, node)

  await app.ready()
  assertEveryRouteHasRole(app)
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

export function status (node: ApiNode): Record<string, unknown> {
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
    members: node.schedule.membersAt((head?.height ?? 0) + 1).size,
    uptimeMs: Date.now() - node.startedAt
  }
}
