import test from 'ava'
import { randomBytes } from 'node:crypto'
import { toHex } from '../../../src/encoding/bytes.ts'
import { DEFAULT_INDEX_LIMITS, PrivacyIndex } from '../../../src/privacy/ledger-index.ts'

const k = (): Uint8Array => new Uint8Array(randomBytes(32))
const a = k()
const b = k()
const c = k()
const subject = k()
const pos = (height: number): { height: number, batch: number, index: number } => ({ height, batch: 0, index: 0 })
const grant = (ix: PrivacyIndex, custodian: Uint8Array, grantee: Uint8Array, height: number, extra: { types?: string[], notAfter?: number } = {}): void => {
  ix.applyGrant({ custodian: toHex(custodian), subject: toHex(subject), grantee: toHex(grantee), types: extra.types ?? [], notAfter: extra.notAfter ?? 0, consentHash: '', recordId: toHex(k()), height, timestamp: 0 })
}

test('a grant is in force only from the custodian, for its subject and grantee, until revoked', t => {
  const ix = new PrivacyIndex('00')
  t.is(ix.grantInForce(a, subject, b, 'consultation', 1), undefined)
  grant(ix, a, b, 1)
  t.truthy(ix.grantInForce(a, subject, b, 'consultation', 1))
  t.is(ix.grantInForce(c, subject, b, 'consultation', 1), undefined, 'another custodian\'s records are not opened')
  t.is(ix.grantInForce(a, k(), b, 'consultation', 1), undefined, 'another subject is not opened')
  t.is(ix.grantInForce(a, subject, c, 'consultation', 1), undefined, 'another grantee is not opened')
  // A grantee cannot grant itself another custodian's records: the custodian is the grant's author.
  grant(ix, b, b, 2)
  t.is(ix.grantInForce(c, subject, b, 'consultation', 1), undefined)
  ix.applyRevoke({ custodian: toHex(a), subject: toHex(subject), grantee: toHex(b), recordId: toHex(k()), height: 3, timestamp: 0 })
  t.is(ix.grantInForce(a, subject, b, 'consultation', 1), undefined)
  grant(ix, a, b, 4)
  t.truthy(ix.grantInForce(a, subject, b, 'consultation', 1), 'a later grant is in force again')
})

test('grants can be limited to record types and lapse at notAfter', t => {
  const ix = new PrivacyIndex('00')
  grant(ix, a, b, 1, { types: ['lab-result'], notAfter: 1000 })
  t.truthy(ix.grantInForce(a, subject, b, 'lab-result', 999))
  t.is(ix.grantInForce(a, subject, b, 'consultation', 999), undefined)
  t.is(ix.grantInForce(a, subject, b, 'lab-result', 1000), undefined)
})

test('delivery keys: genesis, then announcements; history remembers every key; shreds count once; snapshot round-trips', t => {
  const ea = k()
  const ix = PrivacyIndex.fromGenesis(new Uint8Array(32), [{ publicKey: a, encryptionKey: ea }, { publicKey: b }])
  t.is(ix.deliveryKeyOf(a)?.key, toHex(ea))
  t.is(ix.deliveryKeyOf(b), undefined)
  const ea2 = k()
  ix.applyAnnounce(a, ea2, k(), pos(5))
  t.is(ix.deliveryKeyOf(a)?.key, toHex(ea2))
  t.true(ix.wasPublished(a, toHex(ea)))
  t.false(ix.wasPublished(b, toHex(ea)))
  const r = toHex(k())
  t.true(ix.applyShred({ recordId: r, by: toHex(a), shredRecordId: toHex(k()), reason: '', height: 6, timestamp: 0 }))
  t.false(ix.applyShred({ recordId: r, by: toHex(b), shredRecordId: toHex(k()), reason: '', height: 7, timestamp: 0 }))
  t.is(ix.shredOf(r)?.by, toHex(a))
  ix.applyRead({ accessRecordId: toHex(k()), recordId: r, subject: toHex(subject), node: toHex(b), reader: 'dr-x', height: 6, timestamp: 1 })
  grant(ix, a, b, 6)
  ix.height = 7
  const again = PrivacyIndex.fromJson(JSON.parse(JSON.stringify(ix.toJson())))
  t.deepEqual(again.toJson(), ix.toJson())
  t.is(again.accessLog({ recordId: r }).length, 1)
  t.truthy(again.grantInForce(a, subject, b, 'x', 0))
})

