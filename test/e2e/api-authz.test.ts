import test from 'ava'
import { request as httpRequest, type IncomingMessage } from 'node:http'
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { promisify } from 'node:util'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import { pino } from 'pino'
import { createDevnet } from '../../src/devnet/setup.ts'
import { loadConfig, resolvePath } from '../../src/config/load.ts'
import type { Config } from '../../src/config/schema.ts'
import { Genesis } from '../../src/chain/genesis.ts'
import { readKeyFile } from '../../src/keys/key-file.ts'
import { MedledgerNode } from '../../src/node/node.ts'
import { startPrivacy } from '../../src/privacy/setup.ts'
import type { PrivacyService } from '../../src/privacy/service.ts'
import { openApi } from '../../src/api/open.ts'
import { createApi } from '../../src/api/server.ts'
import { declaredRoutes, type Role } from '../../src/api/auth.ts'
import { ApiTokens, TOKEN_FILES, TOKEN_ROLES, type TokenRole } from '../../src/api/tokens.ts'
import { BIN } from '../../src/devnet/daemon.ts'
import { FAST_CONSENSUS, waitFor } from '../helpers/devnet.ts'

// One real validator in this process (LevelDB on disk, libp2p on TCP), with several HTTP APIs on
// it, each as a config describes: real requests over real sockets, spelled as an attacker would.

interface Res { status: number, headers: IncomingMessage['headers'], body: string, json: { error?: { code: string, message: string } } & Record<string, unknown> }

const ID = 'ab'.repeat(32)

/** A raw HTTP request: the path goes on the wire exactly as given, and any Host header can be sent. */
async function raw (port: number, method: string, path: string, headers: Record<string, string> = {}, body?: unknown): Promise<Res> {
  const data = body === undefined ? undefined : JSON.stringify(body)
  return await new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers: { ...(data === undefined ? {} : { 'content-type': 'application/json' }), ...headers } }, res => {
      // An event stream that was let through never ends: its status and headers say enough.
      if (String(res.headers['content-type']).startsWith('text/event-stream') && method !== 'HEAD') {
        res.destroy()
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: '', json: {} })
        return
      }
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        let json = {}
        try { json = JSON.parse(text) } catch {}
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text, json })
      })
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(data)
  })
}

interface Node { node: MedledgerNode, privacy: PrivacyService, home: string, tokens: Record<TokenRole, string>, config: (over?: Record<string, string>) => Promise<Config>, logs: string[] }

async function startNode (teardown: (fn: () => Promise<void>) => void): Promise<Node> {
  const dir = await mkdtemp(join(tmpdir(), 'medledger-authz-'))
  const layout = await createDevnet({ dir, validators: ['solo'], observers: [], heartbeatMs: 200, consensus: FAST_CONSENSUS })
  const home = layout.nodes[0].home
  const config = async (over: Record<string, string> = {}): Promise<Config> => await loadConfig(home, { 'api.require_read_token': 'true', ...over }, {})
  const base = await config()
  const logs: string[] = []
  const logger = pino({ level: 'info', base: undefined }, new Writable({ write (chunk: Buffer, _e, cb) { logs.push(chunk.toString('utf8')); cb() } }))
  const node = new MedledgerNode({ config: base, home, genesis: await Genesis.load(resolvePath(home, base.genesis)), key: await readKeyFile(resolvePath(home, base.key)), logger })
  await node.start()
  const privacy = await startPrivacy(node, home, base, undefined)
  teardown(async () => {
    await privacy.close().catch(() => {})
    await node.stop().catch(() => {})
    await rm(dir, { recursive: true, force: true })
  })
  const tokens = {} as Record<TokenRole, string>
  for (const role of TOKEN_ROLES) tokens[role] = (await readFile(join(home, TOKEN_FILES[role]), 'utf8')).trim()
  return { node, privacy, home, tokens, config, logs }
}

async function api (t: import('ava').ExecutionContext, n: Node, over: Record<string, string> = {}): Promise<{ app: FastifyInstance, port: number }> {
  const app = await openApi(n.node, n.privacy, n.home, await n.config(over), { host: '127.0.0.1', port: 0 })
  t.teardown(async () => { await app.close() })
  const addr = app.server.address()
  if (addr === null || typeof addr === 'string') throw new Error('no address')
  return { app, port: addr.port }
}

