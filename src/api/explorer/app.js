// The explorer page: plain DOM, no framework. Reads the node's JSON API, follows /v1/events, and
// checks record proofs in the browser with verify.js. Everything shown is built with textContent:
// nothing from the ledger is ever parsed as HTML.
import { fromHex, readGenesis, toHex, UnsupportedError, validatorsAt, verifyProof } from './verify.js'

const WINDOW = 100 // blocks over which participation is counted (five pages of the API)
const RECENT = 20 // a hospital with no signature or proposal in this many blocks is flagged

const state = {
  status: null,
  validators: null, // GET /v1/validators
  names: new Map(), // public key hex -> name
  blocks: [], // summaries, newest first
  selected: null,
  genesis: null, // a genesis file the user chose: { chainId, hash, validators }
  live: false
}

// ---- small helpers ----

const $ = (id) => document.getElementById(id)

function el (tag, attrs = {}, ...children) {
  const e = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue
    if (k === 'class') e.className = v
    else if (k === 'text') e.textContent = v
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v)
    else e.setAttribute(k, v === true ? '' : String(v))
  }
  for (const c of children.flat()) if (c !== undefined && c !== null && c !== false) e.append(c instanceof Node ? c : document.createTextNode(String(c)))
  return e
}

const clear = (node, ...children) => { node.replaceChildren(...children.flat().filter(c => c !== undefined && c !== null && c !== false)) }

// A node that requires read tokens (api.require_read_token) answers the data routes with 401: the
// page then asks for the token and keeps it in this tab's sessionStorage only (gone when the tab
// closes; never in a URL, never in localStorage), and sends it as a bearer token.
const TOKEN_KEY = 'medledger.readToken'
const readToken = () => sessionStorage.getItem(TOKEN_KEY) ?? ''
const authHeaders = () => readToken() === '' ? {} : { authorization: `Bearer ${readToken()}` }

async function api (path) {
  const res = await fetch(path, { headers: { accept: 'application/json', ...authHeaders() } })
  const body = await res.json().catch(() => ({}))
  if (!res.ok) {
    const err = new Error(body?.error?.message ?? `the node answered ${res.status}`)
    err.status = res.status
    throw err
  }
  return body
}

const short = (hex) => `${hex.slice(0, 8)}…${hex.slice(-4)}`
const plural = (n, word, many = word + 's') => `${n.toLocaleString()} ${n === 1 ? word : many}`
const nameOf = (hex) => state.names.get(hex) ?? `unknown node ${short(hex)}`
const fullDate = (ms) => new Date(ms).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' })

function ago (ms) {
  const s = Math.round((Date.now() - ms) / 1000)
  if (s < 5) return 'just now'
  if (s < 60) return `${s} seconds ago`
  if (s < 3600) return `${plural(Math.floor(s / 60), 'minute')} ago`
  if (s < 86400) return `${plural(Math.floor(s / 3600), 'hour')} ago`
  return `on ${fullDate(ms)}`
}

/** A time element kept up to date by the ticker below. */
const timeEl = (ms) => el('span', { 'data-time': ms, title: fullDate(ms), text: ago(ms) })
setInterval(() => { for (const e of document.querySelectorAll('[data-time]')) e.textContent = ago(Number(e.dataset.time)) }, 5000)

function setCount () {
  const v = state.validators
  return v === null ? 0 : v.validators.length
}
function quorumNeeded () {
  return state.validators?.quorum ?? 1
}

// ---- data ----

function summaryFromApi (b) {
  return {
    height: b.header.height,
    hash: b.hash,
    time: b.header.time,
    round: b.header.round,
    proposer: b.header.proposer,
    records: b.recordCount,
    signers: (b.certificate?.signatures ?? []).map(s => s.validator)
  }
}

function summaryFromEvent (d) {
  return { height: d.height, hash: d.hash, time: d.time, round: d.round, proposer: d.proposer, records: d.records, signers: d.signers ?? [] }
}

async function loadValidators () {
  state.validators = await api('/v1/validators')
  for (const m of state.validators.validators) state.names.set(m.publicKey, m.name)
  for (const c of state.validators.changes ?? []) if (!state.names.has(c.publicKey)) state.names.set(c.publicKey, c.name)
  for (const m of state.validators.observers ?? []) if (!state.names.has(m.publicKey)) state.names.set(m.publicKey, m.name)
  for (const m of state.validators.members ?? []) if (!state.names.has(m.publicKey)) state.names.set(m.publicKey, m.name)
}

