import test, { type ExecutionContext } from 'ava'
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { BIN, type Daemon } from '../../src/devnet/daemon.ts'
import { fromHex, publicKeyOfPeerId, toHex, validatorsAt, verifyProof } from '../../src/api/explorer/verify.js'
import { consentStatement, enrolStatement, generatePatientKey, openRecord, sessionStatement, sign, type PatientKey } from '../../src/api/patient/crypto.js'
import { startDevnet, waitFor, waitForHeight } from '../helpers/devnet.ts'
import { browserAvailable, Chromium } from '../helpers/chromium.ts'

/*
 * The patient (issue 19, docs/patient.md) against a devnet of three hospitals (real daemons):
 * the patient API driven by the page's own crypto.js under Node, then the page itself in headless
 * Chromium on a phone-sized viewport. One devnet for the file, one patient per test.
 */

interface Res { status: number, body: any }
interface Tokens { submit: string, admin: string, plain: string }

let daemons: Daemon[] = []
const cleanups: Array<() => Promise<void>> = []
const tokens = new Map<Daemon, Tokens>()

test.before(async t => {
  // Three daemons on a loaded machine: minutes, not seconds.
  t.timeout(4 * 60_000)
  const fake = { teardown: (fn: () => Promise<void>) => { cleanups.push(fn) } } as unknown as ExecutionContext
  daemons = await startDevnet(fake, { validators: ['hospital-a', 'hospital-b', 'hospital-c'], observers: [], heartbeatMs: 1000 })
  await waitForHeight(daemons, 1, 90_000)
  for (const d of daemons) {
    const read = async (f: string): Promise<string> => (await readFile(join(d.node.home, f), 'utf8')).trim()
    tokens.set(d, { submit: d.node.token, admin: await read('api.admin.token'), plain: await read('api.plaintext.token') })
  }
})
test.after.always(async () => { for (const fn of cleanups) await fn() })

async function http (d: Daemon, method: string, path: string, opts: { token?: string, body?: unknown, headers?: Record<string, string> } = {}): Promise<Res> {
  const res = await fetch(`${d.api}${path}`, {
    method,
    headers: { ...(opts.token === undefined ? {} : { authorization: `Bearer ${opts.token}` }), ...(opts.body === undefined ? {} : { 'content-type': 'application/json' }), ...opts.headers },
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body)
  })
  return { status: res.status, body: await res.json().catch(() => ({})) }
}

async function status (d: Daemon): Promise<{ chainId: string, publicKey: string }> {
  const s = (await http(d, 'GET', '/v1/status')).body as { chainId: string, peerId: string }
  return { chainId: s.chainId, publicKey: toHex(publicKeyOfPeerId(s.peerId)) }
}

async function subjectFor (d: Daemon, patientId: string): Promise<string> {
  const r = await http(d, 'POST', '/v1/privacy/subjects', { token: tokens.get(d)!.admin, body: { patientId } })
  return r.body.subject as string
}

async function writeConsultation (d: Daemon, subject: string, text: string): Promise<string> {
  const r = await http(d, 'POST', '/v1/records?wait=final', { token: tokens.get(d)!.submit, body: { records: [{ type: 'consultation', subject, contentType: 'text/plain', plaintext: Buffer.from(text).toString('base64') }] } })
  if (r.status !== 200) throw new Error(`submit: ${JSON.stringify(r.body)}`)
  return r.body.ids[0] as string
}

async function openSession (d: Daemon, key: PatientKey, chainId: string): Promise<string> {
  const c = await http(d, 'POST', '/v1/patient/challenge', { body: { signKey: key.signKey } })
  const signature = toHex(await sign(key, sessionStatement(chainId, key.signKey, c.body.nonce)))
  const s = await http(d, 'POST', '/v1/patient/session', { body: { signKey: key.signKey, nonce: c.body.nonce, signature } })
  if (s.status !== 200) throw new Error(`session: ${JSON.stringify(s.body)}`)
  return s.body.session as string
}

