import test from 'ava'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { readFile } from 'node:fs/promises'
import { Genesis } from '../../src/chain/genesis.ts'
import { toHex as nodeToHex } from '../../src/encoding/bytes.ts'
import { fromHex, readGenesis, toHex, validatorsAt, verifyProof, type Trust } from '../../src/api/explorer/verify.js'
import { sampleRecord, startDevnet, waitFor, waitForHeight } from '../helpers/devnet.ts'
import { setConfigKey } from '../../src/testkit/config-file.ts'
import { browserAvailable, Chromium } from '../helpers/chromium.ts'

/*
 * The explorer every node serves at GET /. The page's proof checking (verify.js) runs here under
 * Node's WebCrypto against real proofs from a devnet, tampered ones included. When Debian's
 * chromium is installed (/usr/bin/chromium, not by default; .ci/run installs it) the page is also
 * driven in a real headless browser: it loads, follows the head as it advances, and verifies a
 * proof itself. Under CI=true a missing browser fails that test instead of skipping it.
 */

/** Every string and number leaf of a JSON value, with a setter. */
function leaves (v: unknown, path: string[] = []): Array<{ path: string, value: string | number, set: (x: unknown) => void }> {
  const out: Array<{ path: string, value: string | number, set: (x: unknown) => void }> = []
  if (v !== null && typeof v === 'object') {
    for (const [k, child] of Object.entries(v as Record<string, unknown>)) {
      if ((typeof child === 'string' && child.length > 0) || typeof child === 'number') out.push({ path: [...path, k].join('.'), value: child, set: (x) => { (v as Record<string, unknown>)[k] = x } })
      else out.push(...leaves(child, [...path, k]))
    }
  }
  return out
}

function flip (s: string): string {
  const c = s[0]
  return (/[0-9a-f]/.test(c) ? (c === 'a' ? 'b' : 'a') : c === 'A' ? 'B' : 'A') + s.slice(1)
}

// Numbers a proof binds. The index of a batch in its block is informative only (docs/protocol.md
// section 7: the header does not commit to the number of batches), so batchIndex/batchCount are
// not in this list; `version` is checked on its own.
const BOUND_NUMBERS = new Set(['record.timestamp', 'batch.count', 'batch.index', 'block.header.height', 'block.header.round', 'block.header.time', 'certificate.height', 'certificate.round'])

