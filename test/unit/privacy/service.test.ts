import test, { type ExecutionContext } from 'ava'
import { EventEmitter } from 'node:events'
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Genesis, DEFAULT_PARAMS } from '../../../src/chain/genesis.ts'
import { recordId } from '../../../src/chain/hashing.ts'
import type { FinalizedBlock, MedRecord } from '../../../src/chain/types.ts'
import { NodeKey } from '../../../src/crypto/ed25519.ts'
import { bytesEqual, fromHex, toHex } from '../../../src/encoding/bytes.ts'
import { silentLogger } from '../../../src/logger.ts'
import { writeKeyFile } from '../../../src/keys/key-file.ts'
import type { StoredRecord } from '../../../src/storage/index.ts'
import { decodeEnvelope, encodeEnvelope, sealEnvelope, unwrapKey, wrapDataKey, wrapsFor } from '../../../src/privacy/envelope.ts'
import { isPrivacyError, PrivacyErrorCode } from '../../../src/privacy/errors.ts'
import { LocalKeyStore } from '../../../src/privacy/local-store.ts'
import { decodeAccess, decodeRelease, grantRecord, releaseRecord, revokeRecord, shredRecord, RECORD_TYPES } from '../../../src/privacy/records.ts'
import { PrivacyService } from '../../../src/privacy/service.ts'
import { generateX25519, type X25519KeyPair } from '../../../src/crypto/x25519.ts'
import { consentRecord, enrolRecord } from '../../../src/privacy/patient-records.ts'
import { consentStatement, enrolStatement, generatePatientKey, sign, type PatientKey } from '../../../src/api/patient/crypto.js'

type Unsigned = Omit<MedRecord, 'author'>

/** A chain in memory: blocks of records, a store view, submit and waitFinal that make blocks. */
class FakeNode extends EventEmitter {
  readonly role = 'validator' as const
  readonly isValidator = true
  readonly log = silentLogger
  readonly blocks: FinalizedBlock[] = []
  readonly submitted: MedRecord[] = []
  readonly schedule: { latest: () => Genesis['validators'] }
  readonly store: PrivacyServiceNode['store']

  constructor (readonly genesis: Genesis, readonly key: NodeKey) {
    super()
    this.schedule = { latest: () => genesis.validators }
    const self = this
    this.store = {
      get head () { return self.blocks.length === 0 ? null : { height: self.blocks.length } },
      async getRecord (id: Uint8Array): Promise<StoredRecord | undefined> {
        for (const fb of self.blocks) {
          for (const [b, batch] of fb.block.body.batches.entries()) {
            for (const [i, r] of batch.records.entries()) {
              if (bytesEqual(recordId(r), id)) return { record: r, location: { height: fb.block.header.height, batchIndex: b, recordIndex: i }, block: fb.block, certificate: fb.certificate } as unknown as StoredRecord
            }
          }
        }
        return undefined
      },
      async * iterateFinalized (from: number, to: number): AsyncGenerator<FinalizedBlock> {
        for (const fb of self.blocks.slice(from - 1, to)) yield fb
      }
    }
  }

  /** Appends a block holding the records (one batch per record) and announces it. */
  add (...records: MedRecord[]): string[] {
    const height = this.blocks.length + 1
    const fb = { block: { header: { height }, body: { batches: records.map(r => ({ author: r.author, records: [r], signature: new Uint8Array(64) })), lastCommit: null, evidence: [] } }, certificate: {} } as unknown as FinalizedBlock
    this.blocks.push(fb)
    this.emit('finalized', fb)
    return records.map(r => toHex(recordId(r)))
  }

  async submitRecords (records: Unsigned[]): Promise<{ ids: string[] }> {
    const full = records.map(r => ({ ...r, author: this.key.publicKey }))
    this.submitted.push(...full)
    return { ids: full.map(r => toHex(recordId(r))) }
  }

  /** Records other nodes get final while this node waits for its own (a test's race). */
  duringWait: MedRecord[] = []

