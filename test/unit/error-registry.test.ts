import test from 'ava'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import Fastify from 'fastify'
import { ERROR_DOMAINS, ERROR_TABLE_BEGIN, ERROR_TABLE_END, errorSpec, errorTableMarkdown, exitCodeOf, httpStatusOf, registeredCodes } from '../../src/error-registry.ts'
import { EXIT, MedledgerError } from '../../src/errors.ts'
import { sendError, sendKnown } from '../../src/api/error-reply.ts'
import { ApiErrorCode } from '../../src/api/errors.ts'
import { ChainError, ChainErrorCode } from '../../src/chain/errors.ts'
import { MempoolErrorCode } from '../../src/mempool/errors.ts'
import { NodeErrorCode } from '../../src/node/errors.ts'
import { PrivacyError, PrivacyErrorCode } from '../../src/privacy/errors.ts'
import { StorageError, StorageErrorCode } from '../../src/storage/errors.ts'
import { privacyRoutes } from '../../src/api/privacy-routes.ts'
import { createApi, type ApiContext } from '../../src/api/server.ts'
import type { ApiNode } from '../../src/api/api-node.ts'
import { ApiTokens } from '../../src/api/tokens.ts'
import { Genesis, DEFAULT_PARAMS } from '../../src/chain/genesis.ts'
import { GovernanceSchedule } from '../../src/governance/schedule.ts'
import { silentLogger } from '../../src/logger.ts'
import { TEST_CHAIN_ID, TEST_TIME, testValidators } from '../helpers/fixtures.ts'
import type { PrivacyService } from '../../src/privacy/service.ts'

const ROOT = new URL('../../', import.meta.url).pathname

test('every registered error code has an HTTP status, an exit code and a meaning, and no code is in two tables', t => {
  const exits = new Set<number>(Object.values(EXIT))
  let rows = 0
  for (const d of ERROR_DOMAINS) {
    for (const [code, s] of Object.entries(d.codes)) {
      rows++
      t.regex(code, /^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/, `${d.source}: ${code}`)
      t.true(Number.isInteger(s.status) && s.status >= 400 && s.status <= 599, `${code}: HTTP status ${s.status}`)
      t.true(exits.has(s.exit) && s.exit !== EXIT.OK, `${code}: exit code ${s.exit}`)
      t.true(s.meaning.length > 0, `${code}: meaning`)
      t.is(errorSpec(code), s)
    }
  }
  t.is(registeredCodes().length, rows, 'each code is registered once')
})

test('the one mapping: a registered code gives its status and exit code; anything else is 500 and exit 1', t => {
  t.is(httpStatusOf(new MedledgerError(MempoolErrorCode.BATCH_TOO_LARGE, 'big')), 413)
  t.is(httpStatusOf(new PrivacyError(PrivacyErrorCode.SHREDDED, 'gone')), 410)
  t.is(exitCodeOf(new MedledgerError('CONFIG_INVALID', 'bad')), EXIT.USAGE)
  t.is(exitCodeOf(new MedledgerError('KEY_LOCKED', 'locked')), EXIT.USAGE)
  t.is(exitCodeOf(new StorageError(StorageErrorCode.LOCKED, 'locked')), EXIT.FAILURE)
  t.is(exitCodeOf(new MedledgerError('HTTP_502', 'a code a remote API sent')), EXIT.FAILURE)
  t.is(httpStatusOf(new Error('a bug')), 500)
  t.is(exitCodeOf(new Error('a bug')), EXIT.FAILURE)
})

/** Every `.ts` file under dir. */
async function sources (dir: string): Promise<string[]> {
  const out: string[] = []
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (e.isDirectory()) out.push(...await sources(p))
    else if (e.name.endsWith('.ts')) out.push(p)
  }
  return out
}