test.serial('every node serves the explorer at / and its proof checks hold against real proofs, and fail on tampered ones', async t => {
  const [d] = await startDevnet(t, { validators: ['hospital-a'], observers: [], heartbeatMs: 500 })
  await waitForHeight([d], 1)
  const res = await d.submit([0, 1, 2, 3, 4].map(sampleRecord))
  t.is(res.status, 200)
  const ids = res.body.ids!

  const page = await fetch(`${d.api}/`)
  t.is(page.status, 200)
  t.regex(page.headers.get('content-type') ?? '', /^text\/html/)
  t.regex(page.headers.get('content-security-policy') ?? '', /default-src 'self'/)
  const html = await page.text()
  t.regex(html, /<title>Medical records ledger/)
  t.regex(html, /<script type="module" src="\/explorer\/app\.js"><\/script>/)
  for (const f of ['app.js', 'verify.js']) {
    const r = await fetch(`${d.api}/explorer/${f}`)
    t.is(r.status, 200, f)
    t.regex(r.headers.get('content-type') ?? '', /^text\/javascript/)
  }
  t.is((await fetch(`${d.api}/explorer/../package.json`)).status, 404)
  t.is((await fetch(`${d.api}/explorer/nothing.js`)).status, 404)

  // A block's records, metadata only: ids, types, sizes; never the payload.
  const blk = await (await fetch(`${d.api}/v1/blocks/${res.body.height}/records`)).json() as { batches: Array<{ author: string, records: Array<Record<string, unknown>> }> }
  const listed = blk.batches.flatMap(b => b.records)
  t.deepEqual(listed.map(r => r.id).filter(id => ids.includes(id as string)), ids)
  t.true(listed.every(r => !('payload' in r) && typeof r.payloadBytes === 'number'))
  t.is((await fetch(`${d.api}/v1/blocks/999999/records`)).status, 404)
  t.is((await fetch(`${d.api}/v1/blocks/x/records`)).status, 400)

  // The trust the page builds: the node's word (status + validators), or a genesis file.
  const status = await (await fetch(`${d.api}/v1/status`)).json() as { chainId: string, genesisHash: string }
  const validators = await (await fetch(`${d.api}/v1/validators`)).json() as Parameters<typeof validatorsAt>[1]
  const genesis = await Genesis.load(join(d.node.home, 'genesis.json'))
  const fromFile = await readGenesis(JSON.parse(await readFile(join(d.node.home, 'genesis.json'), 'utf8')))
  t.is(toHex(fromFile.hash), nodeToHex(genesis.hash))
  t.is(toHex(fromFile.hash), status.genesisHash)

  for (const id of ids) {
    const proof = await (await fetch(`${d.api}/v1/records/${id}/proof`)).json() as { block: { header: { height: number } } }
    const h = proof.block.header.height
    const byNode: Trust = { chainId: status.chainId, genesisHash: fromHex(status.genesisHash, 32), validators: validatorsAt(h, validators), source: 'node' }
    const byGenesis: Trust = { chainId: fromFile.chainId, genesisHash: fromFile.hash, validators: fromFile.validators, source: 'genesis' }
    for (const trust of [byNode, byGenesis]) {
      const r = await verifyProof(proof, trust)
      t.true(r.ok, JSON.stringify(r.steps.filter(s => !s.ok)))
      t.is(r.recordId, id)
      t.is(r.height, h)
      t.is(r.steps.length, 7)
      t.true(r.steps.every(s => s.ok))
      t.regex(r.steps.at(-1)!.text, /^Block #\d+ was signed by 1 of 1 hospitals \(1 needed\): it is final$/)
    }
  }

  // Tampering: any string field, any bound number, the signatures, the version.
  const proof = await (await fetch(`${d.api}/v1/records/${ids[3]}/proof`)).json() as Record<string, any>
  const trust: Trust = { chainId: fromFile.chainId, genesisHash: fromFile.hash, validators: fromFile.validators, source: 'genesis' }
  let tampered = 0
  for (const leaf of leaves(proof)) {
    if (typeof leaf.value === 'number' && !BOUND_NUMBERS.has(leaf.path)) continue
    const copy = structuredClone(proof)
    const target = leaves(copy).find(l => l.path === leaf.path)!
    target.set(typeof target.value === 'number' ? target.value + 1 : flip(target.value))
    const r = await verifyProof(copy, trust)
    t.false(r.ok, `tampering ${leaf.path} must fail`)
    t.true(r.steps.some(s => !s.ok && s.detail !== undefined), leaf.path)
    tampered++
  }
  t.true(tampered > 25)
  const cases: Array<[string, (p: Record<string, any>) => void]> = [
    ['no signatures', p => { p.certificate.signatures = [] }],
    ['a signature counted twice', p => { p.certificate.signatures.push(p.certificate.signatures[0]) }],
    ['another version', p => { p.version = 2 }],
    ['a missing field', p => { delete p.batch.path }],
    ['a record signed by someone else', p => { p.record.author = p.block.header.parentHash }],
    ['not an object', p => { p.block = 'x' }]
  ]
  for (const [what, change] of cases) {
    const copy = structuredClone(proof)
    change(copy)
    t.false((await verifyProof(copy, trust)).ok, what)
  }
  // Another chain's genesis: the proof is refused.
  t.false((await verifyProof(proof, { ...trust, chainId: 'another-chain' })).ok)
  t.false((await verifyProof(proof, { ...trust, genesisHash: new Uint8Array(32) })).ok)
})

/** The page's verdict on the record it looked up, once its check in the browser is done. */
async function lookupVerdict (browser: Chromium, page: string, timeoutMs?: number): Promise<string> {
  return await browser.waitFor<string>(page, '(() => { const v = document.getElementById(\'lookup-result\').dataset.verdict; return v === \'checking\' ? \'\' : v })()', timeoutMs)
}

test.serial('in headless Chromium the page loads, follows the head as it advances, and verifies a proof in the browser', async t => {
  if (!(await browserAvailable(t))) return
  const daemons = await startDevnet(t, { validators: ['hospital-a', 'hospital-b', 'hospital-c', 'ministry'], observers: [], heartbeatMs: 1000 })
  await waitForHeight(daemons, 1)
  const res = await daemons[1].submit([10, 11, 12].map(sampleRecord))
  t.is(res.status, 200)
  const browser = await Chromium.launch({ width: 1280, height: 1000 })
  t.teardown(async () => { await browser.close() })
  const errors: string[] = []
  const page = await browser.open(`${daemons[0].api}/#record=${res.body.ids![1]}`, (line) => { if (/^(exception|console\.error)/.test(line)) errors.push(line) })
  await browser.waitFor(page, 'document.body.dataset.ready === "true"')

  // The proof is checked by the page's own code, in the browser.
  const verdict = await lookupVerdict(browser, page)
  t.is(verdict, 'verified', await browser.evaluate(page, 'document.getElementById("lookup-result").innerText'))
  const text = await browser.evaluate<string>(page, 'document.getElementById("lookup-result").innerText')
  t.regex(text, /Verified in your browser/)
  t.regex(text, /signed by 3 of 4 hospitals \(3 needed\): it is final/)

  // Live: the head shown follows the chain through the event stream.
  const first = Number(await browser.waitFor<string>(page, 'document.body.dataset.headHeight'))
  await waitFor('the page to show a higher head', async () => Number(await browser.evaluate(page, 'document.body.dataset.headHeight')) >= first + 2, 20_000)
  t.regex(await browser.evaluate<string>(page, 'document.getElementById("validators").innerText'), /hospital-a[\s\S]*hospital-b|hospital-b[\s\S]*hospital-a/)
  t.regex(await browser.evaluate<string>(page, 'document.getElementById("head-final").innerText'), /Final/)

  // A block's records, opened from the record's link.
  await browser.evaluate(page, `location.hash = 'block=${res.body.height}'`)
  await browser.waitFor(page, 'document.getElementById("block-batches").innerText.includes("Batch 1")')
  t.regex(await browser.evaluate<string>(page, 'document.getElementById("block-batches").innerText'), /3 records from hospital-b/)
  await browser.screenshot(page, join(tmpdir(), 'medledger-explorer.png'))
  t.deepEqual(errors, [])
})

test.serial('in headless Chromium, a member hospital\'s own explorer says what it is, names the members, and verifies the member\'s record in the browser', async t => {
  if (!(await browserAvailable(t))) return
  const daemons = await startDevnet(t, { validators: ['hospital-a', 'hospital-b', 'hospital-c', 'ministry'], observers: [], members: ['clinic-1'], heartbeatMs: 1000 })
  const clinic = daemons[4]
  await waitForHeight(daemons, 1, 120_000)
  const res = await clinic.submit([30, 31].map(sampleRecord))
  t.is(res.status, 200, JSON.stringify(res.body))
  const browser = await Chromium.launch({ width: 1280, height: 1000 })
  t.teardown(async () => { await browser.close() })
  const errors: string[] = []
  const page = await browser.open(`${clinic.api}/#record=${res.body.ids![0]}`, (line) => { if (/^(exception|console\.error)/.test(line)) errors.push(line) })
  await browser.waitFor(page, 'document.body.dataset.ready === "true"', 60_000)
  const verdict = await lookupVerdict(browser, page, 60_000)
  t.is(verdict, 'verified', await browser.evaluate(page, 'document.getElementById("lookup-result").innerText'))
  t.regex(await browser.evaluate<string>(page, 'document.getElementById("lookup-result").innerText'), /signed by 3 of 4 hospitals/)
  await browser.waitFor(page, 'document.getElementById("head-facts").innerText.includes("member hospital")', 60_000)
  t.regex(await browser.evaluate<string>(page, 'document.getElementById("observers").innerText'), /Member hospitals[^.]*clinic-1/)
  await browser.evaluate(page, `location.hash = 'block=${res.body.height}'`)
  await browser.waitFor(page, 'document.getElementById("block-batches").innerText.includes("Batch 1")', 60_000)
  t.regex(await browser.evaluate<string>(page, 'document.getElementById("block-batches").innerText'), /2 records from clinic-1/)
  t.deepEqual(errors, [])
})

test.serial('in headless Chromium, a node that requires read tokens shows nothing until the page is given the read token, then shows and follows the ledger', async t => {
  if (!(await browserAvailable(t))) return
  let readToken = ''
  const [d] = await startDevnet(t, { validators: ['hospital-a'], observers: [], heartbeatMs: 500 }, async (layout) => {
    await setConfigKey(layout.nodes[0].home, 'require_read_token', 'true')
    readToken = layout.nodes[0].tokens?.read ?? ''
  })
  t.not(readToken, '')
  await waitForHeight([d], 1)
  const res = await d.submit([20, 21].map(sampleRecord))
  t.is(res.status, 200)
  t.is((await fetch(`${d.api}/v1/blocks`)).status, 401)

  const browser = await Chromium.launch({ width: 1280, height: 1000 })
  t.teardown(async () => { await browser.close() })
  const errors: string[] = []
  const page = await browser.open(`${d.api}/#record=${res.body.ids![0]}`, (line) => { if (/^exception/.test(line)) errors.push(line) })
  await browser.waitFor(page, '!document.getElementById("token-form").hidden')
  t.regex(await browser.evaluate<string>(page, 'document.getElementById("token-message").innerText'), /read token/)
  t.is(await browser.evaluate(page, 'document.getElementById("blocks").children.length'), 0)

  // A wrong token is refused and asked again; the right one shows the ledger and the live head.
  const enter = async (token: string): Promise<void> => {
    await browser.evaluate(page, `(() => { document.getElementById('token-input').value = ${JSON.stringify(token)}; document.getElementById('token-form').requestSubmit() })()`)
  }
  await enter('not-the-token')
  await browser.waitFor(page, '!document.getElementById("token-form").hidden && document.getElementById("token-message").innerText.includes("refused")')
  await enter(readToken)
  await browser.waitFor(page, 'document.body.dataset.ready === "true"', 60_000)
  t.true(await browser.evaluate<boolean>(page, 'document.getElementById("token-form").hidden'))
  const verdict = await lookupVerdict(browser, page, 60_000)
  t.is(verdict, 'verified', await browser.evaluate(page, 'document.getElementById("lookup-result").innerText'))
  const first = Number(await browser.waitFor<string>(page, 'document.body.dataset.headHeight'))
  await waitFor('the page to follow the head through the event stream', async () => Number(await browser.evaluate(page, 'document.body.dataset.headHeight')) >= first + 2, 60_000)
  t.regex(await browser.evaluate<string>(page, 'document.getElementById("live-text").innerText'), /live/i)
  // The token lives in this tab's sessionStorage, not in the URL or localStorage.
  t.is(await browser.evaluate(page, 'localStorage.length'), 0)
  t.false((await browser.evaluate<string>(page, 'location.href')).includes(readToken))
  t.deepEqual(errors, [])
})
