import test from 'ava'
import { randomBytes } from 'node:crypto'
import { toHex } from '../../../src/encoding/bytes.ts'
import { PrivacyIndex } from '../../../src/privacy/ledger-index.ts'

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