async function plaintext (d: Daemon, id: string, reader = 'dr-test'): Promise<Res> {
  return await http(d, 'GET', `/v1/records/${id}/plaintext`, { token: tokens.get(d)!.plain, headers: { 'x-medledger-reader': reader } })
}

test.serial('patient API: enrol with a signed code, a challenge-signed session, records sealed or released to the patient open and verify, patient-signed grant and revoke decide, a replayed grant does not, break-glass is logged with its reason', async t => {
  t.timeout(6 * 60_000)
  const [a, b, c] = daemons
  const { chainId, publicKey: aKey } = await status(a)
  const bKey = (await status(b)).publicKey
  const key = await generatePatientKey()
  const subject = await subjectFor(a, 'CN-110101199001011234')
  const before = await writeConsultation(a, subject, 'written before enrolment')

  // Enrolment: the desk (admin) issues a one-time code; the patient signs the statement.
  t.is((await http(a, 'POST', '/v1/privacy/enrolments', { token: tokens.get(a)!.submit, body: { subject } })).status, 401, 'only the admin token issues codes')
  const issue = async (): Promise<string> => (await http(a, 'POST', '/v1/privacy/enrolments', { token: tokens.get(a)!.admin, body: { subject } })).body.code as string
  const enrolSig = toHex(await sign(key, enrolStatement(chainId, aKey, subject, key)))
  const badSig = toHex(await sign(key, enrolStatement(chainId, bKey, subject, key)))
  let code = await issue()
  const wrong = await http(a, 'POST', '/v1/patient/enrol', { body: { code, subject, signKey: key.signKey, boxKey: key.boxKey, signature: badSig } })
  t.is(wrong.body.error?.code, 'PATIENT_SIGNATURE', 'signed for another hospital')
  t.is((await http(a, 'POST', '/v1/patient/enrol', { body: { code, subject, signKey: key.signKey, boxKey: key.boxKey, signature: enrolSig } })).body.error?.code, 'PATIENT_ENROL_CODE', 'the code was spent by the failed attempt')
  code = await issue()
  t.is((await http(a, 'POST', '/v1/patient/enrol', { body: { code, subject: 'ab'.repeat(32), signKey: key.signKey, boxKey: key.boxKey, signature: enrolSig } })).body.error?.code, 'PATIENT_ENROL_CODE', 'a code is for one subject')
  code = await issue()
  const enrolled = await http(a, 'POST', '/v1/patient/enrol', { body: { code, subject, signKey: key.signKey, boxKey: key.boxKey, signature: enrolSig } })
  t.is(enrolled.status, 200, JSON.stringify(enrolled.body))
  t.is(enrolled.body.subject, subject)
  const after = await writeConsultation(a, subject, 'BP 150/95; start amlodipine 5 mg')

  // Sessions: single-use nonces, the right key only, enrolled keys only.
  t.is((await http(a, 'GET', '/v1/patient/records')).status, 401)
  t.is((await http(a, 'GET', '/v1/patient/records', { headers: { 'x-medledger-patient': 'ab'.repeat(32) } })).status, 401)
  const ch = await http(a, 'POST', '/v1/patient/challenge', { body: { signKey: key.signKey } })
  const chSig = toHex(await sign(key, sessionStatement(chainId, key.signKey, ch.body.nonce)))
  const stranger = await generatePatientKey()
  t.is((await http(a, 'POST', '/v1/patient/session', { body: { signKey: stranger.signKey, nonce: ch.body.nonce, signature: chSig } })).status, 401, 'a nonce is for the key that asked')
  t.is((await http(a, 'POST', '/v1/patient/session', { body: { signKey: key.signKey, nonce: ch.body.nonce, signature: chSig } })).status, 401, 'and single use, even after a failed try')
  await t.throwsAsync(openSession(a, stranger, chainId), { message: /PATIENT_NOT_ENROLLED/ })
  // Any hospital's node serves the patient's records at every hospital of the chain.
  const session = await openSession(b, key, chainId)
  const records = async (): Promise<any> => (await http(b, 'GET', '/v1/patient/records', { headers: { 'x-medledger-patient': session } })).body

  // The record written after enrolment is sealed to the patient; the one before is released to them.
  const listed = await waitFor('both records readable by the patient', async () => {
    const r = await records()
    return r.records?.length === 2 && r.records.every((x: any) => x.wraps.length > 0) ? r : undefined
  }, 60_000)
  t.deepEqual(listed.records.map((x: any) => x.recordId), [before, after])
  for (const r of listed.records) {
    const opened = await openRecord(key, chainId, r.proof.record, r.wraps[0])
    t.is(Buffer.from(opened.body).toString(), r.recordId === before ? 'written before enrolment' : 'BP 150/95; start amlodipine 5 mg')
    const result = await verifyProof(r.proof, { chainId, genesisHash: fromHex(listed.genesisHash, 32), validators: validatorsAt(r.height, listed.validators), source: 'node' })
    t.true(result.ok, JSON.stringify(result.steps.filter(s => !s.ok)))
  }
  t.false(await openRecord(stranger, chainId, listed.records[1].proof.record, listed.records[1].wraps[0]).then(() => true, () => false), 'nobody else opens the patient wrap')

  // Consent by signature: the patient grants hospital-b; B reads and the read is in the patient's log.
  t.is((await plaintext(b, after)).body.error?.code, 'PRIVACY_NO_GRANT')
  const consent = async (grantee: string, grant: boolean, signer = key): Promise<{ res: Res, body: Record<string, unknown> }> => {
    const fields = { custodian: aKey, grantee, grant, types: [] as string[], notAfter: 0, issuedAt: Date.now() }
    const body = { ...fields, subject, signature: toHex(await sign(signer, consentStatement(chainId, subject, fields))) }
    return { res: await http(b, 'POST', '/v1/patient/consents', { headers: { 'x-medledger-patient': session }, body }), body }
  }
  t.is((await consent(bKey, true, stranger)).res.body.error?.code, 'PATIENT_SIGNATURE', 'signed by another key')
  const granted = await consent(bKey, true)
  t.is(granted.res.status, 200, JSON.stringify(granted.res.body))
  const read = await waitFor('hospital-b reads after the patient grant', async () => { const r = await plaintext(b, after, 'dr-wang'); return r.status === 200 ? r : undefined }, 60_000)
  t.is(Buffer.from(read.body.plaintext as string, 'base64').toString(), 'BP 150/95; start amlodipine 5 mg')
  const logged = (await records()).records.find((x: any) => x.recordId === after)
  t.true(logged.access.some((x: any) => x.kind === 'read' && x.node.name === 'hospital-b' && x.reader.startsWith('rdr:')), JSON.stringify(logged.access))
  t.true((await records()).enrolments[0].grants.some((g: any) => g.grantee.name === 'hospital-b' && g.inForce && g.byPatient))

  // Revocation by signature stops B; replaying the old grant (a valid signature) does not restore it.
  await new Promise(resolve => setTimeout(resolve, 5))
  t.is((await consent(bKey, false)).res.status, 200)
  await waitFor('hospital-b refused after the revocation', async () => (await plaintext(b, after)).body.error?.code === 'PRIVACY_NO_GRANT', 30_000)
  const replay = await http(b, 'POST', '/v1/patient/consents', { headers: { 'x-medledger-patient': session }, body: granted.body })
  t.is(replay.status, 200, 'the node writes it (the signature is valid)…')
  t.is((await plaintext(b, after)).body.error?.code, 'PRIVACY_NO_GRANT', '…but an older consent than the last one counted is ignored')

  // Break-glass: hospital-c states a reason, the custodian releases that record, C reads, the patient sees both.
  t.is((await http(c, 'POST', '/v1/privacy/emergency', { token: tokens.get(c)!.admin, body: { recordId: after, reason: 'unconscious in A&E' } })).status, 401, 'the plaintext token only')
  t.is((await http(c, 'POST', '/v1/privacy/emergency', { token: tokens.get(c)!.plain, body: { recordId: after, reason: ' ' } })).status, 400, 'a reason is required')
  const glass = await http(c, 'POST', '/v1/privacy/emergency', { token: tokens.get(c)!.plain, body: { recordId: after, reason: 'unconscious in A&E, checking medication' }, headers: { 'x-medledger-reader': 'dr-li' } })
  t.is(glass.status, 200, JSON.stringify(glass.body))
  const cRead = await waitFor('hospital-c reads under break-glass', async () => { const r = await plaintext(c, after, 'dr-li'); return r.status === 200 ? r : undefined }, 60_000)
  t.is(Buffer.from(cRead.body.plaintext as string, 'base64').toString(), 'BP 150/95; start amlodipine 5 mg')
  t.is((await plaintext(c, before)).body.error?.code, 'PRIVACY_NO_GRANT', 'break-glass opens the one record named')
  const log = (await records()).records.find((x: any) => x.recordId === after).access
  t.true(log.some((x: any) => x.kind === 'emergency' && x.node.name === 'hospital-c' && x.reason === 'unconscious in A&E, checking medication'), JSON.stringify(log))
  t.true(log.some((x: any) => x.kind === 'read' && x.node.name === 'hospital-c'))
})