  async waitFinal (ids: string[]): Promise<number> {
    const pending = this.submitted.filter(r => ids.includes(toHex(recordId(r))))
    if (this.duringWait.length > 0) this.add(...this.duringWait.splice(0))
    this.add(...pending)
    return this.blocks.length
  }
}
type PrivacyServiceNode = Parameters<typeof PrivacyService.open>[0]

interface World { a: NodeKey, b: NodeKey, c: NodeKey, encA: X25519KeyPair, encB: X25519KeyPair, genesis: Genesis }

async function world (): Promise<World> {
  const [a, b, c] = await Promise.all([NodeKey.generate(), NodeKey.generate(), NodeKey.generate()])
  const encA = generateX25519()
  const encB = generateX25519()
  const genesis = new Genesis({
    chainId: 'medledger-test',
    genesisTime: 0,
    validators: [{ name: 'a', publicKey: a.publicKey, encryptionKey: encA.publicKey }, { name: 'b', publicKey: b.publicKey, encryptionKey: encB.publicKey }, { name: 'c', publicKey: c.publicKey }],
    observers: [{ name: 'regulator', publicKey: (await NodeKey.generate()).publicKey }],
    params: DEFAULT_PARAMS
  })
  return { a, b, c, encA, encB, genesis }
}

async function serviceFor (t: ExecutionContext, w: World, me: NodeKey, enc: X25519KeyPair): Promise<{ node: FakeNode, svc: PrivacyService, dir: string, keyFile: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'medledger-privacy-'))
  const keyFile = join(dir, 'node.key')
  await writeKeyFile(keyFile, me, enc)
  const node = new FakeNode(w.genesis, me)
  const svc = await PrivacyService.open(node as unknown as PrivacyServiceNode, { dir: join(dir, 'privacy'), keyFile, keyFileEncryption: enc, retireGraceMs: 0, auditWaitMs: 1000, maintainEveryMs: 20 })
  t.teardown(async () => { await svc.close(); await rm(dir, { recursive: true, force: true }) })
  return { node, svc, dir, keyFile }
}

/** A record authored by `author`, encrypted to a and b. */
function sealed (w: World, author: NodeKey, text: string): MedRecord {
  const r = { type: 'consultation', subject: new Uint8Array(32).fill(5), author: author.publicKey }
  const { envelope } = sealEnvelope({ chainId: w.genesis.chainId, ...r }, { contentType: 'text/plain', body: Buffer.from(text) }, [
    { node: w.a.publicKey, deliveryKey: w.encA.publicKey },
    { node: w.b.publicKey, deliveryKey: w.encB.publicKey }
  ])
  return { ...r, contentType: 'application/vnd.medledger.envelope+cbor', payload: encodeEnvelope(envelope), timestamp: 1 }
}

const by = (k: NodeKey, r: Unsigned): MedRecord => ({ ...r, author: k.publicKey })

/** A whole key file without its X25519 private key (a read of the zeroed old file is not). */
const retired = (text: string): boolean => text.includes('"privateKey"') && !text.includes('encryptionPrivateKey')

async function code (p: Promise<unknown>): Promise<string | undefined> {
  try { await p } catch (err) { return isPrivacyError(err) ? err.code : String(err) }
  return undefined
}

async function eventually (fn: () => Promise<boolean> | boolean, ms = 3000): Promise<boolean> {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (await fn()) return true
    await new Promise(resolve => setTimeout(resolve, 20))
  }
  return false
}

