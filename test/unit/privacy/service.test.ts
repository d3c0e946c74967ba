import test, { type ExecutionContext } from 'ava'
import { EventEmitter } from 'node:events'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Genesis, DEFAULT_PARAMS } from '../../../src/chain/genesis.ts'
import { recordId } from '../../../src/chain/hashing.ts'
import type { FinalizedBlock, MedRecord } from '../../../src/chain/types.ts'
import { NodeKey } from '../../../src/crypto/ed25519.ts'
import { bytesEqual, toHex } from '../../../src/encoding/bytes.ts'
import { silentLogger } from '../../../src/logger.ts'
import { writeKeyFile } from '../../../src/node/key-file.ts'
import type { StoredRecord } from '../../../src/storage/index.ts'
import { encodeEnvelope, sealEnvelope } from '../../../src/privacy/envelope.ts'
import { isPrivacyError, PrivacyErrorCode } from '../../../src/privacy/errors.ts'
import { LocalKeyStore } from '../../../src/privacy/local-store.ts'
import { grantRecord, revokeRecord, shredRecord, RECORD_TYPES } from '../../../src/privacy/records.ts'
import { PrivacyService } from '../../../src/privacy/service.ts'
import { generateX25519, type X25519KeyPair } from '../../../src/privacy/x25519.ts'

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

  async waitFinal (ids: string[]): Promise<number> {
    const pending = this.submitted.filter(r => ids.includes(toHex(recordId(r))))
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
  t.is(svc.accessLog({ recordId: rid })[0].reader, 'dr')
  node.add(by(w.a, revokeRecord(new Uint8Array(32).fill(5), w.b.publicKey, 5)))
  t.is(await code(svc.readPlaintext(rid, 'dr')), PrivacyErrorCode.NO_GRANT)
})

test('a shred counts only from the author or a recipient and only after its record; then keys rotate and the old ones are destroyed', async t => {
  const w = await world()
  const { node, svc, dir, keyFile } = await serviceFor(t, w, w.a, w.encA)
  const record = sealed(w, w.a, 'note')
  const rid = toHex(recordId(record))
  // A shred final before its record is ignored.
  node.add(by(w.a, shredRecord(record.subject, recordId(record), 'too early', 1)))
  node.add(record)
  const store = await LocalKeyStore.open(join(dir, 'privacy'), w.a.seed)
  t.true(await eventually(async () => await store.hasDataKey(rid)), 'the data key is unwrapped on receipt')
  // c is neither author nor recipient.
  node.add(by(w.c, shredRecord(record.subject, recordId(record), 'not mine', 2)))
  t.is(Buffer.from((await svc.readPlaintext(rid, '')).body).toString(), 'note')
  // b, a recipient, may shred.
  node.add(by(w.b, shredRecord(record.subject, recordId(record), 'erasure', 3)))
  t.is(await code(svc.readPlaintext(rid, '')), PrivacyErrorCode.SHREDDED)
  t.false(await store.hasDataKey(rid))
  // a rotates: announces a new key; once that is final, the genesis key leaves the key file.
  t.true(await eventually(() => node.submitted.some(r => r.type === RECORD_TYPES.announce)))
  const announce = node.submitted.find(r => r.type === RECORD_TYPES.announce) as MedRecord
  t.true((await readFile(keyFile, 'utf8')).includes('encryptionPrivateKey'))
  node.add(announce)
  t.true(await eventually(async () => !(await readFile(keyFile, 'utf8')).includes('encryptionPrivateKey')))
  const status = await svc.recordStatus(rid)
  t.like(status, { here: { dataKeyHeld: false, deliveryKeysHeld: [], unrecoverable: true } })
  t.is((await store.deliveryKeys()).length, 1, 'only the new delivery key is left')
  // New records to the new key still work.
  const cur = (svc.keyStatus().local as { current: string }).current
  t.is(cur, toHex((await store.deliveryKeys())[0].publicKey))
  const fresh = svc.sealRecord({ type: 'consultation', subject: new Uint8Array(32).fill(5), contentType: 'text/plain', plaintext: Buffer.from('after'), recipients: ['b'], timestamp: 9 })
  const [fid] = node.add(by(w.a, fresh))
  t.is(Buffer.from((await svc.readPlaintext(fid, '')).body).toString(), 'after')
})

test('recipients are validators with a published key; observers never', async t => {
  const w = await world()
  const { svc } = await serviceFor(t, w, w.a, w.encA)
  const input = { type: 'consultation', subject: new Uint8Array(32), contentType: 'text/plain', plaintext: Buffer.from('x'), timestamp: 1 }
  t.notThrows(() => svc.sealRecord({ ...input, recipients: ['b'] }))
  const observer = t.throws(() => svc.sealRecord({ ...input, recipients: ['regulator'] }))
  t.true(isPrivacyError(observer, PrivacyErrorCode.RECIPIENT_UNKNOWN) && /observer/.test(observer.message))
  const noKey = t.throws(() => svc.sealRecord({ ...input, recipients: ['c'] }))
  t.true(isPrivacyError(noKey, PrivacyErrorCode.RECIPIENT_UNKNOWN) && /no published encryption key/.test(noKey.message))
  t.throws(() => svc.sealRecord({ ...input, recipients: ['nobody'] }))
})