// Issue 13, item 3: on 30150e2 every grant and read record stayed in memory for ever, so one
// author writing grant or read records without end grew every node's index without bound.
const small = { grantsPerAuthor: 10, grantBytesPerAuthor: 1 << 20, readsPerAuthor: 10, readBytesPerAuthor: 1 << 20, keyHistoryPerNode: 4, enrolmentsPerAuthor: 10, emergenciesPerAuthor: 10 }
const read = (ix: PrivacyIndex, node: Uint8Array, reader = 'dr-x'): string => {
  const id = toHex(k())
  ix.applyRead({ accessRecordId: id, recordId: toHex(k()), subject: toHex(subject), node: toHex(node), reader, height: 1, timestamp: 0 })
  return id
}

test('a custodian flooding grants loses only its own oldest ones; the others\' grants stay in force', t => {
  const ix = new PrivacyIndex('00', small)
  grant(ix, a, b, 1)
  const honest = [k(), k(), k()]
  for (const g of honest) ix.applyGrant({ custodian: toHex(a), subject: toHex(subject), grantee: toHex(g), types: [], notAfter: 0, consentHash: '', recordId: toHex(k()), height: 1, timestamp: 0 })
  // The attacker c grants access to its own records, to 1,000 made-up grantees.
  const grantees = Array.from({ length: 1000 }, () => k())
  for (const g of grantees) grant(ix, c, g, 2)
  t.is(ix.grantList({ custodian: toHex(c) }).length, 10, 'c keeps its share (10) and no more')
  t.is(ix.stats().evictedGrants, 990)
  t.truthy(ix.grantInForce(c, subject, grantees[999], 'x', 0), 'its newest grant is there')
  t.is(ix.grantInForce(c, subject, grantees[0], 'x', 0), undefined, 'its oldest is gone: fails closed (no read), like a revocation')
  t.truthy(ix.grantInForce(a, subject, b, 'x', 0), 'a\'s grants are untouched')
  for (const g of honest) t.truthy(ix.grantInForce(a, subject, g, 'x', 0))
  t.is(ix.stats().grants, 14)
})

test('grants are bounded in bytes per custodian too (a grant can list many types)', t => {
  const ix = new PrivacyIndex('00', { ...small, grantsPerAuthor: 1_000_000, grantBytesPerAuthor: 64 * 1024 })
  const types = Array.from({ length: 100 }, (_, i) => `record-type-${i}`.padEnd(64, 'x'))
  for (let i = 0; i < 500; i++) grant(ix, c, k(), 1, { types })
  grant(ix, a, b, 1, { types })
  t.true(ix.stats().grantBytes <= 2 * 64 * 1024, `${ix.stats().grantBytes} bytes`)
  t.true(ix.grantList({ custodian: toHex(c) }).length < 20)
  t.truthy(ix.grantInForce(a, subject, b, types[0], 0))
})

test('re-granting moves an entry to the newest: a custodian\'s live grants outlast its churn', t => {
  const ix = new PrivacyIndex('00', small)
  grant(ix, a, b, 1)
  for (let i = 0; i < 9; i++) grant(ix, a, k(), 2)
  grant(ix, a, b, 3) // renewed: now the newest
  grant(ix, a, k(), 4) // over the share: the oldest other one goes, not b's
  t.truthy(ix.grantInForce(a, subject, b, 'x', 0))
  t.is(ix.grantList({ custodian: toHex(a) }).length, 10)
})