async function loadBlocks () {
  // The API serves at most 20 blocks a page, newest first; `next` continues below the last one.
  const blocks = []
  let page = await api('/v1/blocks')
  blocks.push(...page.blocks)
  while (blocks.length < WINDOW && page.next !== null && page.next !== undefined) {
    page = await api(`/v1/blocks?before=${page.next}`)
    blocks.push(...page.blocks)
  }
  state.blocks = blocks.slice(0, WINDOW).map(summaryFromApi)
}

async function loadStatus () {
  state.status = await api('/v1/status')
}

// ---- rendering ----

function renderHeader () {
  const s = state.status
  if (s === null) return
  $('chain').textContent = `${s.chainId} · genesis ${short(s.genesisHash)}`
  $('chain').title = `genesis hash ${s.genesisHash}`
  $('live-dot').className = `dot ${state.live ? 'on' : 'off'}`
  $('live-text').textContent = state.live ? 'live' : 'reconnecting…'
}

function renderHead () {
  const head = state.blocks[0]
  const s = state.status
  if (head === undefined) {
    $('head-height').textContent = 'none yet'
    clear($('head-final'), el('span', { class: 'badge grey', text: 'waiting for the first block' }))
    return
  }
  document.body.dataset.headHeight = String(head.height)
  $('head-height').textContent = `#${head.height.toLocaleString()}`
  const n = setCount()
  const q = quorumNeeded()
  const final = head.signers.length >= q
  clear($('head-final'),
    el('span', { class: `badge ${final ? 'ok' : 'warn'}`, text: final ? 'Final' : 'Not final' }), ' ',
    el('span', { text: `signed by ${head.signers.length} of ${plural(n, 'hospital')} (${q} needed)` }))
  const recent = state.blocks.reduce((k, b) => k + b.records, 0)
  const me = s === null ? undefined : state.validators?.validators.find(v => v.peerId === s.peerId)
  const role = s === null ? '' : me !== undefined ? `a hospital node (${me.name})` : s.role === 'observer' ? 'a read-only observer copy' : s.role === 'member' ? 'a member hospital (writes its own records, does not sign blocks)' : 'a node'
  clear($('head-facts'),
    el('span', {}, 'Written ', el('b', {}, timeEl(head.time))),
    el('span', {}, el('b', { text: recent.toLocaleString() }), ` records in the last ${plural(state.blocks.length, 'block')}`),
    s === null ? null : el('span', {}, 'This page is served by ', el('b', { text: role })),
    s === null ? null : el('span', {}, 'connected to ', el('b', { text: plural(s.peers, 'other node') })))
}

function renderValidators () {
  const v = state.validators
  if (v === null) return
  const window = state.blocks.slice(0, WINDOW)
  const n = v.validators.length
  $('validators-sub').textContent = `A block is final once ${v.quorum} of these ${plural(n, 'hospital')} sign it. Each block keeps the first ${v.quorum} signatures that arrive, so an active hospital need not appear in every block. Counts over the last ${plural(window.length, 'block')}.`
  const recent = window.slice(0, RECENT)
  clear($('validators'), v.validators.map(m => {
    const proposed = window.filter(b => b.proposer === m.publicKey).length
    const signed = window.filter(b => b.signers.includes(m.publicKey)).length
    const seenRecently = recent.some(b => b.proposer === m.publicKey || b.signers.includes(m.publicKey))
    const pct = window.length === 0 ? 0 : signed / window.length
    const status = window.length === 0
      ? el('span', { class: 'badge grey', text: '—' })
      : seenRecently
        ? el('span', { class: 'badge ok', text: 'Active' })
        : signed + proposed > 0
          ? el('span', { class: 'badge warn', text: 'Not seen lately', title: `no signature or proposal in the last ${recent.length} blocks` })
          : el('span', { class: 'badge bad', text: 'Not signing', title: `no signature or proposal in the last ${window.length} blocks` })
    return el('tr', {},
      el('td', {}, el('div', { text: m.name }), el('div', { class: 'mono muted', title: m.publicKey, text: short(m.peerId ?? m.publicKey) })),
      el('td', { class: 'num', text: proposed.toLocaleString() }),
      el('td', {},
        el('div', { class: `bar ${pct === 0 ? 'none' : seenRecently ? '' : 'low'}`, title: `${Math.round(pct * 100)}%` }, el('span', { style: `width:${Math.round(pct * 100)}%` })),
        el('div', { class: 'muted', text: `${signed} of ${window.length} blocks` })),
      el('td', {}, status))
  }))
  const parts = []
  if ((v.members ?? []).length > 0) parts.push(`Member hospitals (write their own records, do not sign blocks): ${v.members.map(m => m.name).join(', ')}.`)
  if ((v.observers ?? []).length > 0) parts.push(`Read-only copies (observers, e.g. regulators): ${v.observers.map(o => o.name).join(', ')}.`)
  for (const c of v.changes ?? []) parts.push(`${c.name} ${c.action === 'add' ? 'joined' : 'left'} the signing hospitals from block #${c.effective} (decided in block #${c.includedAt}).`)
  $('observers').textContent = parts.join(' ')
}

