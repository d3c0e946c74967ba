import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Genesis } from '../chain/genesis.ts'
import { recordId } from '../chain/hashing.ts'
import { LIMITS } from '../chain/limits.ts'
import type { FinalizedBlock, MedRecord } from '../chain/types.ts'
import type { ValidatorSet } from '../chain/validator-set.ts'
import { peerIdOfPublicKey, type NodeKey } from '../crypto/ed25519.ts'
import { bytesEqual, fromHex, toHex } from '../encoding/bytes.ts'
import { isMedledgerError } from '../errors.ts'
import type { Logger } from '../logger.ts'
import type { StoredRecord } from '../storage/index.ts'
import {
  decodeEnvelope, encodeEnvelope, ENVELOPE_CONTENT_TYPE, openContent, sealEnvelope, unwrapDataKey, wrapsFor,
  type Envelope, type EnvelopeContext, type EnvelopeRecipient
} from './envelope.ts'
import { PrivacyError, PrivacyErrorCode } from './errors.ts'
import { removeEncryptionKey, writeFileAtomic } from './key-file-edit.ts'
import { PrivacyIndex, type AccessEntry, type GrantEntry, type IndexSnapshot, type Position, type ShredEntry } from './ledger-index.ts'
import { LocalKeyStore } from './local-store.ts'
import {
  accessRecord, announceRecord, CONTENT_TYPES, decodeAccess, decodeAnnounce, decodeGrant, decodeRevoke, decodeShred,
  grantRecord, RECORD_TYPES, revokeRecord, shredRecord, type GrantPayload
} from './records.ts'
import { generateX25519, type X25519KeyPair } from './x25519.ts'

const PRIVACY_TYPES: ReadonlySet<string> = new Set(Object.values(RECORD_TYPES))

type Unsigned = Omit<MedRecord, 'author'>

/** What the privacy service needs of the node: a narrow view of MedledgerNode. */
export interface PrivacyNode {
  readonly genesis: Genesis
  readonly key: NodeKey
  readonly role: 'validator' | 'observer'
  readonly isValidator: boolean
  readonly log: Logger
  readonly schedule: { latest: () => ValidatorSet }
  readonly store: {
    readonly head: { height: number } | null
    getRecord: (id: Uint8Array) => Promise<StoredRecord | undefined>
    iterateFinalized: (from: number, to: number) => AsyncGenerator<FinalizedBlock>
  }
  /** Async: it looks the records up on the chain first (a final record is refused). Always await it. */
  submitRecords: (records: Unsigned[]) => Promise<{ ids: string[] }>
  waitFinal: (ids: string[], timeoutMs: number) => Promise<number>
  on: (event: 'finalized', fn: (fb: FinalizedBlock) => void) => unknown
  off: (event: 'finalized', fn: (fb: FinalizedBlock) => void) => unknown
}

export interface PrivacyOptions {
  /** The privacy directory (off-chain key store, index snapshot, local state). */
  dir: string
  /** The node's key file: its X25519 key is the genesis-published delivery key. */
  keyFile: string
  /** The key file's passphrase, kept to rewrite it when that key is retired. */
  passphrase?: string
  /** Encryption key pair read from the key file, if any. */
  keyFileEncryption?: X25519KeyPair
  /** How long a superseded delivery key is kept after its successor is final (records in flight). */
  retireGraceMs: number
  /** How long a plaintext read waits for its access record to be final before refusing. */
  auditWaitMs: number
  /** How often key rotation and retirement are checked. */
  maintainEveryMs?: number
}

/** Node-local state of key rotation (not derived from the chain). */
interface LocalState {
  /** Delivery public keys (hex) that must stop being current: a shred or a rotation asked for it. */
  retiring: string[]
  /** A rotation was asked while this node had no published key. */
  wantKey: boolean
  /** The new delivery key waiting for its announcement to be final. */
  pendingKey?: string
  announcedAt?: number
  /** Local time at which this node's current delivery key last changed on the chain. */
  currentSince?: number
}

export interface PlaintextRead {
  recordId: string
  type: string
  subject: string
  author: string
  contentType: string
  body: Uint8Array
  access: { recordId: string, height: number }
}