/** Which tokens each role takes when read tokens are required. */
const ALLOWED: Record<Role, ReadonlyArray<string>> = {
  public: ['none', 'wrong', 'read', 'submit', 'plaintext', 'admin'],
  // The patient API takes no API token: only a patient session (x-medledger-patient) opens it.
  patient: [],
  read: ['read', 'plaintext', 'admin'],
  submit: ['submit'],
  plaintext: ['plaintext'],
  admin: ['admin']
}

// One node for the whole file, stopped after the last test.
let shared: Node | undefined
const cleanups: Array<() => Promise<void>> = []
test.before(async () => { shared = await startNode(fn => cleanups.push(fn)) })
test.after.always(async () => { for (const fn of cleanups) await fn() })
const sharedNode = async (_t: unknown): Promise<Node> => shared as Node

test.serial('every route declares a role and is served by role only: every registered route x method x token, HEAD included', async t => {
  const n = await sharedNode(t)
  const { app, port } = await api(t, n)
  const routes = declaredRoutes(app)
  t.true(routes.length > 20, `routes found: ${routes.length}`)
  t.deepEqual(routes.filter(r => r.role === undefined).map(r => `${r.method} ${r.url}`), [], 'every route declares its role')
  t.true(routes.some(r => r.method === 'HEAD' && r.url === '/v1/privacy/access' && r.role === 'read'), 'HEAD routes fastify adds for GET inherit the role')
  // The patient API: its own role (a session the patient's key signs for, no API token); its way in is public.
  t.deepEqual(routes.filter(r => r.url.startsWith('/v1/patient/') && r.method !== 'HEAD').map(r => `${r.method} ${r.url} ${r.role ?? ''}`).sort(), [
    'GET /v1/patient/records patient', 'POST /v1/patient/challenge public', 'POST /v1/patient/consents patient', 'POST /v1/patient/enrol public', 'POST /v1/patient/session public'
  ])
  t.true(routes.some(r => r.method === 'POST' && r.url === '/v1/privacy/enrolments' && r.role === 'admin'))
  t.true(routes.some(r => r.method === 'POST' && r.url === '/v1/privacy/emergency' && r.role === 'plaintext'))
  const headers = (who: string): Record<string, string> => who === 'none' ? {} : { authorization: `Bearer ${who === 'wrong' ? 'f'.repeat(48) : n.tokens[who as TokenRole]}` }
  const failures: string[] = []
  let checked = 0
  for (const r of routes) {
    const path = r.url.replace(':id', ID).replace(':height', '1').replace('*', 'x')
    for (const who of ['none', 'wrong', ...TOKEN_ROLES]) {
      // Bodies are empty objects: an allowed call fails validation (400) and changes nothing.
      const res = await raw(port, r.method, path, headers(who), r.method === 'POST' ? {} : undefined)
      // HEAD answers carry no body: the status says it (401 is the access check's only answer).
      const denied = res.status === 401 || res.json.error?.code === 'ROUTE_WITHOUT_ROLE' || res.json.error?.code === 'ROLE_NOT_CONFIGURED'
      const allowed = r.role !== undefined && ALLOWED[r.role].includes(who)
      if (denied === allowed) failures.push(`${r.method} ${path} as ${who}: ${res.status} ${res.body.slice(0, 120)}`)
      checked++
    }
  }
  // Methods a path does not register are not served under any token.
  for (const url of new Set(routes.map(r => r.url))) {
    const path = url.replace(':id', ID).replace(':height', '1')
    for (const method of ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
      if (routes.some(r => r.url === url && r.method === method)) continue
      const res = await raw(port, method, path, headers('admin'))
      if (res.status !== 404) failures.push(`${method} ${path} (not registered): ${res.status}`)
      checked++
    }
  }
  t.deepEqual(failures, [])
  t.log(`${checked} route x method x token calls checked over ${routes.length} routes`)
})