test('grants count only from the custodian; a revocation stops reads; each read becomes an access record', async t => {
  const w = await world()
  const { node, svc } = await serviceFor(t, w, w.b, w.encB)
  const [rid] = node.add(sealed(w, w.a, 'note from a'))
  t.is(await code(svc.readPlaintext(rid, 'dr')), PrivacyErrorCode.NO_GRANT)
  // c, not the custodian, grants b: nothing changes.
  node.add(by(w.c, grantRecord(new Uint8Array(32).fill(5), { grantee: w.b.publicKey, types: [], notAfter: 0, consentHash: new Uint8Array(0) }, 2)))
  t.is(await code(svc.readPlaintext(rid, 'dr')), PrivacyErrorCode.NO_GRANT)
  // A grant for another type does not open a consultation.
  node.add(by(w.a, grantRecord(new Uint8Array(32).fill(5), { grantee: w.b.publicKey, types: ['lab-result'], notAfter: 0, consentHash: new Uint8Array(0) }, 3)))
  t.is(await code(svc.readPlaintext(rid, 'dr')), PrivacyErrorCode.NO_GRANT)
  node.add(by(w.a, grantRecord(new Uint8Array(32).fill(5), { grantee: w.b.publicKey, types: [], notAfter: 0, consentHash: new Uint8Array(0) }, 4)))
  const read = await svc.readPlaintext(rid, 'dr')
  t.is(Buffer.from(read.body).toString(), 'note from a')
  const access = node.submitted.find(r => r.type === RECORD_TYPES.read)
  t.truthy(access)
  t.is(toHex(recordId(access as MedRecord)), read.access.recordId)
  t.true(await eventually(() => svc.accessLog({ recordId: rid }).length === 1))
  node.add(by(w.a, revokeRecord(new Uint8Array(32).fill(5), w.b.publicKey, 5)))
  t.is(await code(svc.readPlaintext(rid, 'dr')), PrivacyErrorCode.NO_GRANT)
})

test('the reader label never reaches the chain: the access record carries a keyed pseudonym, the mapping stays in the node', async t => {
  const w = await world()
  const { node, svc, dir } = await serviceFor(t, w, w.a, w.encA)
  const [rid] = node.add(sealed(w, w.a, 'note'))
  await svc.readPlaintext(rid, 'Dr. Jane Roe')
  await svc.readPlaintext(rid, ' Dr. Jane Roe ')
  await svc.readPlaintext(rid, 'Dr. John Doe')
  const onChain = node.submitted.filter(r => r.type === RECORD_TYPES.read).map(r => decodeAccess(r.payload).reader)
  t.is(onChain.length, 3)
  for (const r of onChain) {
    t.regex(r, /^rdr:[0-9a-f]{64}$/)
    t.false(r.includes('Jane') || r.includes('Doe'))
  }
  t.is(onChain[0], onChain[1], 'one person, one pseudonym')
  t.not(onChain[0], onChain[2])
  const mapping = (await readFile(join(dir, 'privacy', 'readers.jsonl'), 'utf8')).trim().split('\n').map(l => JSON.parse(l) as { pseudonym: string, reader: string })
  t.true(mapping.some(m => m.pseudonym === onChain[0] && m.reader === 'Dr. Jane Roe'))
  for (const b of node.blocks) t.is(Buffer.from(JSON.stringify(b.block.body.batches.map(x => x.records.map(r => Buffer.from(r.payload).toString('latin1'))))).indexOf('Jane'), -1)
})

test('a revocation made final while a read waits for its access record stops the read', async t => {
  const w = await world()
  const { node, svc } = await serviceFor(t, w, w.b, w.encB)
  const subject = new Uint8Array(32).fill(5)
  const [rid] = node.add(sealed(w, w.a, 'note from a'))
  node.add(by(w.a, grantRecord(subject, { grantee: w.b.publicKey, types: [], notAfter: 0, consentHash: new Uint8Array(0) }, 2)))
  t.is(Buffer.from((await svc.readPlaintext(rid, '')).body).toString(), 'note from a')
  node.duringWait.push(by(w.a, revokeRecord(subject, w.b.publicKey, 3)))
  t.is(await code(svc.readPlaintext(rid, '')), PrivacyErrorCode.NO_GRANT)
})