const ANNOUNCE_RETRY_MS = 10_000

/**
 * Privacy by construction, per node (docs/privacy.md): follows the chain in order and folds its
 * privacy records into the index; unwraps the data key of each record sent to this node as soon
 * as the record is final and keeps it in the off-chain key store; honours shred records by
 * destroying that data key and rotating away the delivery key it was wrapped to; serves
 * plaintext only to a recipient with a grant in force, after writing the read to the chain.
 */
export class PrivacyService {
  private index!: PrivacyIndex
  private state: LocalState = { retiring: [], wantKey: false }
  private readonly held = new Map<string, { pair: X25519KeyPair, source: 'keyfile' | 'store' }>()
  private queue: Promise<unknown> = Promise.resolve()
  private timer: NodeJS.Timeout | undefined
  private closed = false
  private savedAt = 0
  private savedHeight = 0
  private readonly me: Uint8Array
  private readonly meHex: string
  private readonly log: Logger
  // The event's block is used as is when it is the next height (no second read and decode from
  // the store on the hot path); a gap is filled from the store.
  private readonly onFinalized = (fb: FinalizedBlock): void => {
    if (this.closed) return
    void this.enqueue(async () => {
      const h = fb.block.header.height
      if (h <= this.index.height) return
      if (h === this.index.height + 1) {
        await this.applyBlock(fb)
        await this.saveIndex(false)
      } else {
        await this.catchUp()
      }
    }).catch(() => {})
  }

  private constructor (private readonly node: PrivacyNode, private readonly keys: LocalKeyStore, private readonly o: PrivacyOptions) {
    this.me = node.key.publicKey
    this.meHex = toHex(this.me)
    this.log = node.log.child({ module: 'privacy' })
  }

  static async open (node: PrivacyNode, o: PrivacyOptions): Promise<PrivacyService> {
    const keys = await LocalKeyStore.open(o.dir, node.key.seed)
    const s = new PrivacyService(node, keys, o)
    await s.load()
    node.on('finalized', s.onFinalized)
    await s.enqueue(async () => { await s.catchUp(); await s.maintain() })
    const every = o.maintainEveryMs ?? Math.max(100, Math.min(1000, Math.floor(o.retireGraceMs / 2)))
    s.timer = setInterval(() => { void s.enqueue(async () => { await s.catchUp(); await s.maintain() }).catch(() => {}) }, every)
    s.timer.unref()
    return s
  }

  async close (): Promise<void> {
    this.closed = true
    if (this.timer !== undefined) clearInterval(this.timer)
    this.node.off('finalized', this.onFinalized)
    await this.queue.catch(() => {})
    if (this.index.height !== this.savedHeight) await this.saveIndex().catch(() => {})
  }