test.serial('the 15 spellings that bypassed the read token are refused without one, and served with it', async t => {
  const n = await sharedNode(t)
  const { port } = await api(t, n)
  const spellings: Array<[string, string]> = [
    ['HEAD', '/v1/privacy/access'],
    ['GET', '/%761/privacy/access'],
    ['GET', '/v%31/privacy/grants'],
    ['GET', '/%761/blocks'],
    ['GET', '/v%31/evidence'],
    ['GET', '/%761/privacy/keys'],
    ['GET', '/%76%31/validators'],
    ['HEAD', '/v1/blocks'],
    ['GET', '/v1/%62locks'],
    ['GET', `/%761/records/${ID}`],
    ['HEAD', '/v1/evidence'],
    ['GET', `/v%31/privacy/records/${ID}`],
    ['GET', '/%761/blocks/1/records'],
    ['GET', '/%761/events'],
    ['GET', '/v1/privacy/%61ccess']
  ]
  for (const [method, path] of spellings) {
    t.is((await raw(port, method, path)).status, 401, `${method} ${path} without a token`)
    t.not((await raw(port, method, path, { authorization: `Bearer ${n.tokens.submit}` })).status, 200, `${method} ${path} with the submit token`)
    const ok = await raw(port, method, path, { authorization: `Bearer ${n.tokens.read}` })
    t.not(ok.status, 401, `${method} ${path} with the read token`)
  }
  // Status, health and the explorer's files stay open; metrics are metadata too.
  const open = await raw(port, 'GET', '/v1/status')
  t.is(open.status, 200)
  // ... but without the topology: peers' addresses and the listen addresses need a read token.
  t.is((open.json as { connectedPeers?: unknown }).connectedPeers, undefined, 'no peer addresses without a token')
  t.is((open.json as { listen?: unknown }).listen, undefined, 'no listen addresses without a token')
  const withRead = await raw(port, 'GET', '/v1/status', { authorization: `Bearer ${n.tokens.read}` })
  t.true(Array.isArray((withRead.json as { connectedPeers?: unknown }).connectedPeers), 'the read token sees the peers')
  t.is((await raw(port, 'GET', '/')).status, 200)
  t.is((await raw(port, 'GET', '/metrics')).status, 401)
})

test.serial('admin work needs the admin token: the submit token no longer grants, revokes, shreds, rotates or looks up pseudonyms', async t => {
  const n = await sharedNode(t)
  const { port } = await api(t, n)
  const submit = { authorization: `Bearer ${n.tokens.submit}` }
  const admin = { authorization: `Bearer ${n.tokens.admin}` }
  const subject = 'cd'.repeat(32)
  for (const [path, body] of [['/v1/privacy/grants', { subject, grantee: 'solo' }], ['/v1/privacy/revocations', { subject, grantee: 'solo' }], ['/v1/privacy/shreds', { recordId: ID }], ['/v1/privacy/rotate', undefined], ['/v1/privacy/subjects', { patientId: 'CH-1' }]] as const) {
    t.is((await raw(port, 'POST', path, submit, body)).status, 401, `${path} with the submit token`)
  }
  t.is((await raw(port, 'POST', '/v1/privacy/subjects', admin, { patientId: 'CH-1' })).status, 200)
  t.not((await raw(port, 'POST', '/v1/privacy/grants', admin, { subject, grantee: 'solo' })).status, 401)
  // The submit token still writes records.
  const rec = { type: 'consultation', subject, contentType: 'text/plain', payload: Buffer.from('x').toString('base64') }
  t.is((await raw(port, 'POST', '/v1/records', submit, { records: [rec] })).status, 202)
  t.is((await raw(port, 'POST', '/v1/records', admin, { records: [rec] })).status, 401)
  // A large body with the wrong token is answered 401 (not a reset) and never parsed.
  const big = await fetch(`http://127.0.0.1:${port}/v1/records`, { method: 'POST', headers: { authorization: 'Bearer wrong', 'content-type': 'application/json' }, body: JSON.stringify({ records: [{ ...rec, payload: 'A'.repeat(6 * 1024 * 1024) }] }) })
  t.is(big.status, 401)
})

test.serial('pseudonym look-ups are rate-limited per token and audited (log line without the identifier, metric)', async t => {
  const n = await sharedNode(t)
  const { port } = await api(t, n, { 'api.pseudonym_lookups_per_minute': '3' })
  const admin = { authorization: `Bearer ${n.tokens.admin}` }
  const before = n.logs.length
  const statuses = []
  for (let i = 0; i < 5; i++) statuses.push((await raw(port, 'POST', '/v1/privacy/subjects', admin, { patientId: `CH-secret-${i}` })).status)
  t.deepEqual(statuses, [200, 200, 200, 429, 429])
  const limited = await raw(port, 'POST', '/v1/privacy/subjects', admin, { patientId: 'CH-secret-9' })
  t.is(limited.json.error?.code, 'RATE_LIMITED')
  t.truthy(limited.headers['retry-after'])
  const audit = n.logs.slice(before).filter(l => l.includes('"audit":"pseudonym-lookup"'))
  t.is(audit.length, 6)
  t.is(audit.filter(l => l.includes('"outcome":"done"')).length, 3)
  t.false(audit.some(l => l.includes('CH-secret')), 'the patient identifier is never logged')
  const metrics = await raw(port, 'GET', '/metrics', admin)
  t.regex(metrics.body, /medledger_api_pseudonym_lookups_total\{outcome="done"\} 3/)
  t.regex(metrics.body, /medledger_api_pseudonym_lookups_total\{outcome="limited"\} 3/)
})