function blockRow (b, fresh) {
  const n = setCount()
  const q = quorumNeeded()
  const final = b.signers.length >= q
  return el('tr', { class: [fresh ? 'fresh' : '', state.selected === b.height ? 'selected' : ''].join(' ').trim() || undefined, 'data-height': b.height, onclick: () => { location.hash = `block=${b.height}` } },
    el('td', {}, el('b', { text: `#${b.height.toLocaleString()}` })),
    el('td', {}, timeEl(b.time)),
    el('td', { class: 'num', text: b.records === 0 ? '—' : b.records.toLocaleString() }),
    el('td', { text: nameOf(b.proposer) }),
    el('td', { text: `${b.signers.length} of ${n}` }),
    el('td', {}, el('span', { class: `badge ${final ? 'ok' : 'warn'}`, text: final ? 'Final' : 'Not final' })))
}

function renderBlocks (freshHeight) {
  if (state.blocks.length === 0) {
    clear($('blocks'), el('tr', {}, el('td', { colspan: 6, class: 'empty', text: 'No blocks yet.' })))
    return
  }
  clear($('blocks'), state.blocks.map(b => blockRow(b, b.height === freshHeight)))
}

function renderAll (freshHeight) {
  renderHeader()
  renderHead()
  renderValidators()
  renderBlocks(freshHeight)
}

// ---- one block ----

async function showBlock (height) {
  state.selected = height
  for (const tr of $('blocks').children) tr.classList.toggle('selected', Number(tr.dataset.height) === height)
  const section = $('block-section')
  section.hidden = false
  $('block-title').textContent = `Block #${height.toLocaleString()}`
  $('block-sub').textContent = 'loading…'
  clear($('block-facts'))
  clear($('block-batches'))
  let b, recs
  try {
    [b, recs] = await Promise.all([api(`/v1/blocks/${height}`), api(`/v1/blocks/${height}/records`)])
  } catch (err) {
    $('block-sub').textContent = err.status === 404 ? 'This node has no final block at that height.' : `Could not load the block: ${err.message}`
    return
  }
  if (state.selected !== height) return
  const signers = (b.certificate?.signatures ?? []).map(s => s.validator)
  const n = setCount()
  const q = quorumNeeded()
  $('block-sub').textContent = signers.length >= q
    ? `Final — signed by ${signers.length} of ${plural(n, 'hospital')} (${q} needed). It can no longer change.`
    : `Signed by ${signers.length} of ${plural(n, 'hospital')}; ${q} are needed.`
  const h = b.header
  const facts = [
    ['Written', fullDate(h.time)],
    ['Proposed by', nameOf(h.proposer)],
    ['Signed by', signers.map(nameOf).join(', ') || '—'],
    ['Records', b.recordCount === 0 ? 'none' : `${b.recordCount.toLocaleString()} in ${plural(b.batches.length, 'batch', 'batches')}`],
    ['Agreement', h.round === 0 ? 'reached at the first attempt' : `reached at attempt ${h.round + 1} (earlier attempts timed out)`],
    ['Block fingerprint', el('span', { class: 'mono', text: b.hash })],
    ['Previous block', h.height === 1 ? 'none (this is the first block)' : el('button', { class: 'link', type: 'button', onclick: () => { location.hash = `block=${h.height - 1}` }, text: `#${(h.height - 1).toLocaleString()}` })]
  ]
  if (b.evidence.length > 0) facts.push(['Misbehaviour reports', `${b.evidence.length} recorded in this block (see below)`])
  clear($('block-facts'), facts.flatMap(([k, v]) => [el('dt', { text: k }), el('dd', {}, v)]))
  if (recs.batches.length === 0) {
    clear($('block-batches'), el('p', { class: 'empty', text: 'No records in this block. When no records arrive the hospitals still sign an empty block at a steady pace, so anyone can see that the ledger is running.' }))
  } else {
    clear($('block-batches'), recs.batches.map(batch => el('div', { class: 'batch' },
      el('h3', { text: `Batch ${batch.index + 1}: ${plural(batch.records.length, 'record')} from ${nameOf(batch.author)}, signed together` }),
      el('table', {},
        el('thead', {}, el('tr', {}, ['Record id', 'Type', 'Patient (pseudonym)', 'Format', 'Size', 'Written', ''].map(t => el('th', { text: t })))),
        el('tbody', {}, batch.records.map(r => el('tr', {},
          el('td', { class: 'mono', title: r.id, text: short(r.id) }),
          el('td', { text: r.type }),
          el('td', { class: 'mono', title: r.subject, text: short(r.subject) }),
          el('td', { text: r.contentType }),
          el('td', { class: 'num', text: `${r.payloadBytes.toLocaleString()} B` }),
          el('td', { title: fullDate(r.timestamp), text: fullDate(r.timestamp) }),
          el('td', {}, el('button', { class: 'link', type: 'button', onclick: () => { location.hash = `record=${r.id}` }, text: 'Check' })))))))),
    el('p', { class: 'note', text: 'Record contents are encrypted by the hospital that wrote them and are never shown here.' }))
  }
  section.scrollIntoView({ behavior: 'smooth', block: 'start' })
}