test('a shred counts only from the custodian (the author) and only after its record; then keys rotate and the old ones are destroyed', async t => {
  const w = await world()
  const { node, svc, dir, keyFile } = await serviceFor(t, w, w.a, w.encA)
  const record = sealed(w, w.a, 'note')
  const rid = toHex(recordId(record))
  // A shred final before its record is ignored.
  node.add(by(w.a, shredRecord(record.subject, recordId(record), 'too early', 1)))
  node.add(record)
  const store = await LocalKeyStore.open(join(dir, 'privacy'), w.a.seed)
  t.true(await eventually(async () => await store.hasDataKey(rid)), 'the data key is unwrapped on receipt')
  // c is neither author nor recipient; b is a recipient, not the custodian: both are ignored.
  node.add(by(w.c, shredRecord(record.subject, recordId(record), 'not mine', 2)))
  node.add(by(w.b, shredRecord(record.subject, recordId(record), 'not mine either', 2)))
  t.is(Buffer.from((await svc.readPlaintext(rid, '')).body).toString(), 'note')
  t.true(await store.hasDataKey(rid))
  // a, the custodian, may shred.
  node.add(by(w.a, shredRecord(record.subject, recordId(record), 'erasure', 3)))
  t.is(await code(svc.readPlaintext(rid, '')), PrivacyErrorCode.SHREDDED)
  t.false(await store.hasDataKey(rid))
  // a rotates: announces a new key; once that is final, the genesis key leaves the key file.
  t.true(await eventually(() => node.submitted.some(r => r.type === RECORD_TYPES.announce)))
  const announce = node.submitted.find(r => r.type === RECORD_TYPES.announce) as MedRecord
  t.true((await readFile(keyFile, 'utf8')).includes('encryptionPrivateKey'))
  node.add(announce)
  t.true(await eventually(async () => retired(await readFile(keyFile, 'utf8'))))
  const status = await svc.recordStatus(rid)
  t.like(status, { here: { dataKeyHeld: false, deliveryKeysHeld: [], unrecoverable: true } })
  t.is((await store.deliveryKeys()).length, 1, 'only the new delivery key is left')
  // New records to the new key still work.
  const cur = (svc.keyStatus().local as { current: string }).current
  t.is(cur, toHex((await store.deliveryKeys())[0].publicKey))
  const fresh = svc.sealRecord({ type: 'consultation', subject: new Uint8Array(32).fill(5), contentType: 'text/plain', plaintext: Buffer.from('after'), recipients: [], timestamp: 9 })
  const [fid] = node.add(by(w.a, fresh))
  t.is(Buffer.from((await svc.readPlaintext(fid, '')).body).toString(), 'after')
})

test('recipients are validators with a published key; observers never', async t => {
  const w = await world()
  const { node, svc } = await serviceFor(t, w, w.a, w.encA)
  const input = { type: 'consultation', subject: new Uint8Array(32), contentType: 'text/plain', plaintext: Buffer.from('x'), timestamp: 1 }
  node.add(by(w.a, grantRecord(input.subject, { grantee: w.b.publicKey, ...anyone }, 1)))
  await svc.recordStatus(node.add(by(w.a, svc.sealRecord({ ...input, recipients: [] })))[0]) // the grant is folded
  t.notThrows(() => svc.sealRecord({ ...input, recipients: ['b'] }))
  const observer = t.throws(() => svc.sealRecord({ ...input, recipients: ['regulator'] }))
  t.true(isPrivacyError(observer, PrivacyErrorCode.RECIPIENT_UNKNOWN) && /observer/.test(observer.message))
  const noKey = t.throws(() => svc.sealRecord({ ...input, recipients: ['c'] }))
  t.true(isPrivacyError(noKey, PrivacyErrorCode.RECIPIENT_UNKNOWN) && /no published encryption key/.test(noKey.message))
  t.throws(() => svc.sealRecord({ ...input, recipients: ['nobody'] }))
})

