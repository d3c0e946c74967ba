import test from 'ava'
import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { BIN, type Daemon } from '../../src/devnet/daemon.ts'
import { decodeEnvelope, ENVELOPE_CONTENT_TYPE } from '../../src/privacy/envelope.ts'
import { decodeAccess } from '../../src/privacy/records.ts'
import { toHex } from '../../src/encoding/bytes.ts'
import { startDevnet, waitFor, waitForHeight } from '../helpers/devnet.ts'

const exec = promisify(execFile)

// Every daemon of this file: retire superseded keys quickly, and gate metadata behind the read token.
process.env.MEDLEDGER_PRIVACY__RETIRE_GRACE_MS = '500'
process.env.MEDLEDGER_API__REQUIRE_READ_TOKEN = 'true'

interface Res { status: number, body: Record<string, unknown> & { error?: { code: string } } }

async function token (d: Daemon, file: string): Promise<string> {
  return (await readFile(join(d.node.home, file), 'utf8')).trim()
}

async function http (d: Daemon, method: string, path: string, tok?: string, body?: unknown, headers: Record<string, string> = {}): Promise<Res> {
  const res = await fetch(`${d.api}${path}`, {
    method,
    headers: { ...(tok === undefined ? {} : { authorization: `Bearer ${tok}` }), ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body)
  })
  return { status: res.status, body: await res.json() as Res['body'] }
}

async function cli (...args: string[]): Promise<Record<string, unknown>> {
  const { stdout } = await exec(process.execPath, [BIN, ...args])
  return JSON.parse(stdout) as Record<string, unknown>
}