// ---- record lookup and proof ----

async function trustFor (height) {
  const g = state.genesis
  // With a genesis file the proof is checked against it alone: the proof carries the proven
  // validator-set changes up to its block.
  if (g !== null) return { chainId: g.chainId, genesisHash: g.hash, validators: g.validators, members: g.members, governanceDelay: g.params.governanceDelay, source: 'genesis' }
  // The node's word: the members it reports in force now (a member removed since is not among them).
  const members = (state.validators.members ?? []).map(m => ({ name: m.name, publicKey: fromHex(m.publicKey, 32) }))
  return { chainId: state.status.chainId, genesisHash: fromHex(state.status.genesisHash, 32), validators: validatorsAt(height, state.validators), members, source: 'node' }
}

async function lookup (id) {
  const out = $('lookup-result')
  id = id.trim().toLowerCase()
  $('lookup-id').value = id
  if (!/^[0-9a-f]{64}$/.test(id)) {
    out.dataset.verdict = 'invalid'
    clear(out, el('p', { class: 'error', text: 'A record id is 64 characters: digits 0-9 and letters a-f.' }))
    return
  }
  $('lookup-button').disabled = true
  out.dataset.verdict = 'checking'
  clear(out, el('p', { class: 'muted', text: 'Fetching the proof and checking it…' }))
  try {
    let proof
    try {
      proof = await api(`/v1/records/${id}/proof`)
    } catch (err) {
      out.dataset.verdict = 'missing'
      clear(out, el('p', { class: 'error', text: err.status === 404 ? 'This node has no final record with that id. It may not be final yet, or the id may be mistyped.' : `Could not fetch the proof: ${err.message}` }))
      return
    }
    const height = Number(proof?.block?.header?.height)
    let result
    try {
      result = await verifyProof(proof, await trustFor(Number.isSafeInteger(height) ? height : 0))
    } catch (err) {
      if (!(err instanceof UnsupportedError)) throw err
      out.dataset.verdict = 'unsupported'
      clear(out, el('div', { class: 'verdict warn' }, 'Your browser cannot check the digital signatures.', el('small', { text: err.message })))
      return
    }
    out.dataset.verdict = result.ok ? 'verified' : 'failed'
    renderProof(out, proof, result)
  } finally {
    $('lookup-button').disabled = false
  }
}