/** A record by `author` sealed to the author alone (how records are written now), with its data key. */
function custodial (w: World, author: NodeKey, enc: X25519KeyPair, text: string, type = 'consultation'): { record: MedRecord, dataKey: Uint8Array } {
  const r = { type, subject: new Uint8Array(32).fill(5), author: author.publicKey }
  const { envelope, dataKey } = sealEnvelope({ chainId: w.genesis.chainId, ...r }, { contentType: 'text/plain', body: Buffer.from(text) }, [{ node: author.publicKey, deliveryKey: enc.publicKey }])
  return { record: { ...r, contentType: 'application/vnd.medledger.envelope+cbor', payload: encodeEnvelope(envelope), timestamp: 1 }, dataKey }
}

const anyone = { types: [], notAfter: 0, consentHash: new Uint8Array(0) }

test('no grant, no plaintext, by cryptography: a node gets a record\'s key only from the custodian\'s key release after a grant', async t => {
  const w = await world()
  const { node, svc, dir } = await serviceFor(t, w, w.b, w.encB)
  const subject = new Uint8Array(32).fill(5)
  const { record, dataKey } = custodial(w, w.a, w.encA, 'note from a')
  const [rid] = node.add(record)
  const store = await LocalKeyStore.open(join(dir, 'privacy'), w.b.seed)
  // Nothing b holds opens the record: no wrap to b anywhere, no data key in its store.
  t.deepEqual(wrapsFor(decodeEnvelope(record.payload), w.b.publicKey), [])
  t.is(await code(svc.readPlaintext(rid, '')), PrivacyErrorCode.NO_GRANT)
  node.add(by(w.a, grantRecord(subject, { grantee: w.b.publicKey, ...anyone }, 2)))
  t.is(await code(svc.readPlaintext(rid, '')), PrivacyErrorCode.NOT_RECIPIENT, 'a grant alone gives no key')
  t.false(await store.hasDataKey(rid))
  const ctx = { chainId: w.genesis.chainId, type: record.type, subject, author: w.a.publicKey }
  // A release by anyone but the custodian is ignored.
  node.add(by(w.c, releaseRecord(subject, recordId(record), wrapDataKey({ ...ctx, author: w.a.publicKey }, dataKey, { node: w.b.publicKey, deliveryKey: w.encB.publicKey }), 3)))
  t.is(await code(svc.readPlaintext(rid, '')), PrivacyErrorCode.NOT_RECIPIENT)
  // The custodian's release: b keeps the key and reads.
  node.add(by(w.a, releaseRecord(subject, recordId(record), wrapDataKey(ctx, dataKey, { node: w.b.publicKey, deliveryKey: w.encB.publicKey }), 4)))
  t.true(await eventually(async () => await store.hasDataKey(rid)))
  t.is(Buffer.from((await svc.readPlaintext(rid, '')).body).toString(), 'note from a')
})

test('a recipient named in an old envelope keeps no data key without a grant', async t => {
  const w = await world()
  const { node, dir } = await serviceFor(t, w, w.b, w.encB)
  const [rid] = node.add(sealed(w, w.a, 'note from a'))
  const store = await LocalKeyStore.open(join(dir, 'privacy'), w.b.seed)
  node.add(by(w.a, sealed(w, w.a, 'marker')))
  await new Promise(resolve => setTimeout(resolve, 100))
  t.false(await store.hasDataKey(rid), 'no unwrap on receipt without a grant')
})

