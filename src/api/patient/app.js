// The patient page (/patient): the patient's key made and kept on this device, enrolment at this
// hospital, the patient's records at every hospital of the chain decrypted here, each record's
// proof verified here, each record's access log, and consent (grant or revoke) in one tap.
// Plain JavaScript, no build step; crypto.js and the explorer's verify.js do the cryptography.

import { fromHex, publicKeyOfPeerId, toHex, UnsupportedError, validatorsAt, verifyProof } from '../explorer/verify.js'
import { consentStatement, enrolStatement, generatePatientKey, loadRecovery, openRecord, recoveryFile, sessionStatement, sign } from './crypto.js'

const KEY_STORAGE = 'medledger.patient.key'
const LANG_STORAGE = 'medledger.patient.lang'

const TEXT = {
  zh: {
    title: '我的病历',
    keyTitle: '我的密钥',
    keyNone: '此设备上还没有密钥。创建一个，或从恢复文件载入。',
    create: '创建密钥',
    load: '载入恢复文件',
    keyId: '密钥编号',
    save: '保存恢复文件',
    forget: '从此设备删除',
    enrolTitle: '在本医院登记',
    enrolHelp: '输入医院给您的登记码。链上只记录医院给您的化名和您的公钥，不记录姓名或证件号。',
    enrol: '登记',
    accessTitle: '谁可以查看我的病历',
    recordsTitle: '我的病历',
    refresh: '刷新',
    export: '导出',
    created: '密钥已在此设备上创建。请保存恢复文件并妥善保管。',
    loaded: '密钥已载入。',
    forgotten: '密钥已从此设备删除。',
    forgetConfirm: '删除后，没有恢复文件将无法再查看病历。确定删除？',
    enrolled: '登记成功。',
    badCode: '登记码格式不对。',
    loading: '正在载入…',
    notEnrolled: '此密钥尚未在任何医院登记。',
    noRecords: '还没有病历。',
    records: '份病历',
    verified: '已在本机验证',
    verifyFailed: '验证失败',
    verifying: '正在验证…',
    decryptFailed: '无法解密',
    sealedNotYet: '医院尚未把密钥交给您',
    shredded: '已销毁',
    block: '区块',
    signedBy: '签名医院',
    custodian: '保管医院',
    noReads: '还没有人查看过。',
    read: '查看了',
    emergency: '紧急查看',
    reason: '理由',
    own: '（本院）',
    allowed: '可以查看',
    notAllowed: '不能查看',
    allow: '允许',
    revoke: '撤销',
    grantDone: '已授权',
    revokeDone: '已撤销',
    hospitalOf: '的病历',
    error: '出错了：',
    cannotVerify: '此浏览器无法验证签名',
    at: '于',
    by: '由',
    patientSigned: '由您签署',
    hospitalSigned: '由医院签署'
  },
  en: {
    title: 'My medical records',
    keyTitle: 'My key',
    keyNone: 'There is no key on this device yet. Create one, or load your recovery file.',
    create: 'Create my key',
    load: 'Load recovery file',
    keyId: 'Key id',
    save: 'Save recovery file',
    forget: 'Remove from this device',
    enrolTitle: 'Enrol at this hospital',
    enrolHelp: 'Enter the enrolment code the hospital gave you. The ledger records only the hospital\'s pseudonym for you and your public keys: never your name or ID number.',
    enrol: 'Enrol',
    accessTitle: 'Who may read my records',
    recordsTitle: 'My records',
    refresh: 'Refresh',
    export: 'Export',
    created: 'Your key was made on this device. Save the recovery file and keep it safe.',
    loaded: 'Key loaded.',
    forgotten: 'The key was removed from this device.',
    forgetConfirm: 'Without the recovery file you will not be able to read your records again. Remove the key?',
    enrolled: 'You are enrolled.',
    badCode: 'That enrolment code is not in the right form.',
    loading: 'Loading…',
    notEnrolled: 'This key is not enrolled at any hospital yet.',
    noRecords: 'No records yet.',
    records: 'records',
    verified: 'Verified on this phone',
    verifyFailed: 'Verification failed',
    verifying: 'Verifying…',
    decryptFailed: 'Cannot decrypt',
    sealedNotYet: 'The hospital has not released the key to you yet',
    shredded: 'Shredded',
    block: 'block',
    signedBy: 'signed by',
    custodian: 'Kept by',
    noReads: 'Nobody has read it yet.',
    read: 'read it',
    emergency: 'EMERGENCY read',
    reason: 'reason',
    own: '(own hospital)',
    allowed: 'may read',
    notAllowed: 'may not read',
    allow: 'Allow',
    revoke: 'Revoke',
    grantDone: 'Access granted',
    revokeDone: 'Access revoked',
    hospitalOf: '\'s records',
    error: 'Something went wrong: ',
    cannotVerify: 'This browser cannot check signatures',
    at: 'at',
    by: 'by',
    patientSigned: 'signed by you',
    hospitalSigned: 'signed by the hospital'
  }
}