test('every error code written as a literal in src/ is registered', async t => {
  // Codes given as string literals: thrown (new MedledgerError('X', ...)), answered
  // (sendError(reply, 'X', ...)) or handed to the secret-file readers ({ permissions: 'X' }).
  const patterns = [/super\(\s*'([A-Z][A-Z0-9_]*)'/g, /new MedledgerError\(\s*'([A-Z][A-Z0-9_]*)'/g, /sendError\([^,]+,\s*'([A-Z][A-Z0-9_]*)'/g, /(?:permissions|missing):\s*'([A-Z][A-Z0-9_]*)'/g, /assertPrivateMode\([^)]*'([A-Z][A-Z0-9_]*)'\)/g]
  const unregistered: string[] = []
  let seen = 0
  for (const file of await sources(join(ROOT, 'src'))) {
    const text = await readFile(file, 'utf8')
    for (const re of patterns) {
      for (const m of text.matchAll(re)) {
        seen++
        if (errorSpec(m[1]) === undefined) unregistered.push(`${file.slice(ROOT.length)}: ${m[1]}`)
      }
    }
  }
  t.true(seen > 10, `found ${seen} literal codes (the scan still sees them)`)
  t.deepEqual(unregistered, [])
})

test('docs/errors.md lists exactly the registered codes (regenerate: node --import tsx scripts/error-docs.ts)', async t => {
  const text = await readFile(join(ROOT, 'docs/errors.md'), 'utf8')
  const begin = text.indexOf(ERROR_TABLE_BEGIN)
  const end = text.indexOf(ERROR_TABLE_END)
  t.true(begin >= 0 && end > begin, 'the table markers are there')
  t.is(text.slice(begin + ERROR_TABLE_BEGIN.length + 1, end), errorTableMarkdown())
})

test('an API error answer carries the registered status (BATCH_TOO_LARGE is 413 wherever it is raised)', async t => {
  const app = Fastify()
  const throwing: Record<string, Error> = {
    'batch-too-large': new MedledgerError(MempoolErrorCode.BATCH_TOO_LARGE, 'too big for a block'),
    'read-only': new MedledgerError(NodeErrorCode.READ_ONLY, 'an observer'),
    'wait-timeout': new MedledgerError(NodeErrorCode.WAIT_TIMEOUT, 'not final yet'),
    shredded: new PrivacyError(PrivacyErrorCode.SHREDDED, 'shredded'),
    chain: new ChainError(ChainErrorCode.RECORD_FIELD, 'bad field')
  }
  for (const [path, err] of Object.entries(throwing)) app.get(`/${path}`, async (_req, reply) => sendKnown(reply, err))
  app.get('/invalid-id', async (_req, reply) => sendError(reply, ApiErrorCode.INVALID_ID, 'not hex'))
  await app.ready()
  t.teardown(async () => { await app.close() })
  for (const [path, code, status] of [['batch-too-large', 'BATCH_TOO_LARGE', 413], ['read-only', 'NODE_READ_ONLY', 403], ['wait-timeout', 'WAIT_TIMEOUT', 504], ['shredded', 'PRIVACY_SHREDDED', 410], ['chain', 'CHAIN_RECORD_FIELD', 400], ['invalid-id', 'INVALID_ID', 400]] as const) {
    const res = await app.inject({ method: 'GET', url: `/${path}` })
    t.is(res.statusCode, status, path)
    t.is(res.json().error.code, code, path)
    t.is(errorSpec(code)?.status, status)
  }
})

test('the privacy routes answer a node error with the same registered status as POST /v1/records (BATCH_TOO_LARGE was 409 there)', async t => {
  const app = Fastify()
  const node = {
    role: 'validator' as const,
    submitRecords: async () => { throw new MedledgerError(MempoolErrorCode.BATCH_TOO_LARGE, 'these records encode to more than one block carries') },
    waitFinal: async () => 1
  }
  const privacy = { revokeRecord: () => ({ type: 'privacy.revoke', subject: new Uint8Array(32), contentType: 'application/cbor', payload: new Uint8Array(1), timestamp: 1 }) }
  await privacyRoutes({ node, privacy: privacy as unknown as PrivacyService })(app, {} as unknown as ApiContext)
  await app.ready()
  t.teardown(async () => { await app.close() })
  const res = await app.inject({ method: 'POST', url: '/v1/privacy/revocations', payload: { subject: 'ab'.repeat(32), grantee: 'b' } })
  t.is(res.json().error.code, 'BATCH_TOO_LARGE')
  t.is(res.statusCode, 413)
})

test('the API server answers representative failures with their registered status (a real createApi over a stand-in node)', async t => {
  const keys = testValidators(1)
  const genesis = new Genesis({ chainId: TEST_CHAIN_ID, genesisTime: TEST_TIME, validators: [{ name: 'a', publicKey: keys[0].publicKey }], observers: [], params: DEFAULT_PARAMS })
  let refusal: Error = new MedledgerError(MempoolErrorCode.BATCH_TOO_LARGE, 'these records encode to more than one block carries')
  const node = {
    genesis,
    role: 'validator',
    key: keys[0],
    log: silentLogger,
    startedAt: Date.now(),
    fault: undefined,
    schedule: GovernanceSchedule.fromGenesis(genesis),
    store: { head: null, getRecord: async () => undefined, getFinalized: async () => undefined },
    network: { addresses: [], connectedPeers: () => [], peerConnections: () => [], peerRecords: () => [] },
    consensus: { currentRound: 0 },
    mempool: { size: 0, recordCount: 0 },
    submitRecords: async () => { throw refusal },
    waitFinal: async () => 1,
    on: () => undefined
  } as unknown as ApiNode
  const app = await createApi(node, { host: '127.0.0.1', port: 0, tokens: new ApiTokens({ submit: 's'.repeat(48) }), requireReadToken: false, maxBodyBytes: 1 << 20 })
  t.teardown(async () => { await app.close() })
  const submit = async (): Promise<{ status: number, code: string }> => {
    const res = await app.inject({ method: 'POST', url: '/v1/records', headers: { authorization: `Bearer ${'s'.repeat(48)}` }, payload: { records: [{ type: 'note', subject: 'ab'.repeat(32), contentType: 'text/plain', payload: 'AA==' }] } })
    return { status: res.statusCode, code: res.json().error?.code }
  }
  t.deepEqual(await submit(), { status: 413, code: 'BATCH_TOO_LARGE' })
  refusal = new MedledgerError(NodeErrorCode.READ_ONLY, 'an observer')
  t.deepEqual(await submit(), { status: 403, code: 'NODE_READ_ONLY' })
  refusal = new MedledgerError(MempoolErrorCode.FULL, 'full')
  t.deepEqual(await submit(), { status: 503, code: 'MEMPOOL_FULL' })
  refusal = new ChainError(ChainErrorCode.RECORD_TIMESTAMP, 'too far')
  t.deepEqual(await submit(), { status: 400, code: 'CHAIN_RECORD_TIMESTAMP' })
  const record = await app.inject({ method: 'GET', url: `/v1/records/${'cd'.repeat(32)}` })
  t.is(record.statusCode, errorSpec('RECORD_NOT_FOUND')?.status ?? 0)
  t.is(record.json().error.code, 'RECORD_NOT_FOUND')
  const block = await app.inject({ method: 'GET', url: '/v1/blocks/x/records' })
  t.is(block.statusCode, errorSpec('INVALID_HEIGHT')?.status ?? 0)
  t.is(block.json().error.code, 'INVALID_HEIGHT')
  const body = await app.inject({ method: 'POST', url: '/v1/records', headers: { authorization: `Bearer ${'s'.repeat(48)}` }, payload: { records: [] } })
  t.is(body.statusCode, errorSpec('INVALID_BODY')?.status ?? 0)
  t.is(body.json().error.code, 'INVALID_BODY')
})