function renderProof (out, proof, result) {
  const r = proof.record
  const size = Math.floor(r.payload.length / 4) * 3 - (r.payload.endsWith('==') ? 2 : r.payload.endsWith('=') ? 1 : 0)
  const h = proof.block.header.height
  const verdict = result.ok
    ? el('div', { class: 'verdict ok' }, '✓ Verified in your browser: this record is permanently in the ledger.',
      el('small', { text: `It is in block #${h}, which ${result.signers.filter(s => s.ok).length} of ${plural(result.total, 'hospital')} signed (${result.quorum} needed). Nobody can change or remove it without the change being detected.` }))
    : el('div', { class: 'verdict bad' }, '✗ This proof does not hold.',
      el('small', { text: 'Do not rely on this record as shown. The check that failed is marked below.' }))
  const facts = [
    ['Record id', el('span', { class: 'mono', text: proof.recordId })],
    ['Type', r.type],
    ['Patient (pseudonym)', el('span', { class: 'mono', text: r.subject })],
    ['Written by', nameOf(r.author)],
    ['Written', fullDate(r.timestamp)],
    ['Contents', `${size.toLocaleString()} bytes of ${r.contentType}, encrypted — not shown`],
    ['In block', el('button', { class: 'link', type: 'button', onclick: () => { location.hash = `block=${h}` }, text: `#${h.toLocaleString()}` })]
  ]
  const source = result.source === 'genesis'
    ? `Checked against the genesis file you chose${result.governanceChanges > 0 ? `, following ${plural(result.governanceChanges, 'membership change')} proven in the ledger` : ''}.`
    : 'Checked against the hospitals’ keys this node publishes. For a fully independent check, choose the ledger’s genesis file above, or run “medledger proof verify --genesis genesis.json proof.json”.'
  clear(out,
    verdict,
    el('dl', { class: 'kv' }, facts.flatMap(([k, v]) => [el('dt', { text: k }), el('dd', {}, v)])),
    el('ol', { class: 'steps' }, result.steps.map(s => el('li', { class: s.ok ? 'ok' : 'bad' }, s.text, s.ok || s.detail === undefined ? null : el('span', { class: 'why', text: `Problem: ${s.detail}` })))),
    el('p', { class: 'note' }, source, ' ', el('a', { href: `/v1/records/${proof.recordId}/proof`, download: `proof-${proof.recordId.slice(0, 16)}.json`, text: 'Download the proof' }), '.'))
}

async function chooseGenesis (file) {
  const status = $('genesis-status')
  try {
    const g = await readGenesis(JSON.parse(await file.text()))
    state.genesis = g
    const matches = state.status !== null && g.chainId === state.status.chainId && toHex(g.hash) === state.status.genesisHash
    clear(status, matches
      ? el('span', { class: 'badge ok', text: `Genesis file matches this ledger (${g.chainId}, ${short(toHex(g.hash))})` })
      : el('span', { class: 'badge bad', text: `This genesis file (${g.chainId}, ${short(toHex(g.hash))}) is not the one this node runs: proofs from it will fail` }))
  } catch (err) {
    state.genesis = null
    clear(status, el('span', { class: 'badge bad', text: `Not a genesis file: ${err.message}` }))
  }
  const id = $('lookup-id').value
  if (/^[0-9a-f]{64}$/.test(id.trim())) await lookup(id)
}

// ---- evidence ----

async function renderEvidence () {
  let ev
  try {
    ev = await api('/v1/evidence')
  } catch (err) {
    clear($('evidence'), el('p', { class: 'error', text: `Could not load the reports: ${err.message}` }))
    return
  }
  const items = [...ev.committed.map(e => ({ ...e, state: `recorded in block #${e.includedAt}` })), ...ev.pending.map(e => ({ ...e, state: 'reported, waiting to be recorded in a block' }))]
  if (items.length === 0) {
    clear($('evidence'), el('p', { class: 'empty', text: 'No misbehaviour has been reported: every hospital’s node has followed the rules.' }))
    return
  }
  clear($('evidence'), el('table', {},
    el('thead', {}, el('tr', {}, ['Hospital', 'What happened', 'Status', ''].map(t => el('th', { text: t })))),
    el('tbody', {}, items.map(e => el('tr', {},
      el('td', { text: nameOf(e.validator) }),
      el('td', {
        text: e.kind === 'vote'
          ? `signed two conflicting ${e.a.type} votes for block #${e.height} (attempt ${e.round + 1})`
          : `proposed two different blocks for block #${e.height} (attempt ${e.round + 1})`
      }),
      el('td', {}, el('span', { class: `badge ${e.includedAt === undefined ? 'warn' : 'bad'}`, text: e.state })),
      el('td', {}, el('details', {}, el('summary', { text: 'signed messages' }), el('pre', { class: 'mono', text: JSON.stringify({ a: e.a, b: e.b }, null, 2) }))))))))
}

// ---- live updates ----

let resyncing = false
async function resync () {
  if (resyncing) return
  resyncing = true
  try {
    await Promise.all([loadStatus(), loadValidators(), loadBlocks()])
    renderAll()
  } catch (err) {
    console.warn('resync failed', err)
  } finally {
    resyncing = false
  }
}

