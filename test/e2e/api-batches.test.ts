/**
 * POST /v1/batches (docs/api.md): several batches in one request, each signed by the node on its
 * own, admitted together and answered on its own; bounded in count (413 TOO_MANY_BATCHES, before
 * anything is signed) and in bytes (413 BODY_TOO_LARGE); the submit token only; reserved types and
 * bad records refuse the whole request. One real validator in this process (LevelDB on disk,
 * libp2p on TCP) behind its real HTTP API.
 */
import test, { type ExecutionContext } from 'ava'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createDevnet } from '../../src/devnet/setup.ts'
import { loadConfig, resolvePath } from '../../src/config/load.ts'
import { Genesis } from '../../src/chain/genesis.ts'
import { readKeyFile } from '../../src/keys/key-file.ts'
import { MedledgerNode } from '../../src/node/node.ts'
import { startPrivacy } from '../../src/privacy/setup.ts'
import { openApi } from '../../src/api/open.ts'
import { TOKEN_FILES } from '../../src/api/tokens.ts'
import { silentLogger } from '../../src/logger.ts'
import { FAST_CONSENSUS, sampleRecord, waitFor } from '../helpers/devnet.ts'

interface Result { status: number, batchId?: string, ids?: string[], final?: boolean, height?: number, error?: { code: string, message: string } }
interface Answer { status: number, json: { accepted?: number, refused?: number, results?: Result[], error?: { code: string, message: string } } }
interface Api { node: MedledgerNode, post: (body: unknown, opts?: { token?: string, query?: string }) => Promise<Answer>, tokens: { submit: string, read: string } }

let next = 1_000
// With their own timestamps: a record sent again is then the same record (the same id).
const records = (n: number): Array<ReturnType<typeof sampleRecord>> => Array.from({ length: n }, () => ({ ...sampleRecord(next++), timestamp: Date.now() }))

/** A validator with its API, config keys overridden as given (e.g. api.max_batches_per_request). */
async function start (t: ExecutionContext, over: Record<string, string> = {}): Promise<Api> {
  const dir = await mkdtemp(join(tmpdir(), 'medledger-batches-'))
  const layout = await createDevnet({ dir, validators: ['solo'], observers: [], heartbeatMs: 200, consensus: FAST_CONSENSUS })
  const home = layout.nodes[0].home
  const config = await loadConfig(home, over, {})
  const node = new MedledgerNode({ config, home, genesis: await Genesis.load(resolvePath(home, config.genesis)), key: await readKeyFile(resolvePath(home, config.key)), logger: silentLogger })
  await node.start()
  const privacy = await startPrivacy(node, home, config, undefined)
  const app = await openApi(node, privacy, home, config, { host: '127.0.0.1', port: 0 })
  t.teardown(async () => {
    await app.close()
    await privacy.close().catch(() => {})
    await node.stop().catch(() => {})
    await rm(dir, { recursive: true, force: true })
  })
  const addr = app.server.address()
  if (addr === null || typeof addr === 'string') throw new Error('no address')
  const tokens = { submit: (await readFile(join(home, TOKEN_FILES.submit), 'utf8')).trim(), read: (await readFile(join(home, TOKEN_FILES.read), 'utf8')).trim() }
  const post = async (body: unknown, opts: { token?: string, query?: string } = {}): Promise<Answer> => {
    const res = await fetch(`http://127.0.0.1:${addr.port}/v1/batches${opts.query ?? ''}`, { method: 'POST', headers: { authorization: `Bearer ${opts.token ?? tokens.submit}`, 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) })
    return { status: res.status, json: await res.json() as Answer['json'] }
  }
  return { node, post, tokens }
}

test.serial('several batches in one request: each signed on its own, admitted, answered with its ids, and final', async t => {
  const { node, post } = await start(t)
  const sent = [records(1), records(3), records(1)]
  const res = await post({ batches: sent.map(r => ({ records: r })) })
  t.is(res.status, 202, JSON.stringify(res.json))
  t.deepEqual([res.json.accepted, res.json.refused], [3, 0])
  const results = res.json.results ?? []
  t.deepEqual(results.map(r => [r.status, r.ids?.length]), [[202, 1], [202, 3], [202, 1]])
  t.is(new Set(results.map(r => r.batchId)).size, 3, 'three batches, three ids: each signed on its own')
  // Final: every record is served with its proof, each in the batch it was answered with.
  await waitFor('every record final', async () => (await Promise.all(results.flatMap(r => r.ids ?? []).map(async id => await node.store.getRecord(Buffer.from(id, 'hex'))))).every(r => r !== undefined), 30_000)
  // wait=final answers once each batch is final, with its height.
  const waited = await post({ batches: [{ records: records(2) }, { records: records(1) }] }, { query: '?wait=final' })
  t.is(waited.status, 200, JSON.stringify(waited.json))
  t.true((waited.json.results ?? []).every(r => r.status === 200 && r.final === true && typeof r.height === 'number' && r.height > 0))
})