const state = { lang: localStorage.getItem(LANG_STORAGE) ?? (navigator.language.startsWith('zh') ? 'zh' : 'en'), key: null, session: null, node: null, data: null }
const t = (k) => TEXT[state.lang][k] ?? TEXT.en[k] ?? k
const $ = (id) => document.getElementById(id)

function el (tag, attrs = {}, ...children) {
  const e = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'text') e.textContent = v
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v)
    else if (k === 'dataset') Object.assign(e.dataset, v)
    else e.setAttribute(k, v)
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c)
  return e
}

function say (text, error = false) {
  const s = $('status')
  s.textContent = text
  s.className = error ? 'error' : 'muted'
}

const when = (ms) => new Date(ms).toLocaleString(state.lang === 'zh' ? 'zh-CN' : 'en-GB', { dateStyle: 'medium', timeStyle: 'short' })

// ---- the API ----

async function api (path, { method = 'GET', body, session = false } = {}) {
  const headers = {}
  if (body !== undefined) headers['content-type'] = 'application/json'
  if (session) headers['x-medledger-patient'] = await sessionToken()
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
  const json = await res.json().catch(() => ({}))
  if (!res.ok) {
    const err = new Error(json?.error?.message ?? `HTTP ${res.status}`)
    err.status = res.status
    err.code = json?.error?.code
    if (res.status === 401 && session) state.session = null
    throw err
  }
  return json
}

async function nodeInfo () {
  if (state.node === null) {
    const s = await api('/v1/status')
    state.node = { chainId: s.chainId, genesisHash: s.genesisHash, publicKey: toHex(publicKeyOfPeerId(s.peerId)) }
  }
  return state.node
}

/** A session: the node's one-time challenge, signed with the patient's key. */
async function sessionToken () {
  if (state.session !== null && state.session.expiresAt - Date.now() > 30_000) return state.session.token
  const { chainId } = await nodeInfo()
  const c = await api('/v1/patient/challenge', { method: 'POST', body: { signKey: state.key.signKey } })
  const signature = toHex(await sign(state.key, sessionStatement(chainId, state.key.signKey, c.nonce)))
  const s = await api('/v1/patient/session', { method: 'POST', body: { signKey: state.key.signKey, nonce: c.nonce, signature } })
  state.session = { token: s.session, expiresAt: s.expiresAt }
  return s.session
}

// ---- the key ----

async function setKey (key, message) {
  state.key = key
  state.session = null
  if (key === null) localStorage.removeItem(KEY_STORAGE)
  else localStorage.setItem(KEY_STORAGE, recoveryFile(key))
  renderKey()
  if (message !== undefined) say(message)
  if (key !== null) await refresh()
}

function renderKey () {
  const have = state.key !== null
  $('key-none').hidden = have
  $('key-have').hidden = !have
  $('enrol-section').hidden = !have
  if (!have) { $('records-section').hidden = true; $('access-section').hidden = true }
  $('key-id').textContent = have ? state.key.signKey.slice(0, 16) : ''
}

/** Saves a text file on the device (a download). */
function download (name, text) {
  const url = URL.createObjectURL(new Blob([text], { type: 'application/json' }))
  const a = el('a', { href: url, download: name })
  document.body.append(a)
  a.click()
  a.remove()
  setTimeout(() => { URL.revokeObjectURL(url) }, 60_000)
}

function saveRecovery () {
  download(`medledger-patient-key-${state.key.signKey.slice(0, 8)}.json`, recoveryFile(state.key))
}

// ---- enrolment ----

async function enrol () {
  const code = $('enrol-code').value.trim().toLowerCase()
  const m = /^([0-9a-f]{64})[.:\s]([0-9a-f]{64})$/.exec(code)
  if (m === null) { say(t('badCode'), true); return }
  const [, subject, secret] = m
  const { chainId, publicKey } = await nodeInfo()
  const signature = toHex(await sign(state.key, enrolStatement(chainId, publicKey, subject, state.key)))
  $('enrol').disabled = true
  try {
    await api('/v1/patient/enrol', { method: 'POST', body: { code: secret, subject, signKey: state.key.signKey, boxKey: state.key.boxKey, signature } })
    $('enrol-code').value = ''
    say(t('enrolled'))
    await refresh()
  } catch (err) {
    say(t('error') + err.message, true)
  } finally {
    $('enrol').disabled = false
  }
}