test('the custodian releases its records\' keys to a grantee once the grant is final, and wraps later records to grantees in force', async t => {
  const w = await world()
  const { node, svc } = await serviceFor(t, w, w.a, w.encA)
  const subject = new Uint8Array(32).fill(5)
  const mine = svc.sealRecord({ type: 'consultation', subject, contentType: 'text/plain', plaintext: Buffer.from('first'), recipients: [], timestamp: 1 })
  t.deepEqual(decodeEnvelope(mine.payload).recipients.map(r => toHex(r.node)), [toHex(w.a.publicKey)], 'sealed to the custodian alone')
  t.is(await code(Promise.resolve().then(() => svc.sealRecord({ type: 'consultation', subject, contentType: 'text/plain', plaintext: Buffer.from('x'), recipients: ['b'], timestamp: 1 }))), PrivacyErrorCode.NO_GRANT, 'a recipient needs a grant first')
  const [rid] = node.add(by(w.a, mine))
  const lab = svc.sealRecord({ type: 'lab-result', subject, contentType: 'text/plain', plaintext: Buffer.from('lab'), recipients: [], timestamp: 1 })
  const [labId] = node.add(by(w.a, lab))
  node.add(by(w.a, grantRecord(subject, { grantee: w.b.publicKey, types: ['consultation'], notAfter: 0, consentHash: new Uint8Array(0) }, 2)))
  t.true(await eventually(() => node.submitted.some(r => r.type === RECORD_TYPES.release)))
  await svc.readPlaintext(rid, '') // lets the queue run
  const releases = node.submitted.filter(r => r.type === RECORD_TYPES.release).map(r => decodeRelease(r.payload))
  t.deepEqual(releases.map(r => toHex(r.recordId)), [rid], 'only the covered type, once')
  const ctx = { chainId: w.genesis.chainId, type: 'consultation', subject, author: w.a.publicKey }
  const dk = unwrapKey(ctx, releases[0].wrap, w.encB)
  t.is(dk.length, 32)
  t.not(labId, rid)
  // A record written while the grant is in force is wrapped to the grantee directly.
  const later = svc.sealRecord({ type: 'consultation', subject, contentType: 'text/plain', plaintext: Buffer.from('second'), recipients: ['b'], timestamp: 3 })
  t.deepEqual(decodeEnvelope(later.payload).recipients.map(r => toHex(r.node)).sort(), [toHex(w.a.publicKey), toHex(w.b.publicKey)].sort())
})

test('a key store restored from a backup taken before a shred does not reopen the shredded record', async t => {
  const w = await world()
  const { node, svc, dir, keyFile } = await serviceFor(t, w, w.a, w.encA)
  const { record } = custodial(w, w.a, w.encA, 'to be erased')
  const [rid] = node.add(record)
  const store = await LocalKeyStore.open(join(dir, 'privacy'), w.a.seed)
  t.true(await eventually(async () => await store.hasDataKey(rid)))
  const backup = await mkdtemp(join(tmpdir(), 'medledger-backup-'))
  t.teardown(async () => await rm(backup, { recursive: true, force: true }))
  await svc.readPlaintext(rid, '')
  await cp(join(dir, 'privacy'), join(backup, 'privacy'), { recursive: true })
  await cp(keyFile, join(backup, 'node.key'))
  node.add(by(w.a, shredRecord(record.subject, recordId(record), 'erasure', 2)))
  t.true(await eventually(() => node.submitted.some(r => r.type === RECORD_TYPES.announce)))
  node.add(node.submitted.find(r => r.type === RECORD_TYPES.announce) as MedRecord)
  t.true(await eventually(async () => retired(await readFile(keyFile, 'utf8'))))
  await svc.close()
  // Restore the whole privacy directory and the key file as they were before the shred.
  await rm(join(dir, 'privacy'), { recursive: true, force: true })
  await cp(join(backup, 'privacy'), join(dir, 'privacy'), { recursive: true })
  await cp(join(backup, 'node.key'), keyFile)
  const again = await PrivacyService.open(node as unknown as PrivacyServiceNode, { dir: join(dir, 'privacy'), keyFile, keyFileEncryption: w.encA, retireGraceMs: 0, auditWaitMs: 1000, maintainEveryMs: 20 })
  t.teardown(async () => await again.close())
  t.false(await store.hasDataKey(rid), 'the data key is destroyed again as soon as the node opens')
  t.is(await code(again.readPlaintext(rid, '')), PrivacyErrorCode.SHREDDED)
  t.true(await eventually(async () => retired(await readFile(keyFile, 'utf8'))), 'the restored retired delivery key is destroyed again')
  t.true(await eventually(async () => (await again.recordStatus(rid) as { here: { unrecoverable: boolean } }).here.unrecoverable))
  // A partial restore (the data-key files only) beside an index that already knows the shred.
  await again.close()
  await cp(join(backup, 'privacy', 'dk'), join(dir, 'privacy', 'dk'), { recursive: true })
  t.true(await store.hasDataKey(rid))
  const third = await PrivacyService.open(node as unknown as PrivacyServiceNode, { dir: join(dir, 'privacy'), keyFile, keyFileEncryption: w.encA, retireGraceMs: 0, auditWaitMs: 1000, maintainEveryMs: 20 })
  t.teardown(async () => await third.close())
  t.false(await store.hasDataKey(rid), 'a shredded record\'s data key found in the store is destroyed at open')
})