/**
 * Follows GET /v1/events (server-sent events) with fetch rather than EventSource, which cannot send
 * the read token. Reconnects after a pause when the stream ends or fails; `on[event](data)` is
 * called for each event.
 */
async function followEvents (on) {
  for (;;) {
    try {
      const res = await fetch('/v1/events', { headers: { accept: 'text/event-stream', ...authHeaders() } })
      if (!res.ok || res.body === null) throw new Error(`the node answered ${res.status}`)
      state.live = true
      renderHeader()
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
      let buffered = ''
      for (;;) {
        const { value, done } = await reader.read()
        if (done) break
        buffered += value
        let end
        while ((end = buffered.indexOf('\n\n')) >= 0) {
          const frame = buffered.slice(0, end)
          buffered = buffered.slice(end + 2)
          let event = 'message'
          const data = []
          for (const line of frame.split('\n')) {
            if (line.startsWith('event:')) event = line.slice(6).trim()
            else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''))
          }
          if (data.length > 0) on[event]?.(data.join('\n'))
        }
      }
    } catch (err) {
      console.warn('event stream:', err.message)
    }
    state.live = false
    renderHeader()
    await new Promise(resolve => setTimeout(resolve, 3000))
  }
}

function connect () {
  void followEvents({
    status: (data) => {
      state.status = JSON.parse(data)
      state.live = true
      // After a reconnect, blocks may have been missed.
      if ((state.blocks[0]?.height ?? 0) < state.status.height) void resync()
      else renderAll()
    },
    block: (data) => {
      const b = summaryFromEvent(JSON.parse(data))
      const head = state.blocks[0]?.height ?? 0
      if (b.height <= head) return
      if (b.height !== head + 1) { void resync(); return }
      state.blocks.unshift(b)
      state.blocks.length = Math.min(state.blocks.length, WINDOW)
      if (state.status !== null) { state.status.height = b.height; state.status.headHash = b.hash }
      renderAll(b.height)
    }
  })
}

/** Asks for the node's read token (this node requires one to show its data); resolves once given. */
async function askForToken (message) {
  const form = $('token-form')
  $('token-message').textContent = message
  form.hidden = false
  $('token-input').focus()
  await new Promise(resolve => {
    form.addEventListener('submit', (e) => {
      e.preventDefault()
      sessionStorage.setItem(TOKEN_KEY, $('token-input').value.trim())
      $('token-input').value = ''
      form.hidden = true
      resolve()
    }, { once: true })
  })
}

// ---- routing: #block=H and #record=ID ----

async function route () {
  const m = /^#(block|record)=([0-9a-fA-F]+)$/.exec(location.hash)
  if (m === null) return
  if (m[1] === 'block') await showBlock(Number(m[2]))
  else {
    $('lookup-section').scrollIntoView({ behavior: 'smooth', block: 'start' })
    await lookup(m[2])
  }
}

async function main () {
  $('lookup-form').addEventListener('submit', (e) => {
    e.preventDefault()
    const id = $('lookup-id').value.trim().toLowerCase()
    if (location.hash === `#record=${id}`) void lookup(id)
    else location.hash = `record=${id}`
  })
  $('genesis-file').addEventListener('change', (e) => { const f = e.target.files?.[0]; if (f !== undefined) void chooseGenesis(f) })
  window.addEventListener('hashchange', () => { void route() })
  for (;;) {
    try {
      await Promise.all([loadStatus(), loadValidators(), loadBlocks()])
      break
    } catch (err) {
      if (err.status === 401) {
        await askForToken(readToken() === ''
          ? 'This node shows its ledger only to holders of its read token. Ask the node’s operator for it (the file api.read.token).'
          : 'The node refused that token. Enter the read token again.')
        continue
      }
      clear($('head-final'), el('span', { class: 'error', text: `Cannot reach this node’s API: ${err.message}` }))
      return
    }
  }
  renderAll()
  $('footer').textContent = `medledger explorer · chain ${state.status.chainId} · this node’s id ${state.status.peerId}`
  connect()
  void renderEvidence()
  setInterval(() => { void renderEvidence() }, 30_000)
  setInterval(() => { void loadStatus().then(renderHead, () => {}) }, 15_000)
  setInterval(() => { void loadValidators().then(renderValidators, () => {}) }, 60_000)
  document.body.dataset.ready = 'true'
  await route()
}

void main()