test.serial('the patient page on a phone: create a key, enrol at A, read and verify a consultation, grant B, see B\'s read, revoke, B refused, a break-glass read by C shows with its reason', async t => {
  t.timeout(6 * 60_000)
  if (!(await browserAvailable(t))) return
  const [a, b, c] = daemons
  const subject = await subjectFor(a, 'CN-440301198807070000')
  const page = await http(a, 'GET', '/patient')
  t.is(page.status, 200)
  const browser = await Chromium.launch({ width: 390, height: 844 })
  t.teardown(async () => { await browser.close() })
  const logs: string[] = []
  const s = await browser.open(`${a.api}/patient`, l => logs.push(l))
  await browser.send('Emulation.setDeviceMetricsOverride', { width: 390, height: 844, deviceScaleFactor: 2, mobile: true }, s)
  const ev = async <T = unknown>(expr: string): Promise<T> => await browser.evaluate<T>(s, expr)
  const until = async (expr: string, ms = 60_000): Promise<unknown> => await browser.waitFor(s, expr, ms).catch(err => { throw new Error(`${(err as Error).message}\n${logs.join('\n')}`) })

  await until("document.body.dataset.ready === 'true' && !document.getElementById('key-none').hidden")
  await ev("document.getElementById('create-key').click()")
  await until("!document.getElementById('key-have').hidden && document.getElementById('key-id').textContent.length === 16")
  const signKey = await ev<string>('window.medledgerPatient.state.key.signKey')
  t.regex(signKey, /^[0-9a-f]{64}$/)
  // Not enrolled yet: the page says so. The desk issues a code; the patient types it in.
  await until("document.getElementById('status').textContent.length > 0 && !document.getElementById('status').textContent.includes('…')")
  const enrolCode = (await http(a, 'POST', '/v1/privacy/enrolments', { token: tokens.get(a)!.admin, body: { subject } })).body.enrolCode as string
  await ev(`document.getElementById('enrol-code').value = ${JSON.stringify(enrolCode)}; document.getElementById('enrol').click()`)
  await until("!document.getElementById('records-section').hidden")

  const id = await writeConsultation(a, subject, '咳嗽三天，体温 38.2°C。Cough for 3 days, 38.2 °C. Amoxicillin 500 mg.')
  const card = `document.querySelector('article.record[data-id="${id}"]')`
  const refresh = 'window.medledgerPatient.refresh()'
  await until(`(${card} !== null) || (${refresh}, false)`)
  await until(`${card}.querySelector('.content').dataset.state === 'open'`)
  t.is(await ev<string>(`${card}.querySelector('.content').textContent`), '咳嗽三天，体温 38.2°C。Cough for 3 days, 38.2 °C. Amoxicillin 500 mg.')
  await until(`${card}.querySelector('.verify').dataset.ok === 'true'`)

  // One tap grants hospital-b; B reads; the read appears in the record's log.
  const bKey = (await status(b)).publicKey
  await ev(`document.querySelector('button[data-grantee="${bKey}"][data-action="grant"]').click()`)
  await until(`document.querySelector('.who[data-grantee="${bKey}"]')?.dataset.allowed === 'true'`)
  await waitFor('hospital-b reads after the tap', async () => (await plaintext(b, id, 'dr-zhang')).status === 200, 60_000)
  await ev(refresh)
  await until(`${card}?.querySelector('li[data-kind="read"][data-node="hospital-b"]') || (${refresh}, false)`)

  // One tap revokes; B is refused.
  await ev(`document.querySelector('button[data-grantee="${bKey}"][data-action="revoke"]').click()`)
  await until(`document.querySelector('.who[data-grantee="${bKey}"]')?.dataset.allowed === 'false'`)
  t.is((await plaintext(b, id)).body.error?.code, 'PRIVACY_NO_GRANT')

  // Break-glass by hospital-c: shown with its reason.
  const glass = await http(c, 'POST', '/v1/privacy/emergency', { token: tokens.get(c)!.plain, body: { recordId: id, reason: '车祸昏迷，急诊查过敏史 / unconscious after a crash, allergy check' } })
  t.is(glass.status, 200, JSON.stringify(glass.body))
  await ev(refresh)
  await until(`${card}?.querySelector('li[data-kind="emergency"][data-node="hospital-c"] .reason')?.textContent === '车祸昏迷，急诊查过敏史 / unconscious after a crash, allergy check' || (${refresh}, false)`)

  // Both languages, one tap apart; the screenshot in Chinese.
  const title = async (): Promise<string> => await ev<string>("document.querySelector('[data-i18n=recordsTitle]').textContent")
  const first = await title()
  await ev("document.getElementById('lang').click()")
  t.deepEqual(new Set([first, await title()]), new Set(['My records', '我的病历']))
  if (await title() !== '我的病历') await ev("document.getElementById('lang').click()")
  t.is(await ev<string>("document.querySelector('li[data-kind=\"emergency\"] b').textContent"), '⚠ hospital-c · 紧急查看')
  const width = await ev<number>('document.documentElement.scrollWidth')
  t.true(width <= 390, `no sideways scrolling on a phone: ${width}px`)
  await browser.screenshot(s, join(process.cwd(), 'docs', 'patient.png'))
  t.deepEqual(logs.filter(l => l.startsWith('exception')), [])

  // The export: the records with their proofs, checked offline against the genesis file.
  const dir = await mkdtemp(join(tmpdir(), 'medledger-export-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const exported = JSON.parse(await ev<string>('window.medledgerPatient.exportFile()'))
  await writeFile(join(dir, 'export.json'), JSON.stringify(exported))
  const genesisFile = join(a.node.home, 'genesis.json')
  const ok = JSON.parse((await promisify(execFile)(process.execPath, [BIN, 'proof', 'verify-export', '--genesis', genesisFile, join(dir, 'export.json')])).stdout)
  t.true(ok.valid)
  t.deepEqual(ok.records.map((r: { recordId: string }) => r.recordId), [id])
  const payload = exported.records[0].proof.record.payload as string
  exported.records[0].proof.record.payload = (payload[0] === 'A' ? 'B' : 'A') + payload.slice(1)
  await writeFile(join(dir, 'tampered.json'), JSON.stringify(exported))
  const refused = await promisify(execFile)(process.execPath, [BIN, 'proof', 'verify-export', '--genesis', genesisFile, join(dir, 'tampered.json')]).then(() => undefined, (err: { code: number, stderr: string }) => err)
  t.is(refused?.code, 1)
  t.regex(refused?.stderr ?? '', /records\[0\]/)
})