test.serial('encrypted records: sealed to the custodian, released to a grantee, every read is on the chain under a reader pseudonym, observers audit and read nothing, only the custodian shreds, shredding makes content unrecoverable and the chain still verifies', async t => {
  const daemons = await startDevnet(t, { validators: ['hospital-a', 'hospital-b'], observers: ['regulator'], heartbeatMs: 1000 })
  const [a, b, o] = daemons
  await waitForHeight(daemons, 1, 60_000)
  const tok = {
    a: { submit: a.node.token, read: await token(a, 'api.read.token'), plain: await token(a, 'api.plaintext.token'), admin: await token(a, 'api.admin.token') },
    b: { submit: b.node.token, read: await token(b, 'api.read.token'), plain: await token(b, 'api.plaintext.token'), admin: await token(b, 'api.admin.token') },
    o: { read: await token(o, 'api.read.token'), plain: await token(o, 'api.plaintext.token') }
  }

  // Pseudonymous subject: computed offline from the hospital secret, the same as the node computes.
  const offline = await cli('privacy', 'subject', '--secret-file', join(a.node.home, 'subject.secret'), '--patient-id', 'CH-756.1234.5678.97')
  const online = await http(a, 'POST', '/v1/privacy/subjects', tok.a.admin, { patientId: 'CH-756.1234.5678.97' })
  t.is(online.body.subject, offline.subject)
  const subject = offline.subject as string

  const otherSubject = (await cli('privacy', 'subject', '--secret-file', join(a.node.home, 'subject.secret'), '--patient-id', 'CH-756.9999.0000.11')).subject as string

  // Encrypted submit: sealed to the custodian (the author) alone; naming hospital-b needs a grant first.
  const text = 'BP 120/80; penicillin allergy'
  const submit = async (d: Daemon, submitToken: string, records: unknown[]): Promise<Res> => await http(d, 'POST', '/v1/records?wait=final', submitToken, { records })
  t.is((await submit(a, tok.a.submit, [{ type: 'consultation', subject, contentType: 'text/plain', plaintext: Buffer.from(text).toString('base64'), recipients: ['hospital-b'] }])).body.error?.code, 'PRIVACY_NO_GRANT', 'a recipient without a grant is refused')
  const sealed = await submit(a, tok.a.submit, [
    { type: 'consultation', subject, contentType: 'text/plain', plaintext: Buffer.from(text).toString('base64') },
    { type: 'consultation', subject: otherSubject, contentType: 'text/plain', plaintext: Buffer.from('another patient').toString('base64') }
  ])
  t.is(sealed.status, 200, JSON.stringify(sealed.body))
  const [rid, privateId] = sealed.body.ids as string[]
  t.is((await submit(a, tok.a.submit, [{ type: 'access.read', subject, contentType: 'x', payload: '' }])).status, 400, 'clients cannot forge access records')
  // Client timestamps are bounded to +-10 minutes of the node's clock, encrypted or not.
  for (const r of [{ payload: '' }, { plaintext: 'aGk=' }]) {
    const future = await submit(a, tok.a.submit, [{ type: 'consultation', subject, contentType: 'text/plain', timestamp: Date.now() + 24 * 3600_000, ...r }])
    t.is(future.status, 400, JSON.stringify(future.body))
    t.is(future.body.error?.code, 'CHAIN_RECORD_TIMESTAMP')
  }
  t.is((await submit(a, tok.a.submit, [{ type: 'consultation', subject, contentType: 'text/plain', payload: '', timestamp: 1 }])).body.error?.code, 'CHAIN_RECORD_TIMESTAMP', 'nor back-dated to 1970')
  t.is((await submit(a, tok.a.submit, [{ type: 'consultation', subject, contentType: 'text/plain', plaintext: 'aGk=', recipients: ['regulator'] }])).body.error?.code, 'PRIVACY_RECIPIENT_UNKNOWN', 'observers are never recipients')

  // The chain (and the observer) holds only the envelope; metadata needs the read token.
  t.is((await http(o, 'GET', `/v1/records/${rid}`)).status, 401)
  t.is((await http(o, 'GET', '/v1/status')).status, 200)
  const onObserver = await waitFor('the record on the observer', async () => {
    const r = await http(o, 'GET', `/v1/records/${rid}`, tok.o.read)
    return r.status === 200 ? r.body : undefined
  })
  const record = onObserver.record as { contentType: string, payload: string }
  t.is(record.contentType, ENVELOPE_CONTENT_TYPE)
  t.is(decodeEnvelope(Buffer.from(record.payload, 'base64')).recipients.length, 1, 'wrapped to the custodian alone')
  t.is(Buffer.from(record.payload, 'base64').indexOf(text), -1)
  t.is(Buffer.from(record.payload, 'base64').indexOf('text/plain'), -1)

  // Reads: the author (custodian) may; a recipient needs a grant; observers never; tokens are separate.
  const read = async (d: Daemon, id: string, tk: string, reader?: string): Promise<Res> => await http(d, 'GET', `/v1/records/${id}/plaintext`, tk, undefined, reader === undefined ? {} : { 'x-medledger-reader': reader })
  const byA = await read(a, rid, tok.a.plain)
  t.is(byA.status, 200, JSON.stringify(byA.body))
  t.is(Buffer.from(byA.body.plaintext as string, 'base64').toString(), text)
  t.is(byA.body.contentType, 'text/plain')
  t.is((await read(a, rid, tok.a.submit)).status, 401, 'the submit token does not read plaintext')
  t.is((await read(a, rid, tok.a.read)).status, 401, 'the metadata token does not read plaintext')
  t.is((await read(b, rid, tok.b.plain)).body.error?.code, 'PRIVACY_NO_GRANT')
  t.is((await read(b, rid, tok.b.plain)).status, 403)
  // Without a grant hospital-b holds nothing that opens the record: no wrap, no release, no data key.
  t.like((await http(b, 'GET', `/v1/privacy/records/${rid}`, tok.b.read)).body, { here: { recipient: false, dataKeyHeld: false } })
  t.is((await read(o, rid, tok.o.plain)).status, 403, 'observers never serve plaintext')

  // The patient's consent: hospital-a grants hospital-b; hospital-a's node releases the key (a
  // key.release record); b reads, and only that patient's records.
  const grant = await http(a, 'POST', '/v1/privacy/grants?wait=final', tok.a.admin, { subject, grantee: 'hospital-b' })
  t.is(grant.status, 200, JSON.stringify(grant.body))
  const byB = await waitFor('hospital-b reads with the grant', async () => {
    const r = await read(b, rid, tok.b.plain, 'dr-b-17')
    return r.status === 200 ? r : undefined
  })
  t.is(Buffer.from(byB.body.plaintext as string, 'base64').toString(), text)
  t.like((await http(b, 'GET', `/v1/privacy/records/${rid}`, tok.b.read)).body, { here: { dataKeyHeld: true } })
  t.is((await read(b, privateId, tok.b.plain)).body.error?.code, 'PRIVACY_NO_GRANT', 'a grant for one patient does not open another patient\'s record')

  // Every plaintext read is an access record, final before the plaintext left; the observer sees it.
  const accessId = (byB.body.access as { recordId: string }).recordId
  const accessOnObserver = await waitFor('the access record on the observer', async () => {
    const r = await http(o, 'GET', `/v1/records/${accessId}`, tok.o.read)
    return r.status === 200 ? r.body.record as { type: string, payload: string, author: string } : undefined
  })
  t.is(accessOnObserver.type, 'access.read')
  const logged = decodeAccess(Buffer.from(accessOnObserver.payload, 'base64'))
  t.is(toHex(logged.recordId), rid)
  t.regex(logged.reader, /^rdr:[0-9a-f]{64}$/, 'the chain carries a reader pseudonym, never the label')
  t.is(Buffer.from(accessOnObserver.payload, 'base64').indexOf('dr-b-17'), -1)
  const log = await waitFor('both reads in the observer\'s access log', async () => {
    const r = await http(o, 'GET', `/v1/privacy/access?record=${rid}`, tok.o.read)
    const reads = r.body.reads as Array<{ node: { name: string }, reader: string }>
    return reads.length >= 2 ? reads : undefined
  })
  t.deepEqual(log.map(x => x.node.name).sort(), ['hospital-a', 'hospital-b'])

  // A revoked grant stops reads.
  t.is((await http(a, 'POST', '/v1/privacy/revocations?wait=final', tok.a.admin, { subject, grantee: 'hospital-b' })).status, 200)
  await waitFor('hospital-b refused after the revocation', async () => (await read(b, rid, tok.b.plain)).body.error?.code === 'PRIVACY_NO_GRANT')

  // Crypto-shredding: 410 everywhere; every holder destroys the data key and the delivery key.
  const asked = await http(b, 'POST', '/v1/privacy/shreds', tok.b.admin, { recordId: rid })
  t.is(asked.status, 403)
  t.is(asked.body.error?.code, 'PRIVACY_SHRED_REFUSED', 'a recipient may not shred the custodian\'s record')
  t.regex((asked.body.error as unknown as { message: string }).message, /ask that hospital/)
  const shred = await http(a, 'POST', '/v1/privacy/shreds?wait=final', tok.a.admin, { recordId: rid, reason: 'erasure request' })
  t.is(shred.status, 200, JSON.stringify(shred.body))
  for (const [d, tk] of [[a, tok.a], [b, tok.b]] as const) {
    await waitFor(`${d.node.name} answers 410`, async () => (await read(d, rid, tk.plain)).status === 410)
    await waitFor(`${d.node.name} holds no key for the record`, async () => {
      const s = await http(d, 'GET', `/v1/privacy/records/${rid}`, tk.read)
      return (s.body.here as { unrecoverable: boolean }).unrecoverable
    }, 30_000)
  }
  const observed = await waitFor('the shred on the observer', async () => (await http(o, 'GET', `/v1/privacy/records/${rid}`, tok.o.read)).body.shredded as { by: string } | null ?? undefined)
  t.truthy(observed.by)

  // New delivery keys are published and work: a record after the rotation is readable.
  const after = await submit(a, tok.a.submit, [{ type: 'lab-result', subject, contentType: 'text/plain', plaintext: Buffer.from('HbA1c 5.4%').toString('base64') }])
  t.is(after.status, 200, JSON.stringify(after.body))
  const laterId = (after.body.ids as string[])[0]
  t.is(Buffer.from((await read(a, laterId, tok.a.plain)).body.plaintext as string, 'base64').toString(), 'HbA1c 5.4%')
  t.false((await readFile(join(a.node.home, 'node.key'), 'utf8')).includes('encryptionPrivateKey'), 'the retired genesis key is gone from the key file')

  // Offline: the chain still verifies, and no key material left on either disk opens the record.
  const height = (await a.status())!.height
  await waitForHeight(daemons, height)
  t.deepEqual(await Promise.all(daemons.map(async d => await d.stop('SIGTERM'))), [0, 0, 0])
  for (const d of [o, a]) {
    const { stdout } = await exec(process.execPath, [BIN, 'verify', '--home', d.node.home, '--json'])
    t.true((JSON.parse(stdout) as { ok: boolean }).ok, `${d.node.name} verifies`)
  }
  for (const d of [a, b]) {
    const check = await cli('privacy', 'check', '--home', d.node.home, rid)
    t.like(check, { recipient: true, dataKeyHeld: false, deliveryKeysHeld: [], decryptable: false }, `${d.node.name} cannot open the shredded record (b: the key release to it names only retired keys)`)
  }
  t.like(await cli('privacy', 'check', '--home', a.node.home, laterId), { decryptable: true })
})