// ---- records ----

const sayCount = () => { say(state.lang === 'zh' ? `共 ${state.data.records.length} ${t('records')}` : `${state.data.records.length} ${t('records')}`) }

async function refresh () {
  say(t('loading'))
  let data
  try {
    const first = await api('/v1/patient/records', { session: true })
    data = first
    for (let next = first.next; next !== null && next !== undefined;) {
      const page = await api(`/v1/patient/records?after=${next}`, { session: true })
      data.records.push(...page.records)
      next = page.next
    }
  } catch (err) {
    $('records-section').hidden = true
    $('access-section').hidden = true
    say(err.code === 'PATIENT_NOT_ENROLLED' ? t('notEnrolled') : t('error') + err.message, err.code !== 'PATIENT_NOT_ENROLLED')
    return
  }
  state.data = data
  sayCount()
  // Enrolled at this hospital already: the enrolment form folds away (a new code re-enrols, e.g. after a lost key).
  const here = (await nodeInfo()).publicKey
  $('enrol-section').hidden = data.enrolments.some(e => e.custodian.publicKey === here)
  renderAccess(data)
  await renderRecords(data)
}

function renderAccess (data) {
  $('access-section').hidden = false
  const box = $('access')
  box.replaceChildren()
  for (const e of data.enrolments) {
    box.append(el('h3', { text: `${e.custodian.name}${t('hospitalOf')}` }))
    for (const h of data.hospitals) {
      if (h.publicKey === e.custodian.publicKey) continue
      const g = e.grants.find(x => x.grantee.publicKey === h.publicKey)
      const allowed = g?.inForce === true
      const button = el('button', { type: 'button', class: allowed ? 'secondary' : 'primary', dataset: { grantee: h.publicKey, custodian: e.custodian.publicKey, action: allowed ? 'revoke' : 'grant' }, text: allowed ? t('revoke') : t('allow') })
      button.addEventListener('click', () => { void consent(e, h, !allowed, button) })
      box.append(el('div', { class: 'who', dataset: { grantee: h.publicKey, allowed: String(allowed) } },
        el('span', {}, el('b', { text: h.name }), ' ', el('span', { class: allowed ? 'badge ok' : 'badge warn', text: allowed ? t('allowed') : t('notAllowed') }),
          g === undefined ? null : el('small', { text: ` · ${g.byPatient ? t('patientSigned') : t('hospitalSigned')}` })),
        button))
    }
  }
}

async function consent (enrolment, hospital, grant, button) {
  button.disabled = true
  try {
    const { chainId } = await nodeInfo()
    const fields = { custodian: enrolment.custodian.publicKey, grantee: hospital.publicKey, grant, types: [], notAfter: 0, issuedAt: Date.now() }
    const signature = toHex(await sign(state.key, consentStatement(chainId, enrolment.subject, fields)))
    await api('/v1/patient/consents', { method: 'POST', session: true, body: { ...fields, subject: enrolment.subject, signature } })
    say(grant ? t('grantDone') : t('revokeDone'))
    await refresh()
  } catch (err) {
    say(t('error') + err.message, true)
    button.disabled = false
  }
}

async function renderRecords (data) {
  $('records-section').hidden = false
  const box = $('records')
  box.replaceChildren()
  if (data.records.length === 0) { box.append(el('p', { class: 'muted', text: t('noRecords') })); return }
  for (const r of [...data.records].reverse()) {
    const verdict = el('span', { class: 'badge warn verify', text: t('verifying') })
    const content = el('div', { class: 'content', text: '…' })
    const log = el('ul', { class: 'log' })
    for (const a of r.access) {
      const who = `${a.node.name}${a.node.publicKey === r.custodian.publicKey ? ' ' + t('own') : ''}`
      log.append(a.kind === 'emergency'
        ? el('li', { class: 'emergency', dataset: { kind: 'emergency', node: a.node.name } }, el('b', { text: `⚠ ${who} · ${t('emergency')}` }), ` · ${when(a.timestamp)} · ${t('reason')}: `, el('q', { class: 'reason', text: a.reason }))
        : el('li', { dataset: { kind: 'read', node: a.node.name } }, el('b', { text: who }), ` ${t('read')} · ${when(a.timestamp)}`))
    }
    if (r.access.length === 0) log.append(el('li', { class: 'muted', text: t('noReads') }))
    box.append(el('article', { class: 'record', dataset: { id: r.recordId } },
      el('div', { class: 'row' }, el('h3', { text: r.type }), verdict),
      el('small', { text: `${t('custodian')} ${r.custodian.name} · ${when(r.timestamp)} · ${t('block')} #${r.height}` }),
      content, log))
    void check(r, verdict)
    void decrypt(r, content)
  }
}