test('the access log keeps each author\'s newest reads within its share, in chain order; a flood pushes out only the flooder\'s', t => {
  const ix = new PrivacyIndex('00', small)
  const mine = [read(ix, a), read(ix, a)]
  for (let i = 0; i < 1000; i++) read(ix, c, 'x'.repeat(1000))
  const last = read(ix, a)
  const log = ix.accessLog()
  t.is(log.length, 13)
  t.deepEqual(ix.accessLog({ node: toHex(a) }).map(e => e.accessRecordId), [...mine, last], 'a\'s reads all kept, in order')
  t.is(ix.accessLog({ node: toHex(c) }).length, 10)
  t.is(log[log.length - 1].accessRecordId, last, 'chain order across authors')
  t.is(ix.stats().evictedReads, 990)
  const bytes = new PrivacyIndex('00', { ...small, readsPerAuthor: 1_000_000, readBytesPerAuthor: 32 * 1024 })
  for (let i = 0; i < 1000; i++) read(bytes, c, 'x'.repeat(1000))
  t.true(bytes.stats().readBytes <= 32 * 1024, `${bytes.stats().readBytes} bytes`)
})

test('with the default limits one author\'s 25,000 reads leave 20,000 in memory; the snapshot restores within the bound', t => {
  const ix = new PrivacyIndex('00')
  for (let i = 0; i < 25_000; i++) read(ix, c)
  t.is(ix.accessLog().length, DEFAULT_INDEX_LIMITS.readsPerAuthor)
  t.true(ix.stats().readBytes <= DEFAULT_INDEX_LIMITS.readBytesPerAuthor)
  const again = PrivacyIndex.fromJson(JSON.parse(JSON.stringify(ix.toJson())), small)
  t.is(again.accessLog().length, 10, 'a snapshot larger than the limits is cut to them on load')
  t.deepEqual(again.accessLog().map(e => e.accessRecordId), ix.accessLog().slice(-10).map(e => e.accessRecordId))
})

test('delivery-key history is bounded per node, newest kept', t => {
  const ix = new PrivacyIndex('00', small)
  const keys = Array.from({ length: 10 }, () => k())
  for (const [i, key] of keys.entries()) ix.applyAnnounce(a, key, k(), pos(i + 1))
  t.true(ix.wasPublished(a, toHex(keys[9])))
  t.true(ix.wasPublished(a, toHex(keys[6])))
  t.false(ix.wasPublished(a, toHex(keys[5])), 'older than the last 4: forgotten')
  t.is(ix.deliveryKeyOf(a)?.key, toHex(keys[9]))
})

test('a hospital enrolling or breaking glass without end loses only its own oldest entries; others\' stay', t => {
  const ix = new PrivacyIndex('00', small)
  const hex = (): string => toHex(k())
  const enrol = (custodian: Uint8Array, subj: string): void => { ix.applyEnrolment({ custodian: toHex(custodian), subject: subj, signKey: hex(), boxKey: hex(), recordId: hex(), height: 1, timestamp: 0 }) }
  const honest = hex()
  enrol(a, honest)
  for (let i = 0; i < 1000; i++) enrol(c, hex())
  t.truthy(ix.enrolmentOf(toHex(a), honest), 'the honest hospital\'s enrolment stays')
  t.is(ix.toJson().enrolments.filter(e => e.custodian === toHex(c)).length, small.enrolmentsPerAuthor, 'the flooder keeps its share only')

  const emergency = (node: Uint8Array, recordId: string): void => { ix.applyEmergency({ emergencyRecordId: hex(), recordId, subject: honest, node: toHex(node), reason: 'unconscious patient', reader: 'rdr:x', height: 1, timestamp: Date.now() }) }
  const rec = hex()
  emergency(a, rec)
  for (let i = 0; i < 1000; i++) emergency(c, hex())
  t.truthy(ix.emergencyInForce(rec, toHex(a), Date.now(), 60_000), 'the honest break-glass read still counts')
  t.is(ix.emergencyLog().filter(e => e.node === toHex(c)).length, small.emergenciesPerAuthor)
  const restored = PrivacyIndex.fromJson(ix.toJson(), small)
  t.is(restored.emergencyLog().length, small.emergenciesPerAuthor + 1, 'the snapshot restores within the bound')
})