test('data keys an older node unwrapped without a grant are destroyed when the node opens', async t => {
  const w = await world()
  const dir = await mkdtemp(join(tmpdir(), 'medledger-privacy-'))
  t.teardown(async () => await rm(dir, { recursive: true, force: true }))
  const node = new FakeNode(w.genesis, w.b)
  const granted = custodial(w, w.a, w.encA, 'granted')
  const ungranted = custodial(w, w.a, w.encA, 'never granted')
  const lone = { ...ungranted.record, subject: new Uint8Array(32).fill(9) }
  const [keep, drop] = node.add(granted.record, lone, by(w.a, grantRecord(new Uint8Array(32).fill(5), { grantee: w.b.publicKey, ...anyone }, 2)))
  const store = await LocalKeyStore.open(join(dir, 'privacy'), w.b.seed)
  await store.putDataKey(keep, granted.dataKey)
  await store.putDataKey(drop, ungranted.dataKey)
  const keyFile = join(dir, 'node.key')
  await writeKeyFile(keyFile, w.b, w.encB)
  const svc = await PrivacyService.open(node as unknown as PrivacyServiceNode, { dir: join(dir, 'privacy'), keyFile, keyFileEncryption: w.encB, retireGraceMs: 0, auditWaitMs: 1000, maintainEveryMs: 20 })
  t.teardown(async () => await svc.close())
  t.false(await store.hasDataKey(drop), 'its custodian never granted this node that subject: destroyed')
  t.true(await store.hasDataKey(keep), 'a key held under a grant stays')
})