test.serial('Host and Origin: another host name (DNS rebinding) and another site\'s page are refused; IPs, localhost and api.allowed_hosts are served', async t => {
  const n = await sharedNode(t)
  const { port } = await api(t, n, { 'api.require_read_token': 'false', 'api.allowed_hosts': '["ledger.hospital-a.example"]' })
  const get = async (headers: Record<string, string>): Promise<Res> => await raw(port, 'GET', '/v1/blocks', headers)
  const rebound = await get({ host: `attacker.example:${port}` })
  t.is(rebound.status, 421)
  t.is(rebound.json.error?.code, 'HOST_NOT_ALLOWED')
  t.is((await get({ host: `127.0.0.1:${port}` })).status, 200)
  t.is((await get({ host: `localhost:${port}` })).status, 200)
  t.is((await get({ host: `[::1]:${port}` })).status, 200)
  t.is((await get({ host: 'ledger.hospital-a.example' })).status, 200)
  t.is((await raw(port, 'GET', '/', { host: `attacker.example:${port}` })).status, 421, 'the explorer page too')
  const cross = await get({ host: `127.0.0.1:${port}`, origin: 'http://attacker.example' })
  t.is(cross.status, 403)
  t.is(cross.json.error?.code, 'ORIGIN_NOT_ALLOWED')
  t.is(cross.headers['access-control-allow-origin'], undefined, 'no CORS unless configured')
  t.is((await raw(port, 'POST', '/v1/records', { host: `127.0.0.1:${port}`, origin: 'null', authorization: `Bearer ${n.tokens.submit}` }, { records: [] })).status, 403)
  t.is((await get({ host: `127.0.0.1:${port}`, origin: `http://127.0.0.1:${port}` })).status, 200, 'the explorer page fetches same-origin')

  const withCors = await api(t, n, { 'api.require_read_token': 'false', 'api.cors_origins': '["https://portal.hospital-a.example"]' })
  const allowed = await raw(withCors.port, 'GET', '/v1/blocks', { origin: 'https://portal.hospital-a.example' })
  t.is(allowed.status, 200)
  t.is(allowed.headers['access-control-allow-origin'], 'https://portal.hospital-a.example')
  const preflight = await raw(withCors.port, 'OPTIONS', '/v1/records', { origin: 'https://portal.hospital-a.example', 'access-control-request-method': 'POST' })
  t.is(preflight.status, 204)
  t.is((await raw(withCors.port, 'OPTIONS', '/v1/records', { origin: 'https://other.example' })).status, 403)
})

test.serial('an API beyond loopback without read tokens is refused at start; a route without a role stops the API from starting', async t => {
  const n = await sharedNode(t)
  const open = await n.config({ 'api.require_read_token': 'false' })
  const err = await t.throwsAsync(openApi(n.node, n.privacy, n.home, open, { host: '0.0.0.0', port: 0 }))
  t.regex(err.message, /require_read_token/)
  const tokens = await ApiTokens.load(n.home, open)
  const bad = await t.throwsAsync(createApi(n.node, { host: '127.0.0.1', port: 0, tokens, requireReadToken: false, maxBodyBytes: 1024, extend: async app => { app.get('/v1/forgotten', async () => ({ secret: true })) } }))
  t.regex(bad.message, /without a declared role: GET \/v1\/forgotten, HEAD \/v1\/forgotten/)
  // `init` with an API beyond loopback writes require_read_token = true, and one 0600 file per role.
  const home = join(n.home, '..', 'wide')
  await promisify(execFile)(process.execPath, [BIN, 'init', '--home', home, '--genesis', join(n.home, 'genesis.json'), '--key', join(n.home, 'node.key'), '--api-listen', '0.0.0.0:8080'])
  t.true((await loadConfig(home, {}, {})).api.require_read_token)
  for (const role of TOKEN_ROLES) t.is((await stat(join(home, TOKEN_FILES[role]))).mode & 0o777, 0o600, TOKEN_FILES[role])
  // A home from before the admin role has no api.admin.token: admin routes say so, the rest work.
  const old = await api(t, n, { 'api.admin_token_file': 'no-such.token' })
  const refused = await raw(old.port, 'POST', '/v1/privacy/subjects', { authorization: `Bearer ${n.tokens.submit}` }, { patientId: 'CH-1' })
  t.is(refused.status, 503)
  t.is(refused.json.error?.code, 'ROLE_NOT_CONFIGURED')
  t.regex(refused.json.error?.message ?? '', /admin_token_file/)
  t.is((await raw(old.port, 'GET', '/v1/blocks', { authorization: `Bearer ${n.tokens.read}` })).status, 200)
})