  private enqueue<T> (fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn)
    this.queue = run.catch((err) => { this.log.error({ err }, 'privacy task failed') })
    return run as Promise<T>
  }

  // ---- state on disk ----

  private async load (): Promise<void> {
    const g = this.node.genesis
    let index: PrivacyIndex | undefined
    try {
      const snap = JSON.parse(await readFile(join(this.o.dir, 'index.json'), 'utf8')) as IndexSnapshot
      if (snap.genesisHash === toHex(g.hash) && snap.height <= (this.node.store.head?.height ?? 0)) index = PrivacyIndex.fromJson(snap)
    } catch {}
    this.index = index ?? PrivacyIndex.fromGenesis(g.hash, [...g.validators.members, ...g.observers])
    try {
      this.state = { retiring: [], wantKey: false, ...JSON.parse(await readFile(join(this.o.dir, 'state.json'), 'utf8')) as Partial<LocalState> }
    } catch {}
    if (this.o.keyFileEncryption !== undefined) this.held.set(toHex(this.o.keyFileEncryption.publicKey), { pair: this.o.keyFileEncryption, source: 'keyfile' })
    for (const pair of await this.keys.deliveryKeys()) this.held.set(toHex(pair.publicKey), { pair, source: 'store' })
  }

  // The snapshot is the whole index at one height, so replaying from an older one after a crash
  // reaches the same state: at most one write a second.
  private async saveIndex (force = true): Promise<void> {
    if (!force && Date.now() - this.savedAt < 1000) return
    await writeFileAtomic(join(this.o.dir, 'index.json'), JSON.stringify(this.index.toJson()))
    this.savedAt = Date.now()
    this.savedHeight = this.index.height
  }

  private async saveState (): Promise<void> {
    await writeFileAtomic(join(this.o.dir, 'state.json'), JSON.stringify(this.state, null, 2) + '\n')
  }

  // ---- following the chain ----

  /** Folds every final block the index has not seen, in order. */
  private async catchUp (): Promise<void> {
    const head = this.node.store.head?.height ?? 0
    if (this.index.height >= head) return
    for await (const fb of this.node.store.iterateFinalized(this.index.height + 1, head)) await this.applyBlock(fb)
    await this.saveIndex(false)
  }

  private async applyBlock (fb: FinalizedBlock): Promise<void> {
    const height = fb.block.header.height
    for (const [b, batch] of fb.block.body.batches.entries()) {
      for (const [i, r] of batch.records.entries()) {
        // Most records are neither envelopes nor privacy records: skip them without a task each.
        if (r.contentType !== ENVELOPE_CONTENT_TYPE && !PRIVACY_TYPES.has(r.type)) continue
        try {
          await this.applyRecord(r, { height, batch: b, index: i })
        } catch (err) {
          if (!isMedledgerError(err)) throw err
          this.log.warn({ height, recordId: toHex(recordId(r)), type: r.type, err: err.message }, 'ignored a malformed privacy record')
        }
      }
    }
    this.index.height = height
  }

  /** Every record that reaches applyRecord is an envelope or has one of these types. */
  private async applyRecord (r: MedRecord, pos: Position): Promise<void> {
    if (r.contentType === ENVELOPE_CONTENT_TYPE) { await this.onEnvelope(r); return }
    const id = recordId(r)
    const base = { recordId: toHex(id), height: pos.height, timestamp: r.timestamp }
    switch (r.type) {
      case RECORD_TYPES.grant: {
        if (r.contentType !== CONTENT_TYPES.grant) return
        const g = decodeGrant(r.payload)
        this.index.applyGrant({ ...base, custodian: toHex(r.author), subject: toHex(r.subject), grantee: toHex(g.grantee), types: g.types, notAfter: g.notAfter, consentHash: toHex(g.consentHash) })
        return
      }
      case RECORD_TYPES.revoke: {
        if (r.contentType !== CONTENT_TYPES.revoke) return
        const v = decodeRevoke(r.payload)
        this.index.applyRevoke({ ...base, custodian: toHex(r.author), subject: toHex(r.subject), grantee: toHex(v.grantee) })
        return
      }
      case RECORD_TYPES.read: {
        if (r.contentType !== CONTENT_TYPES.read) return
        const a = decodeAccess(r.payload)
        this.index.applyRead({ accessRecordId: base.recordId, recordId: toHex(a.recordId), subject: toHex(r.subject), node: toHex(r.author), reader: a.reader, height: pos.height, timestamp: r.timestamp })
        return
      }
      case RECORD_TYPES.shred:
        if (r.contentType === CONTENT_TYPES.shred) await this.onShred(r, id, pos)
        return
      case RECORD_TYPES.announce: {
        if (r.contentType !== CONTENT_TYPES.announce) return
        const { deliveryKey } = decodeAnnounce(r.payload)
        this.index.applyAnnounce(r.author, deliveryKey, id, pos)
        if (bytesEqual(r.author, this.me)) {
          this.state.currentSince = Date.now()
          if (this.state.pendingKey === toHex(deliveryKey)) { this.state.pendingKey = undefined; this.state.announcedAt = undefined; this.state.wantKey = false }
          await this.saveState()
          this.log.info({ deliveryKey: toHex(deliveryKey), height: pos.height }, 'our new delivery key is published')
        }
      }
    }
  }

  /** Unwrap on receipt: the data key moves to the off-chain store while the delivery key exists. */
  private async onEnvelope (r: MedRecord): Promise<void> {
    const env = decodeEnvelope(r.payload)
    const wraps = wrapsFor(env, this.me)
    if (wraps.length === 0) return
    const id = toHex(recordId(r))
    if (this.index.shredOf(id) !== undefined || await this.keys.hasDataKey(id)) return
    const ctx = this.context(r)
    for (const w of wraps) {
      const k = this.held.get(toHex(w.deliveryKey))
      if (k === undefined) continue
      await this.keys.putDataKey(id, unwrapDataKey(ctx, env, this.me, k.pair))
      return
    }
    this.log.warn({ recordId: id, deliveryKeys: wraps.map(w => toHex(w.deliveryKey)) }, 'a record sent to this node is wrapped to a delivery key it no longer holds: unreadable here')
  }

  /**
   * A shred is honoured when its author is the record's author or one of its recipients and the
   * record is final before it. The data key is destroyed now; the delivery keys it was wrapped to
   * here are rotated away and destroyed after the grace period (maintain).
   */
  private async onShred (r: MedRecord, shredId: Uint8Array, pos: Position): Promise<void> {
    const s = decodeShred(r.payload)
    const target = toHex(s.recordId)
    if (this.index.shredOf(target) !== undefined) return
    const stored = await this.node.store.getRecord(s.recordId)
    const l = stored?.location
    if (stored === undefined || l === undefined || l.height > pos.height || (l.height === pos.height && (l.batchIndex > pos.batch || (l.batchIndex === pos.batch && l.recordIndex >= pos.index)))) {
      this.log.warn({ shred: toHex(shredId), recordId: target }, 'ignored a shred of a record that is not final before it')
      return
    }
    if (stored.record.contentType !== ENVELOPE_CONTENT_TYPE) return
    const env = decodeEnvelope(stored.record.payload)
    if (!mayShred(stored.record, env, r.author)) {
      this.log.warn({ shred: toHex(shredId), recordId: target, by: toHex(r.author) }, 'ignored a shred by a node that is neither the author nor a recipient')
      return
    }
    this.index.applyShred({ recordId: target, by: toHex(r.author), shredRecordId: toHex(shredId), reason: s.reason, height: pos.height, timestamp: r.timestamp })
    await this.keys.deleteDataKey(target)
    const mine = wrapsFor(env, this.me).map(w => toHex(w.deliveryKey)).filter(k => this.held.has(k))
    if (mine.length > 0) {
      this.state.retiring = [...new Set([...this.state.retiring, ...mine])]
      await this.saveState()
    }
    this.log.info({ recordId: target, height: pos.height, rotate: mine }, 'record shredded: data key destroyed')
  }

  // ---- key rotation and retirement ----

  /**
   * Keeps the rule: a delivery key named by a shredded record (or by a rotation request) stops
   * being current, and once its successor is final and the grace period has passed every
   * superseded key this node holds is destroyed, from the store and from the key file.
   */
  private async maintain (): Promise<void> {
    if (this.node.role !== 'validator') return
    const cur = this.index.deliveryKeyOf(this.me)?.key
    const mustRotate = cur === undefined ? this.state.wantKey : this.state.retiring.includes(cur)
    if (mustRotate) {
      await this.announceNewKey()
      return
    }
    if (cur === undefined) return
    const superseded = [...this.held.keys()].filter(k => k !== cur && k !== this.state.pendingKey && this.index.wasPublished(this.me, k))
    if (superseded.length === 0) {
      if (this.state.retiring.length > 0) { this.state.retiring = []; await this.saveState() }
      return
    }
    if (Date.now() - (this.state.currentSince ?? 0) < this.o.retireGraceMs) return
    await this.catchUp()
    for (const k of superseded) await this.destroyDeliveryKey(k)
    this.state.retiring = this.state.retiring.filter(k => this.held.has(k))
    await this.saveState()
  }

  private async announceNewKey (): Promise<void> {
    if (!this.node.isValidator) return
    let pending = this.state.pendingKey === undefined ? undefined : this.held.get(this.state.pendingKey)
    if (pending === undefined || this.state.retiring.includes(this.state.pendingKey as string)) {
      const pair = generateX25519()
      await this.keys.putDeliveryKey(pair)
      pending = { pair, source: 'store' }
      this.held.set(toHex(pair.publicKey), pending)
      this.state.pendingKey = toHex(pair.publicKey)
      this.state.announcedAt = undefined
      await this.saveState()
    }
    if (this.state.announcedAt !== undefined && Date.now() - this.state.announcedAt < ANNOUNCE_RETRY_MS) return
    try {
      await this.node.submitRecords([announceRecord(pending.pair.publicKey, Date.now())])
      this.state.announcedAt = Date.now()
      await this.saveState()
      this.log.info({ deliveryKey: this.state.pendingKey }, 'announced a new delivery key')
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'could not announce a new delivery key; will retry')
    }
  }

  private async destroyDeliveryKey (k: string): Promise<void> {
    const h = this.held.get(k)
    if (h === undefined) return
    if (h.source === 'keyfile') await removeEncryptionKey(this.o.keyFile, this.o.passphrase)
    await this.keys.deleteDeliveryKey(h.pair.publicKey)
    h.pair.privateKey.fill(0)
    this.held.delete(k)
    this.log.info({ deliveryKey: k, from: h.source }, 'delivery key destroyed')
  }

  /** Asks for a new delivery key (also how a node with none in genesis gets its first). */
  async rotate (): Promise<{ current?: string, pending?: string }> {
    return await this.enqueue(async () => {
      const cur = this.index.deliveryKeyOf(this.me)?.key
      if (cur === undefined) this.state.wantKey = true
      else this.state.retiring = [...new Set([...this.state.retiring, cur])]
      this.state.announcedAt = undefined
      await this.saveState()
      await this.maintain()
      return { current: cur, pending: this.state.pendingKey }
    })
  }

  // ---- encryption for submit ----

  private context (r: { type: string, subject: Uint8Array, author: Uint8Array }): EnvelopeContext {
    return { chainId: this.node.genesis.chainId, type: r.type, subject: r.subject, author: r.author }
  }

  /** A recipient by validator name, peer id or hex public key; observers are never recipients. */
  resolveRecipient (name: string): EnvelopeRecipient & { name: string } {
    const set = this.node.schedule.latest()
    const m = set.members.find(x => x.name === name || toHex(x.publicKey) === name.toLowerCase() || peerIdOfPublicKey(x.publicKey) === name)
    if (m === undefined) {
      const observer = this.node.genesis.observers.some(x => x.name === name || peerIdOfPublicKey(x.publicKey) === name || toHex(x.publicKey) === name.toLowerCase())
      throw new PrivacyError(PrivacyErrorCode.RECIPIENT_UNKNOWN, observer ? `${name} is an observer: observers audit metadata and never receive plaintext` : `${name} is not a validator of this chain`)
    }
    const key = this.index.deliveryKeyOf(m.publicKey)
    if (key === undefined) {
      if (bytesEqual(m.publicKey, this.me)) throw new PrivacyError(PrivacyErrorCode.NO_ENCRYPTION_KEY, 'this node has no published encryption key; publish one with `medledger privacy rotate` (POST /v1/privacy/rotate)')
      throw new PrivacyError(PrivacyErrorCode.RECIPIENT_UNKNOWN, `${m.name} has no published encryption key yet`)
    }
    return { name: m.name, node: m.publicKey, deliveryKey: fromHex(key.key) }
  }

  /** Encrypts plaintext into a record for this node to author; the author is always a recipient. */
  sealRecord (input: { type: string, subject: Uint8Array, contentType: string, plaintext: Uint8Array, recipients: string[], timestamp: number }): Unsigned {
    const self = this.resolveRecipient(this.meHex)
    if (!this.held.has(toHex(self.deliveryKey))) throw new PrivacyError(PrivacyErrorCode.NO_ENCRYPTION_KEY, 'this node does not hold the private half of its published encryption key; publish a new one with `medledger privacy rotate`')
    const recipients: EnvelopeRecipient[] = [self]
    for (const name of input.recipients) {
      const r = this.resolveRecipient(name)
      if (!recipients.some(x => bytesEqual(x.node, r.node))) recipients.push(r)
    }
    const { envelope } = sealEnvelope(this.context({ ...input, author: this.me }), { contentType: input.contentType, body: input.plaintext }, recipients)
    const payload = encodeEnvelope(envelope)
    if (payload.length > LIMITS.payloadBytes) throw new PrivacyError(PrivacyErrorCode.TOO_LARGE, `the encrypted payload is ${payload.length} bytes; the limit is ${LIMITS.payloadBytes} (store large content off-chain and record its hash)`)
    return { type: input.type, subject: input.subject, contentType: ENVELOPE_CONTENT_TYPE, payload, timestamp: input.timestamp }
  }

  // ---- reading plaintext ----

  private async envelopeRecord (id: string): Promise<{ stored: StoredRecord, env: Envelope }> {
    const stored = await this.node.store.getRecord(fromHex(id))
    if (stored === undefined) throw new PrivacyError(PrivacyErrorCode.RECORD_NOT_FOUND, `no final record ${id} on this node`)
    if (stored.record.contentType !== ENVELOPE_CONTENT_TYPE) throw new PrivacyError(PrivacyErrorCode.NOT_ENCRYPTED, `record ${id} is not encrypted (content type ${stored.record.contentType}); read it with GET /v1/records/${id}`)
    return { stored, env: decodeEnvelope(stored.record.payload) }
  }

  /**
   * Plaintext for this node's API client: only on a validator, only for a record sent to this
   * node, only if this node is its author or holds a grant in force from its author, and only
   * after the read is final on the chain as an access record.
   */
  async readPlaintext (id: string, reader: string): Promise<PlaintextRead> {
    if (this.node.role !== 'validator') throw new PrivacyError(PrivacyErrorCode.OBSERVER, 'observers never serve plaintext')
    await this.enqueue(async () => { await this.catchUp() })
    const { stored, env } = await this.envelopeRecord(id)
    const r = stored.record
    const shred = this.index.shredOf(id)
    if (shred !== undefined) throw new PrivacyError(PrivacyErrorCode.SHREDDED, `record ${id} was shredded at height ${shred.height}; its content is gone`)
    if (wrapsFor(env, this.me).length === 0) throw new PrivacyError(PrivacyErrorCode.NOT_RECIPIENT, `record ${id} was not sent to this node`)
    if (!bytesEqual(r.author, this.me) && this.index.grantInForce(r.author, r.subject, this.me, r.type, Date.now()) === undefined) {
      throw new PrivacyError(PrivacyErrorCode.NO_GRANT, `no grant in force lets this node read ${r.type} records of subject ${toHex(r.subject)} from ${this.nameOf(r.author)}`)
    }
    const ctx = this.context(r)
    let dataKey = await this.keys.getDataKey(id)
    if (dataKey === undefined) {
      for (const w of wrapsFor(env, this.me)) {
        const k = this.held.get(toHex(w.deliveryKey))
        if (k !== undefined) { dataKey = unwrapDataKey(ctx, env, this.me, k.pair); break }
      }
    }
    if (dataKey === undefined) throw new PrivacyError(PrivacyErrorCode.KEY_UNAVAILABLE, `this node no longer holds a key for record ${id}`)
    const content = openContent(ctx, env, dataKey)
    const access = await this.audit(accessRecord(r.subject, fromHex(id), reader, Date.now()))
    if (this.index.shredOf(id) !== undefined) throw new PrivacyError(PrivacyErrorCode.SHREDDED, `record ${id} was shredded while it was being read`)
    return { recordId: id, type: r.type, subject: toHex(r.subject), author: toHex(r.author), contentType: content.contentType, body: content.body, access }
  }

  private async audit (record: Unsigned): Promise<{ recordId: string, height: number }> {
    let ids: string[]
    try {
      ids = (await this.node.submitRecords([record])).ids
      const height = await this.node.waitFinal(ids, this.o.auditWaitMs)
      return { recordId: ids[0], height }
    } catch (err) {
      if (!isMedledgerError(err)) throw err
      throw new PrivacyError(PrivacyErrorCode.AUDIT_FAILED, `the read could not be written to the ledger (${err.message}); plaintext withheld`)
    }
  }

  // ---- grants, revocations, shreds ----

  private granteeKey (name: string): Uint8Array {
    const m = this.node.schedule.latest().members.find(x => x.name === name || toHex(x.publicKey) === name.toLowerCase() || peerIdOfPublicKey(x.publicKey) === name)
    if (m === undefined) throw new PrivacyError(PrivacyErrorCode.RECIPIENT_UNKNOWN, `${name} is not a validator of this chain (only hospitals that run validators read plaintext)`)
    return m.publicKey
  }

  grantRecord (subject: Uint8Array, grantee: string, g: Omit<GrantPayload, 'grantee'>): Unsigned {
    return grantRecord(subject, { ...g, grantee: this.granteeKey(grantee) }, Date.now())
  }

  revokeRecord (subject: Uint8Array, grantee: string): Unsigned {
    return revokeRecord(subject, this.granteeKey(grantee), Date.now())
  }

  /** A shred record for a record this node authored or received; refused otherwise. */
  async shredRecord (id: string, reason: string): Promise<Unsigned> {
    const { stored, env } = await this.envelopeRecord(id)
    if (!mayShred(stored.record, env, this.me)) throw new PrivacyError(PrivacyErrorCode.SHRED_REFUSED, `only the author or a recipient of record ${id} may shred it`)
    if (this.index.shredOf(id) !== undefined) throw new PrivacyError(PrivacyErrorCode.SHREDDED, `record ${id} is already shredded`)
    return shredRecord(stored.record.subject, fromHex(id), reason, Date.now())
  }

  // ---- metadata views ----

  nameOf (node: Uint8Array | string): string {
    const hex = typeof node === 'string' ? node : toHex(node)
    const m = [...this.node.schedule.latest().members, ...this.node.genesis.validators.members, ...this.node.genesis.observers].find(x => toHex(x.publicKey) === hex)
    return m?.name ?? hex
  }

  grants (filter: { subject?: string, grantee?: string, custodian?: string }): Array<GrantEntry & { inForce: boolean }> {
    const now = Date.now()
    return this.index.grantList(filter).map(g => ({ ...g, inForce: g.kind === 'grant' && (g.notAfter === 0 || now < g.notAfter) }))
  }

  accessLog (filter: { recordId?: string, subject?: string, node?: string }): AccessEntry[] {
    return this.index.accessLog(filter)
  }

  /** What this node knows of an encrypted record, and whether anything here could still open it. */
  async recordStatus (id: string): Promise<Record<string, unknown>> {
    await this.enqueue(async () => { await this.catchUp() })
    const { stored, env } = await this.envelopeRecord(id)
    const mine = wrapsFor(env, this.me)
    const keysHeld = mine.filter(w => this.held.has(toHex(w.deliveryKey))).map(w => toHex(w.deliveryKey))
    const dataKeyHeld = await this.keys.hasDataKey(id)
    const shred: ShredEntry | undefined = this.index.shredOf(id)
    return {
      recordId: id,
      type: stored.record.type,
      subject: toHex(stored.record.subject),
      author: { name: this.nameOf(stored.record.author), publicKey: toHex(stored.record.author) },
      recipients: env.recipients.map(w => ({ name: this.nameOf(w.node), publicKey: toHex(w.node), deliveryKey: toHex(w.deliveryKey) })),
      shredded: shred ?? null,
      here: {
        recipient: mine.length > 0,
        dataKeyHeld,
        deliveryKeysHeld: keysHeld,
        // Nothing on this node can recover the data key any more: the shred is complete here.
        unrecoverable: !dataKeyHeld && keysHeld.length === 0
      }
    }
  }

  keyStatus (): Record<string, unknown> {
    return {
      published: this.index.deliveryKeys().map(k => ({ name: this.nameOf(k.node), node: k.node, deliveryKey: k.key, since: k.height })),
      local: {
        current: this.index.deliveryKeyOf(this.me)?.key ?? null,
        pending: this.state.pendingKey ?? null,
        held: [...this.held.entries()].map(([k, v]) => ({ deliveryKey: k, source: v.source })),
        retiring: this.state.retiring
      },
      indexHeight: this.index.height
    }
  }
}

function mayShred (r: MedRecord, env: Envelope, by: Uint8Array): boolean {
  return bytesEqual(r.author, by) || env.recipients.some(w => bytesEqual(w.node, by))
}