test('patient consents count only when signed by the key enrolled now for (custodian, subject), and only when newer than the last one counted', async t => {
  const w = await world()
  const { node, svc } = await serviceFor(t, w, w.b, w.encB)
  const subject = new Uint8Array(32).fill(5)
  const chainId = w.genesis.chainId
  const [rid] = node.add(sealed(w, w.a, 'note from a'))
  const k1 = await generatePatientKey()
  const k2 = await generatePatientKey()
  const enrol = async (k: PatientKey, custodian: NodeKey, signedFor = custodian): Promise<MedRecord> => by(custodian, enrolRecord(subject, {
    signKey: fromHex(k.signKey), boxKey: fromHex(k.boxKey), signature: await sign(k, enrolStatement(chainId, toHex(signedFor.publicKey), toHex(subject), k))
  }, 1))
  const consent = async (k: PatientKey, grant: boolean, issuedAt: number, writer = w.c): Promise<MedRecord> => {
    const fields = { custodian: toHex(w.a.publicKey), grantee: toHex(w.b.publicKey), grant, types: [] as string[], notAfter: 0, issuedAt }
    return by(writer, consentRecord(subject, { signKey: fromHex(k.signKey), custodian: w.a.publicKey, grantee: w.b.publicKey, grant, types: [], notAfter: 0, issuedAt, signature: await sign(k, consentStatement(chainId, toHex(subject), fields)) }, issuedAt))
  }
  // An enrolment signed for another hospital than its author counts for nothing.
  node.add(await enrol(k1, w.c, w.a))
  const caughtUp = async (): Promise<unknown> => await svc.patientRecords(k1.signKey)
  await caughtUp()
  t.is(svc.enrolmentOf(toHex(w.c.publicKey), toHex(subject)), undefined)
  // Not enrolled yet: k1's consent is ignored.
  node.add(await consent(k1, true, 100))
  t.is(await code(svc.readPlaintext(rid, 'dr')), PrivacyErrorCode.NO_GRANT)
  node.add(await enrol(k1, w.a))
  await caughtUp()
  t.is(svc.enrolmentOf(toHex(w.a.publicKey), toHex(subject))?.signKey, k1.signKey)
  // A stranger's key is not the patient's.
  node.add(await consent(k2, true, 101))
  t.is(await code(svc.readPlaintext(rid, 'dr')), PrivacyErrorCode.NO_GRANT)
  // The enrolled key's grant, written by any hospital's node, opens the custodian's record.
  node.add(await consent(k1, true, 102))
  t.is(Buffer.from((await svc.readPlaintext(rid, 'dr')).body).toString(), 'note from a')
  t.is(svc.grants({ subject: toHex(subject), grantee: toHex(w.b.publicKey) })[0].patient, k1.signKey)
  t.deepEqual((await svc.patientRecords(k1.signKey)).map(e => e.recordIds), [[rid]], 'the patient\'s records at a')
  node.add(await consent(k1, false, 200))
  t.is(await code(svc.readPlaintext(rid, 'dr')), PrivacyErrorCode.NO_GRANT)
  // The old grant again (a new record, the same signed consent): older than the revocation, ignored.
  const replay = await consent(k1, true, 102)
  node.add({ ...replay, timestamp: 999 })
  t.is(await code(svc.readPlaintext(rid, 'dr')), PrivacyErrorCode.NO_GRANT)
  // Re-enrolment with k2 (a lost key): k1 no longer speaks for the patient, k2 does.
  node.add(await enrol(k2, w.a))
  node.add(await consent(k1, true, 300))
  t.is(await code(svc.readPlaintext(rid, 'dr')), PrivacyErrorCode.NO_GRANT)
  node.add(await consent(k2, true, 301))
  t.is(Buffer.from((await svc.readPlaintext(rid, 'dr')).body).toString(), 'note from a')
})

test('a corrupt state.json is refused with a clear error (it holds keys to retire and releases owed); an unreadable index snapshot is rebuilt from the chain', async t => {
  const w = await world()
  const { node, svc, dir, keyFile } = await serviceFor(t, w, w.a, w.encA)
  const record = sealed(w, w.a, 'note')
  const rid = toHex(recordId(record))
  node.add(record)
  // A rotation leaves a pending key in state.json: exactly what must not be forgotten silently.
  await svc.rotate()
  await svc.close()
  const privacyDir = join(dir, 'privacy')
  const open = async (): Promise<PrivacyService> => await PrivacyService.open(node as unknown as PrivacyServiceNode, { dir: privacyDir, keyFile, keyFileEncryption: w.encA, retireGraceMs: 0, auditWaitMs: 1000, maintainEveryMs: 20 })
  await writeFile(join(privacyDir, 'state.json'), '{"retiring": ["ab', 'utf8')
  const err = await t.throwsAsync(open())
  t.is((err as { code?: string }).code, PrivacyErrorCode.STORE_CORRUPT)
  t.regex(err?.message ?? '', /state\.json is corrupt/)
  t.regex(err?.message ?? '', /restore it from a backup/)
  // The index snapshot is derived from the chain: a torn one is rebuilt, and reads still work.
  await rm(join(privacyDir, 'state.json'))
  await writeFile(join(privacyDir, 'index.json'), '{"version": 2, "hei', 'utf8')
  const again = await open()
  t.teardown(async () => { await again.close() })
  t.is(Buffer.from((await again.readPlaintext(rid, '')).body).toString(), 'note')
})
