import { Readable } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import type { ApiNode } from './api-node.ts'
import { encodeSnapshot } from '../backup/stream.ts'
import { BackupErrorCode } from '../backup/errors.ts'

/**
 * A client that takes nothing for this long is dropped: the stream holds a LevelDB snapshot open,
 * which keeps every file it reads from being reclaimed by compaction.
 */
export const SNAPSHOT_STALL_MS = 60_000

/**
 * POST /v1/admin/snapshot (admin token): the node's whole database as of the call, as a snapshot
 * stream (src/backup/stream.ts), while the node keeps running. `medledger snapshot` reads it. One
 * at a time: a second caller gets 409 until the first stream ends.
 */
export function registerSnapshotRoutes (app: FastifyInstance, node: ApiNode, stallMs = SNAPSHOT_STALL_MS): void {
  let running = false
  app.post('/v1/admin/snapshot', { config: { role: 'admin' } }, async (req, reply) => {
    if (running) return reply.code(409).send({ error: { code: BackupErrorCode.RUNNING, message: 'a snapshot of this node is being taken; try again when it ends' } })
    running = true
    const head = node.store.head
    let lastPull = Date.now()
    const body = Readable.from((async function * () {
      for await (const chunk of encodeSnapshot(node.store.entries())) {
        lastPull = Date.now()
        yield chunk
      }
    })(), { objectMode: false })
    const stall = setInterval(() => {
      if (Date.now() - lastPull > stallMs) body.destroy(new Error(`snapshot client took nothing for ${stallMs} ms`))
    }, Math.min(stallMs, 5_000))
    const done = (): void => { clearInterval(stall); running = false }
    body.once('close', done)
    reply.raw.once('close', () => { if (!body.destroyed) body.destroy() })
    node.log.info({ height: head?.height ?? 0, client: req.ip }, 'snapshot requested: streaming the database')
    return reply
      .header('content-type', 'application/vnd.medledger.snapshot')
      .send(body)
  })
}