test.serial('API bounds: event-stream clients are capped (503 beyond), block pages hold at most 20 summaries, lists page with a cursor', async t => {
  const n = await sharedNode(t)
  const { port } = await api(t, n, { 'api.max_sse_clients': '2' })
  const read = { authorization: `Bearer ${n.tokens.read}` }
  // Two streams held open; the third is refused until one leaves.
  const open = async (): Promise<IncomingMessage> => await new Promise((resolve, reject) => {
    httpRequest({ host: '127.0.0.1', port, path: '/v1/events', headers: read }, resolve).on('error', reject).end()
  })
  const a = await open()
  const b = await open()
  t.is(a.statusCode, 200)
  t.is(b.statusCode, 200)
  const third = await raw(port, 'GET', '/v1/events', read)
  t.is(third.status, 503)
  t.is(third.json.error?.code, 'TOO_MANY_EVENT_CLIENTS')
  a.destroy()
  await waitFor('a freed event slot', async () => (await raw(port, 'GET', '/v1/events', read)).status === 200)
  b.destroy()

  // Blocks: newest first, at most 20, summaries only; `before` continues without gap or overlap.
  await waitFor('height 45', async () => (n.node.store.head?.height ?? 0) >= 45, 120_000)
  const first = await raw(port, 'GET', '/v1/blocks?limit=100', read)
  const blocks = first.json.blocks as Array<{ header: { height: number }, batches?: unknown, recordCount: number }>
  t.is(blocks.length, 20)
  t.is(first.json.limit, 20)
  t.is(blocks[0].header.height, first.json.head as number)
  t.is(blocks[0].batches, undefined, 'the list carries summaries, not batches')
  t.is(typeof blocks[0].recordCount, 'number')
  const second = await raw(port, 'GET', `/v1/blocks?before=${String(first.json.next)}`, read)
  const heights = [...blocks, ...(second.json.blocks as typeof blocks)].map(x => x.header.height)
  t.deepEqual(heights, heights.map((_, i) => heights[0] - i), 'consecutive, newest first')
  const oldest = await raw(port, 'GET', '/v1/blocks?before=3&limit=20', read)
  t.deepEqual((oldest.json.blocks as typeof blocks).map(x => x.header.height), [2, 1])
  t.is(oldest.json.next, null)
  const forward = await raw(port, 'GET', '/v1/blocks?from=1&limit=5', read)
  t.deepEqual((forward.json.blocks as typeof blocks).map(x => x.header.height), [5, 4, 3, 2, 1])
  t.is((await raw(port, 'GET', '/v1/blocks?limit=-1', read)).status, 400)

  // Evidence and the access log page with `after`.
  const ev = await raw(port, 'GET', '/v1/evidence?limit=1000', read)
  t.is(ev.status, 200)
  t.is(ev.json.next, null)
  t.is((await raw(port, 'GET', '/v1/evidence?after=x', read)).status, 400)
  const subject = 'ef'.repeat(32)
  const sealed = await raw(port, 'POST', '/v1/records?wait=final', { authorization: `Bearer ${n.tokens.submit}` }, { records: [{ type: 'consultation', subject, contentType: 'text/plain', plaintext: Buffer.from('x').toString('base64') }] })
  t.is(sealed.status, 200, sealed.body)
  const rid = (sealed.json.ids as string[])[0]
  for (let i = 0; i < 3; i++) t.is((await raw(port, 'GET', `/v1/records/${rid}/plaintext`, { authorization: `Bearer ${n.tokens.plaintext}` })).status, 200)
  const p1 = await raw(port, 'GET', `/v1/privacy/access?record=${rid}&limit=2`, read)
  t.is((p1.json.reads as unknown[]).length, 2)
  t.is(p1.json.next, 2)
  const p2 = await raw(port, 'GET', `/v1/privacy/access?record=${rid}&limit=2&after=2`, read)
  t.is((p2.json.reads as unknown[]).length, 1)
  t.is(p2.json.next, null)
})