async function check (r, verdict) {
  const d = state.data
  try {
    const validators = validatorsAt(r.height, d.validators)
    const result = await verifyProof(r.proof, { chainId: d.chainId, genesisHash: fromHex(d.genesisHash, 32), validators, source: 'node' })
    verdict.className = `badge verify ${result.ok ? 'ok' : 'bad'}`
    verdict.dataset.ok = String(result.ok)
    verdict.textContent = result.ok ? `✓ ${t('verified')} · ${result.signers.filter(s => s.ok).length}/${result.total}` : `✗ ${t('verifyFailed')}`
  } catch (err) {
    verdict.className = 'badge bad verify'
    verdict.dataset.ok = 'false'
    verdict.textContent = err instanceof UnsupportedError ? t('cannotVerify') : `✗ ${t('verifyFailed')}`
  }
}

async function decrypt (r, content) {
  if (r.shredded) { content.textContent = t('shredded'); content.dataset.state = 'shredded'; return }
  const wrap = r.wraps.find(w => w.deliveryKey === state.key.boxKey)
  if (wrap === undefined) { content.textContent = t('sealedNotYet'); content.dataset.state = 'pending'; return }
  try {
    const c = await openRecord(state.key, state.data.chainId, r.proof.record, wrap)
    content.textContent = c.contentType.startsWith('text/') || c.contentType === 'application/json' ? new TextDecoder().decode(c.body) : `${c.contentType}, ${c.body.length} bytes`
    content.dataset.state = 'open'
  } catch (err) {
    content.textContent = `${t('decryptFailed')}: ${err.message}`
    content.dataset.state = 'failed'
  }
}

// ---- export: the records with their proofs, checkable offline (`medledger proof verify-export`) ----

export function exportFile () {
  const d = state.data
  return JSON.stringify({
    type: 'medledger-patient-export',
    version: 1,
    chainId: d.chainId,
    genesisHash: d.genesisHash,
    exportedAt: Date.now(),
    patient: d.patient,
    validators: d.validators,
    records: d.records.map(r => ({ recordId: r.recordId, type: r.type, custodian: r.custodian, subject: r.subject, timestamp: r.timestamp, height: r.height, shredded: r.shredded, proof: r.proof, wraps: r.wraps, access: r.access }))
  }, null, 1)
}

function saveExport () {
  download(`medledger-records-${new Date().toISOString().slice(0, 10)}.json`, exportFile())
}

// ---- language ----

function applyLang () {
  document.documentElement.lang = state.lang === 'zh' ? 'zh-CN' : 'en'
  for (const e of document.querySelectorAll('[data-i18n]')) e.textContent = t(e.dataset.i18n)
  document.title = state.lang === 'zh' ? '我的病历 · My medical records' : 'My medical records · 我的病历'
  $('lang').textContent = state.lang === 'zh' ? 'EN' : '中文'
  $('enrol-code').placeholder = state.lang === 'zh' ? '登记码' : 'enrolment code'
}

// ---- start ----

$('lang').addEventListener('click', () => {
  state.lang = state.lang === 'zh' ? 'en' : 'zh'
  localStorage.setItem(LANG_STORAGE, state.lang)
  applyLang()
  if (state.data !== null) { sayCount(); renderAccess(state.data); void renderRecords(state.data) }
})
$('create-key').addEventListener('click', async () => { await setKey(await generatePatientKey(), t('created')) })
$('load-key').addEventListener('change', async (ev) => {
  const f = ev.target.files?.[0]
  if (f === undefined) return
  try { await setKey(await loadRecovery(await f.text()), t('loaded')) } catch (err) { say(t('error') + err.message, true) }
})
$('save-key').addEventListener('click', saveRecovery)
$('forget-key').addEventListener('click', async () => { if (confirm(t('forgetConfirm'))) await setKey(null, t('forgotten')) })
$('enrol').addEventListener('click', () => { void enrol() })
$('refresh').addEventListener('click', () => { void refresh() })
$('export').addEventListener('click', saveExport)

applyLang()
const stored = localStorage.getItem(KEY_STORAGE)
if (stored !== null) {
  loadRecovery(stored).then(k => setKey(k)).catch(err => { say(t('error') + err.message, true); renderKey() })
} else {
  renderKey()
}
window.medledgerPatient = { state, refresh, exportFile }
document.body.dataset.ready = 'true'