test.serial('each batch gets its own status: a replay or a full mempool share refuses that batch, not its neighbours', async t => {
  const { node, post } = await start(t, { 'mempool.max_batches_per_author': '3' })
  const first = records(1)
  const done = await post({ batches: [{ records: first }] }, { query: '?wait=final' })
  t.is(done.status, 200, JSON.stringify(done.json))
  // A record already final, beside two new batches: 207, the replay 409, the others admitted.
  const mixed = await post({ batches: [{ records: records(1) }, { records: first }, { records: records(1) }] })
  t.is(mixed.status, 207)
  t.deepEqual(mixed.json.results?.map(r => [r.status, r.error?.code]), [[202, undefined], [409, 'RECORD_DUPLICATE'], [202, undefined]])
  t.deepEqual([mixed.json.accepted, mixed.json.refused], [2, 1])
  // Two batches one request: the same record twice is admitted once.
  const twice = records(1)
  const dup = await post({ batches: [{ records: twice }, { records: twice }] })
  t.deepEqual(dup.json.results?.map(r => r.status), [202, 409])
  // The node's share of the mempool is 3 batches: beyond it, 503 for the batches that did not fit.
  await waitFor('an empty mempool', async () => node.mempool.size === 0, 30_000)
  const full = await post({ batches: [1, 2, 3, 4, 5].map(() => ({ records: records(1) })) })
  t.is(full.status, 207)
  const statuses = full.json.results?.map(r => r.status) ?? []
  t.true(statuses.filter(s => s === 202).length >= 1 && statuses.filter(s => s === 202).length <= 3, statuses.join(','))
  t.true(full.json.results?.filter(r => r.status === 503).every(r => r.error?.code === 'MEMPOOL_AUTHOR_QUOTA'))
  t.is(statuses.length, 5)
  t.is(statuses.filter(s => s === 202).length + statuses.filter(s => s === 503).length, 5, 'every batch admitted or told to retry')
})

test.serial('bounds: more batches than api.max_batches_per_request or a body over api.max_body_bytes is a 413 naming the limit, and nothing is signed', async t => {
  const { node, post } = await start(t, { 'api.max_batches_per_request': '4', 'api.max_body_bytes': '65536' })
  const before = node.mempool.size
  const many = await post({ batches: [1, 2, 3, 4, 5].map(() => ({ records: records(1) })) })
  t.is(many.status, 413)
  t.is(many.json.error?.code, 'TOO_MANY_BATCHES')
  t.regex(many.json.error?.message ?? '', /5 batches.*\b4\b.*api\.max_batches_per_request/)
  const big = await post({ batches: [{ records: records(400) }] })
  t.is(big.status, 413)
  t.is(big.json.error?.code, 'BODY_TOO_LARGE')
  t.regex(big.json.error?.message ?? '', /65536 bytes/)
  t.is(node.mempool.size, before, 'nothing was admitted')
  const four = await post({ batches: [1, 2, 3, 4].map(() => ({ records: records(1) })) })
  t.is(four.status, 202, 'the limit itself is allowed')
})

test.serial('bad input refuses the whole request with the batch and record it names; the submit token only', async t => {
  const { node, post, tokens } = await start(t)
  const before = node.mempool.size
  const bad = await post({ batches: [{ records: records(1) }, { records: [{ ...sampleRecord(next++), subject: 'Jane Doe' }] }] })
  t.is(bad.status, 400)
  t.regex(bad.json.error?.message ?? '', /batches\.1\.records\.0\.subject/)
  t.is((await post({ batches: [] })).status, 400)
  t.is((await post({ batches: [{ records: [] }] })).status, 400)
  t.is((await post({ batches: [{ records: records(1), extra: 1 }] })).status, 400, 'unknown fields are refused')
  t.is((await post('{"batches": [')).status, 400)
  // Types only the node writes (access and key records) are refused here as on /v1/records.
  const reserved = await post({ batches: [{ records: records(1) }, { records: [{ ...sampleRecord(next++), type: 'access.read' }] }] })
  t.is(reserved.status, 400)
  t.is(reserved.json.error?.code, 'PRIVACY_RESERVED_TYPE')
  t.regex(reserved.json.error?.message ?? '', /batches\.1\.records\.0\.type/)
  t.is(node.mempool.size, before, 'nothing was admitted')
  t.is((await post({ batches: [{ records: records(1) }] }, { token: tokens.read })).status, 401, 'the read token does not submit')
  t.is((await post({ batches: [{ records: records(1) }] }, { token: 'f'.repeat(48) })).status, 401)
})
