import { NotFoundCode } from '../chain/errors.ts'
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
  decodeEnvelope, encodeEnvelope, ENVELOPE_CONTENT_TYPE, MAX_RECIPIENTS, openContent, sealEnvelope, unwrapKey, wrapDataKey, wrapsFor,
  type Envelope, type EnvelopeContext, type EnvelopeRecipient, type WrappedKey
} from './envelope.ts'
import { PrivacyError, PrivacyErrorCode } from './errors.ts'
import { removeEncryptionKey } from '../keys/key-file-edit.ts'
import { replaceFile } from '../keys/secure-file.ts'
import { PrivacyIndex, type AccessEntry, type GrantEntry, type IndexSnapshot, type Position, type ShredEntry } from './ledger-index.ts'
import { LocalKeyStore } from './local-store.ts'
import { ReaderPseudonyms } from './reader.ts'
import {
  accessRecord, announceRecord, CONTENT_TYPES, decodeAccess, decodeAnnounce, decodeGrant, decodeRelease, decodeRevoke, decodeShred,
  grantRecord, RECORD_TYPES, releaseRecord, revokeRecord, shredRecord, type GrantPayload
} from './records.ts'
import { generateX25519, type X25519KeyPair } from '../crypto/x25519.ts'
import {
  consentValid, decodeConsent, decodeEmergency, decodeEnrol, emergencyRecord, EMERGENCY_WINDOW_MS, enrolmentValid, PATIENT_CONTENT_TYPES, PATIENT_TYPES
} from './patient-records.ts'

const PRIVACY_TYPES: ReadonlySet<string> = new Set([...Object.values(RECORD_TYPES), ...Object.values(PATIENT_TYPES)])

type Unsigned = Omit<MedRecord, 'author'>

/** What the privacy service needs of the node: a narrow view of MedledgerNode. */
export interface PrivacyNode {
  readonly genesis: Genesis
  readonly key: NodeKey
  readonly role: 'validator' | 'observer' | 'member'
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
  /**
   * Key releases this node (as custodian) still owes: "<subject hex>/<grantee hex>" pairs whose
   * grant became final here; each is cleared once every record it covers is released.
   */
  releases?: string[]
  /** The one-time sweep of data keys held without a grant has run (sweepUngrantedKeys). */
  ungrantedSwept?: boolean
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
// Key releases submitted per maintenance pass (one batch each), so a large grant paces itself.
const RELEASES_PER_PASS = 64

/**
 * Privacy by construction, per node (docs/privacy.md): follows the chain in order and folds its
 * privacy records into the index; keeps the data key of each record it authored, and of each
 * record whose custodian released the key to it under a grant in force, in the off-chain key
 * store; releases its own records' keys to grantees (key.release records) once their grant is
 * final; honours shred records of the custodian by destroying that data key and rotating away
 * its delivery keys; serves plaintext only to a node holding a grant in force, after writing the
 * read to the chain.
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
  private releasedAt = 0
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

  private constructor (private readonly node: PrivacyNode, private readonly keys: LocalKeyStore, private readonly readers: ReaderPseudonyms, private readonly o: PrivacyOptions) {
    this.me = node.key.publicKey
    this.meHex = toHex(this.me)
    this.log = node.log.child({ module: 'privacy' })
  }

  static async open (node: PrivacyNode, o: PrivacyOptions): Promise<PrivacyService> {
    const keys = await LocalKeyStore.open(o.dir, node.key.seed)
    const s = new PrivacyService(node, keys, await ReaderPseudonyms.open(o.dir, keys), o)
    await s.load()
    node.on('finalized', s.onFinalized)
    await s.enqueue(async () => {
      await s.catchUp()
      // Needs the grants up to the head, so after catching up.
      if (s.state.ungrantedSwept !== true) await s.sweepUngrantedKeys()
      await s.maintain()
    })
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
    // A key store restored from a backup taken before a shred holds that record's data key again:
    // destroy it before anything can use it (the index knows every shred up to its height, and
    // catching up destroys the rest as their shreds are replayed).
    for (const id of await this.keys.dataKeyIds()) {
      if (this.index.shredOf(id) !== undefined) { await this.keys.deleteDataKey(id); this.log.warn({ recordId: id }, 'destroyed the data key of a shredded record found in the key store (restored from a backup?)') }
    }
  }

  /**
   * Once per key store: nodes before key release unwrapped every record sent to them, grant or
   * not. Data keys of other hospitals' records for whose subject their custodian never granted
   * this node anything are destroyed, so "no grant, no key" holds for the store as well.
   */
  private async sweepUngrantedKeys (): Promise<void> {
    let swept = 0
    for (const id of await this.keys.dataKeyIds()) {
      const r = (await this.node.store.getRecord(fromHex(id)))?.record
      if (r === undefined || bytesEqual(r.author, this.me)) continue
      if (this.index.grantList({ custodian: toHex(r.author), subject: toHex(r.subject), grantee: this.meHex }).length > 0) continue
      await this.keys.deleteDataKey(id)
      swept++
    }
    if (swept > 0) this.log.info({ swept }, 'destroyed data keys of records this node holds no grant for (unwrapped before key release existed)')
    this.state.ungrantedSwept = true
    await this.saveState()
  }

  // The snapshot is the whole index at one height, so replaying from an older one after a crash
  // reaches the same state: at most one write a second.
  private async saveIndex (force = true): Promise<void> {
    if (!force && Date.now() - this.savedAt < 1000) return
    await replaceFile(join(this.o.dir, 'index.json'), JSON.stringify(this.index.toJson()))
    this.savedAt = Date.now()
    this.savedHeight = this.index.height
  }

  private async saveState (): Promise<void> {
    await replaceFile(join(this.o.dir, 'state.json'), JSON.stringify(this.state, null, 2) + '\n')
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
        if (bytesEqual(r.author, this.me) && !bytesEqual(g.grantee, this.me)) await this.oweReleases(r.subject, g.grantee)
        return
      }
      case RECORD_TYPES.release:
        if (r.contentType === CONTENT_TYPES.release) await this.onRelease(r, pos)
        return
      case PATIENT_TYPES.enrol: {
        if (r.contentType !== PATIENT_CONTENT_TYPES.enrol) return
        const e = decodeEnrol(r.payload)
        if (!enrolmentValid(this.node.genesis.chainId, r.author, r.subject, e)) {
          this.log.warn({ recordId: base.recordId }, 'ignored an enrolment the patient did not sign')
          return
        }
        this.index.applyEnrolment({ ...base, custodian: toHex(r.author), subject: toHex(r.subject), signKey: toHex(e.signKey), boxKey: toHex(e.boxKey) })
        // Records written before the enrolment reach the patient by key release.
        if (bytesEqual(r.author, this.me)) await this.oweReleases(r.subject, e.signKey)
        return
      }
      case PATIENT_TYPES.consent: {
        if (r.contentType !== PATIENT_CONTENT_TYPES.consent) return
        const c = decodeConsent(r.payload)
        const custodian = toHex(c.custodian)
        const subject = toHex(r.subject)
        // Counts only if signed by the key enrolled for (custodian, subject) now, and newer than
        // the last patient consent counted for that grantee (a copied old one is a replay).
        if (this.index.enrolmentOf(custodian, subject)?.signKey !== toHex(c.signKey) || !consentValid(this.node.genesis.chainId, r.subject, c)) {
          this.log.warn({ recordId: base.recordId }, 'ignored a consent not signed by the enrolled patient')
          return
        }
        if (!this.index.takeConsentTime(custodian, subject, toHex(c.grantee), c.issuedAt)) return
        const entry = { ...base, custodian, subject, grantee: toHex(c.grantee), patient: toHex(c.signKey) }
        if (c.grant) {
          this.index.applyGrant({ ...entry, types: c.types, notAfter: c.notAfter, consentHash: '' })
          if (bytesEqual(c.custodian, this.me) && !bytesEqual(c.grantee, this.me)) await this.oweReleases(r.subject, c.grantee)
        } else {
          this.index.applyRevoke(entry)
        }
        return
      }
      case PATIENT_TYPES.emergency: {
        if (r.contentType !== PATIENT_CONTENT_TYPES.emergency) return
        const e = decodeEmergency(r.payload)
        const stored = await this.node.store.getRecord(e.recordId)
        if (stored === undefined || !finalBefore(stored, pos) || stored.record.contentType !== ENVELOPE_CONTENT_TYPE || !bytesEqual(stored.record.subject, r.subject)) return
        this.index.applyEmergency({ emergencyRecordId: base.recordId, recordId: toHex(e.recordId), subject: toHex(r.subject), node: toHex(r.author), reason: e.reason, reader: e.reader, height: pos.height, timestamp: r.timestamp })
        // Break-glass: the custodian releases that one record's key to the node that stated a reason.
        if (bytesEqual(stored.record.author, this.me) && !bytesEqual(r.author, this.me)) await this.oweReleases(r.subject, r.author)
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

  /**
   * A final envelope. Its author (the custodian) keeps the data key in its key store and owes a
   * key release to every grantee in force that the envelope does not name. Another node named by
   * the envelope keeps the data key only while the custodian's grant to it is in force: without a
   * grant it unwraps nothing (docs/privacy.md, "Grants").
   */
  private async onEnvelope (r: MedRecord): Promise<void> {
    const env = decodeEnvelope(r.payload)
    const id = toHex(recordId(r))
    this.index.addRecord(toHex(r.author), toHex(r.subject), id)
    if (this.index.shredOf(id) !== undefined) return
    const mine = bytesEqual(r.author, this.me)
    if (mine) {
      for (const g of this.grantsInForce(r.subject, r.type)) {
        if (wrapsFor(env, fromHex(g.grantee)).length === 0) await this.oweReleases(r.subject, fromHex(g.grantee))
      }
    }
    const wraps = wrapsFor(env, this.me)
    if (wraps.length === 0 || await this.keys.hasDataKey(id)) return
    if (!mine && this.index.grantInForce(r.author, r.subject, this.me, r.type, Date.now()) === undefined) return
    if (await this.storeDataKey(id, this.context(r), wraps)) return
    this.log.warn({ recordId: id, deliveryKeys: wraps.map(w => toHex(w.deliveryKey)) }, 'a record sent to this node is wrapped to a delivery key it no longer holds: unreadable here')
  }

  /** Unwraps the first wrap this node holds the delivery key of into the key store. */
  private async storeDataKey (id: string, ctx: EnvelopeContext, wraps: WrappedKey[]): Promise<boolean> {
    for (const w of wraps) {
      const k = this.held.get(toHex(w.deliveryKey))
      if (k === undefined) continue
      const dk = unwrapKey(ctx, w, k.pair)
      await this.keys.putDataKey(id, dk)
      dk.fill(0)
      return true
    }
    return false
  }

  /**
   * A key release by a record's custodian to this node: the data key is kept if the custodian's
   * grant to this node is in force now (in chain order: a revocation final before the release
   * wins). Releases by anyone but the record's author, or before the record, count for nothing.
   */
  private async onRelease (r: MedRecord, pos: Position): Promise<void> {
    const rel = decodeRelease(r.payload)
    const id = toHex(rel.recordId)
    if (!bytesEqual(rel.wrap.node, this.me)) {
      // A release to the patient enrolled for this subject at its author: kept for the patient API.
      if (this.index.enrolmentOf(toHex(r.author), toHex(r.subject))?.signKey !== toHex(rel.wrap.node)) return
      const target = await this.node.store.getRecord(rel.recordId)
      if (target === undefined || !finalBefore(target, pos) || !bytesEqual(target.record.author, r.author)) return
      this.index.addPatientRelease({ recordId: id, node: toHex(rel.wrap.node), deliveryKey: toHex(rel.wrap.deliveryKey), ephemeral: toHex(rel.wrap.ephemeral), wrapped: toHex(rel.wrap.wrapped) })
      return
    }
    if (this.index.shredOf(id) !== undefined || await this.keys.hasDataKey(id)) return
    const stored = await this.node.store.getRecord(rel.recordId)
    if (stored === undefined || !finalBefore(stored, pos) || stored.record.contentType !== ENVELOPE_CONTENT_TYPE || !bytesEqual(stored.record.author, r.author)) {
      this.log.warn({ release: toHex(recordId(r)), recordId: id }, 'ignored a key release that is not by the record\'s custodian or not after the record')
      return
    }
    const rec = stored.record
    if (!this.mayHold(id, rec)) return
    if (await this.storeDataKey(id, this.context(rec), [rel.wrap])) {
      this.log.info({ recordId: id, custodian: this.nameOf(rec.author) }, 'received a released data key')
      return
    }
    this.log.warn({ recordId: id, deliveryKey: toHex(rel.wrap.deliveryKey) }, 'a key release names a delivery key this node no longer holds')
  }

  /** This node's grants in force for a subject that cover a record type. */
  private grantsInForce (subject: Uint8Array, type: string): GrantEntry[] {
    const now = Date.now()
    return this.index.grantList({ custodian: this.meHex, subject: toHex(subject) })
      .filter(g => this.index.grantInForce(this.me, subject, fromHex(g.grantee), type, now) !== undefined)
  }

  private async oweReleases (subject: Uint8Array, grantee: Uint8Array): Promise<void> {
    const job = `${toHex(subject)}/${toHex(grantee)}`
    const owed = this.state.releases ?? []
    if (owed.includes(job)) return
    this.state.releases = [...owed, job]
    await this.saveState()
  }

  /**
   * Pays the key releases this node owes: for each (subject, grantee), every record this node
   * authored about the subject that a grant in force covers, that is not shredded, and that is
   * wrapped to the grantee's current delivery key neither in its envelope nor in an earlier
   * release, gets a key.release record wrapping the data key to that key.
   */
  private async payReleases (): Promise<void> {
    const owed = this.state.releases ?? []
    if (owed.length === 0 || !this.node.isValidator || Date.now() - this.releasedAt < ANNOUNCE_RETRY_MS) return
    const [subjectHex, granteeHex] = owed[0].split('/')
    const subject = fromHex(subjectHex)
    const grantee = fromHex(granteeHex)
    // The grantee is a hospital (its published delivery key), or the patient enrolled here for the subject.
    const enrolled = this.index.enrolmentOf(this.meHex, subjectHex)
    const patient = enrolled?.signKey === granteeHex
    const deliveryKey = patient ? enrolled?.boxKey : this.index.deliveryKeyOf(grantee)?.key
    const due: Unsigned[] = []
    let more = false
    if (deliveryKey !== undefined) {
      const released = new Set<string>()
      const candidates: MedRecord[] = []
      const head = this.node.store.head?.height ?? 0
      for await (const fb of this.node.store.iterateFinalized(1, head)) {
        for (const batch of fb.block.body.batches) {
          if (!bytesEqual(batch.author, this.me)) continue
          for (const r of batch.records) {
            if (!bytesEqual(r.subject, subject)) continue
            if (r.type === RECORD_TYPES.release && r.contentType === CONTENT_TYPES.release) {
              try {
                const rel = decodeRelease(r.payload)
                // Released to the key the grantee has now: after it rotates, a new grant releases again.
                if (bytesEqual(rel.wrap.node, grantee) && toHex(rel.wrap.deliveryKey) === deliveryKey) released.add(toHex(rel.recordId))
              } catch {}
            } else if (r.contentType === ENVELOPE_CONTENT_TYPE) candidates.push(r)
          }
        }
      }
      for (const r of candidates) {
        const id = toHex(recordId(r))
        if (released.has(id) || this.index.shredOf(id) !== undefined) continue
        if (!patient && this.index.grantInForce(this.me, subject, grantee, r.type, Date.now()) === undefined && this.index.emergencyInForce(id, granteeHex, Date.now(), EMERGENCY_WINDOW_MS) === undefined) continue
        let env: Envelope
        try { env = decodeEnvelope(r.payload) } catch { continue }
        if (wrapsFor(env, grantee).some(w => toHex(w.deliveryKey) === deliveryKey)) continue
        const dk = await this.keys.getDataKey(id)
        if (dk === undefined) continue
        const wrap = wrapDataKey(this.context(r), dk, { node: grantee, deliveryKey: fromHex(deliveryKey) })
        dk.fill(0)
        if (due.length === RELEASES_PER_PASS) { more = true; break }
        due.push(releaseRecord(r.subject, fromHex(id), wrap, Date.now()))
      }
    }
    // Nothing left to release (every covered record's key is on the chain for the grantee, or
    // the grantee has no key yet and a later grant will try again): the debt is paid.
    if (due.length === 0) {
      this.state.releases = owed.slice(1)
      await this.saveState()
      return
    }
    try {
      await this.node.submitRecords(due)
      // The next pass looks for these on the chain; give them time to be final before it.
      this.releasedAt = Date.now()
      this.log.info({ grantee: this.nameOf(grantee), subject: subjectHex, records: due.length, more }, 'released data keys to a grantee')
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'could not release data keys; will retry')
    }
  }

  /**
   * A shred is honoured when its author is the record's custodian (its author) and the
   * record is final before it. The data key is destroyed now; the delivery keys it was wrapped to
   * here are rotated away and destroyed after the grace period (maintain).
   */
  private async onShred (r: MedRecord, shredId: Uint8Array, pos: Position): Promise<void> {
    const s = decodeShred(r.payload)
    const target = toHex(s.recordId)
    if (this.index.shredOf(target) !== undefined) return
    const stored = await this.node.store.getRecord(s.recordId)
    if (stored === undefined || !finalBefore(stored, pos)) {
      this.log.warn({ shred: toHex(shredId), recordId: target }, 'ignored a shred of a record that is not final before it')
      return
    }
    if (stored.record.contentType !== ENVELOPE_CONTENT_TYPE) return
    const env = decodeEnvelope(stored.record.payload)
    if (!bytesEqual(stored.record.author, r.author)) {
      this.log.warn({ shred: toHex(shredId), recordId: target, by: toHex(r.author) }, 'ignored a shred by a node that is not the record\'s custodian (its author)')
      return
    }
    this.index.applyShred({ recordId: target, by: toHex(r.author), shredRecordId: toHex(shredId), reason: s.reason, height: pos.height, timestamp: r.timestamp })
    const hadKey = await this.keys.deleteDataKey(target)
    // Every delivery key this node holds could open a wrap of this record (in the envelope or in a
    // key release to it): if the record concerned this node at all, all of them are rotated away.
    // (A custodian's grant or revocation to this node for the subject means a key release to it
    // may be on the chain, stored here or not.)
    const concerned = hadKey || bytesEqual(stored.record.author, this.me) || wrapsFor(env, this.me).length > 0 ||
      this.index.grantList({ custodian: toHex(stored.record.author), subject: toHex(stored.record.subject), grantee: this.meHex }).length > 0
    const mine = concerned ? [...this.held.keys()].filter(k => this.index.wasPublished(this.me, k)) : []
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
    await this.payReleases()
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

  /**
   * Encrypts plaintext into a record for this node to author. The data key is wrapped to this node
   * (the custodian) and to each hospital that holds a grant in force from it for this subject and
   * type; `recipients` names hospitals that must be among them (one without a grant is refused:
   * grant it first). Nobody else gets a wrap: a later grant releases the key with key.release.
   */
  sealRecord (input: { type: string, subject: Uint8Array, contentType: string, plaintext: Uint8Array, recipients: string[], timestamp: number }): Unsigned {
    const self = this.resolveRecipient(this.meHex)
    if (!this.held.has(toHex(self.deliveryKey))) throw new PrivacyError(PrivacyErrorCode.NO_ENCRYPTION_KEY, 'this node does not hold the private half of its published encryption key; publish a new one with `medledger privacy rotate`')
    const recipients: EnvelopeRecipient[] = [self]
    // The patient enrolled here for this subject gets a wrap too (docs/privacy.md, "Patients").
    const patient = this.index.enrolmentOf(this.meHex, toHex(input.subject))
    if (patient !== undefined) recipients.push({ node: fromHex(patient.signKey), deliveryKey: fromHex(patient.boxKey) })
    for (const name of input.recipients) {
      const r = this.resolveRecipient(name)
      if (bytesEqual(r.node, this.me)) continue
      if (this.index.grantInForce(this.me, input.subject, r.node, input.type, Date.now()) === undefined) {
        throw new PrivacyError(PrivacyErrorCode.NO_GRANT, `${r.name} holds no grant in force from this node for ${input.type} records of subject ${toHex(input.subject)}: grant it first (POST /v1/privacy/grants); records are encrypted to the custodian and released to grantees`)
      }
    }
    for (const g of this.grantsInForce(input.subject, input.type)) {
      const key = this.index.deliveryKeyOf(g.grantee)?.key
      // Past the envelope's recipient limit, grantees get their key by key.release instead.
      if (key === undefined || recipients.some(x => toHex(x.node) === g.grantee) || recipients.length === MAX_RECIPIENTS) continue
      recipients.push({ node: fromHex(g.grantee), deliveryKey: fromHex(key) })
    }
    const { envelope } = sealEnvelope(this.context({ ...input, author: this.me }), { contentType: input.contentType, body: input.plaintext }, recipients)
    const payload = encodeEnvelope(envelope)
    if (payload.length > LIMITS.payloadBytes) throw new PrivacyError(PrivacyErrorCode.TOO_LARGE, `the encrypted payload is ${payload.length} bytes; the limit is ${LIMITS.payloadBytes} (store large content off-chain and record its hash)`)
    return { type: input.type, subject: input.subject, contentType: ENVELOPE_CONTENT_TYPE, payload, timestamp: input.timestamp }
  }

  // ---- reading plaintext ----

  private async envelopeRecord (id: string): Promise<{ stored: StoredRecord, env: Envelope }> {
    const stored = await this.node.store.getRecord(fromHex(id))
    if (stored === undefined) throw new PrivacyError(NotFoundCode.RECORD, `no final record ${id} on this node`)
    if (stored.record.contentType !== ENVELOPE_CONTENT_TYPE) throw new PrivacyError(PrivacyErrorCode.NOT_ENCRYPTED, `record ${id} is not encrypted (content type ${stored.record.contentType}); read it with GET /v1/records/${id}`)
    return { stored, env: decodeEnvelope(stored.record.payload) }
  }

  /**
   * Plaintext for this node's API client: only on a validator, only if this node is the record's
   * author or holds a grant in force from its author, only with a data key this node holds (its
   * own record, a key the custodian released to it, or a wrap to it in the envelope), and only
   * after the read is final on the chain as an access record, and the grant still in force then.
   * `reader` is the local label of the person reading; the chain gets its keyed pseudonym.
   */
  async readPlaintext (id: string, reader: string): Promise<PlaintextRead> {
    if (this.node.role !== 'validator') throw new PrivacyError(PrivacyErrorCode.OBSERVER, `only validators serve plaintext (this node is ${this.node.role})`)
    await this.enqueue(async () => { await this.catchUp() })
    const { stored, env } = await this.envelopeRecord(id)
    const r = stored.record
    this.checkMayRead(id, r)
    const ctx = this.context(r)
    let dataKey = await this.keys.getDataKey(id)
    if (dataKey === undefined) {
      // A wrap to this node in the envelope that was not unwrapped on receipt (no grant then).
      for (const w of wrapsFor(env, this.me)) {
        const k = this.held.get(toHex(w.deliveryKey))
        if (k !== undefined) { dataKey = unwrapKey(ctx, w, k.pair); break }
      }
    }
    if (dataKey === undefined) {
      if (wrapsFor(env, this.me).length > 0) throw new PrivacyError(PrivacyErrorCode.KEY_UNAVAILABLE, `this node no longer holds a key for record ${id}`)
      throw new PrivacyError(PrivacyErrorCode.NOT_RECIPIENT, `this node holds no key for record ${id}: its custodian ${this.nameOf(r.author)} has not released it to this node (a key release follows a final grant)`)
    }
    const content = openContent(ctx, env, dataKey)
    dataKey.fill(0)
    const access = await this.audit(accessRecord(r.subject, fromHex(id), await this.readers.pseudonym(reader), Date.now()))
    // The read waited for its access record: a shred or revocation final meanwhile still stops it.
    await this.enqueue(async () => { await this.catchUp() })
    if (this.index.shredOf(id) !== undefined) throw new PrivacyError(PrivacyErrorCode.SHREDDED, `record ${id} was shredded while it was being read`)
    this.checkMayRead(id, r)
    return { recordId: id, type: r.type, subject: toHex(r.subject), author: toHex(r.author), contentType: content.contentType, body: content.body, access }
  }

  private checkMayRead (id: string, r: MedRecord): void {
    const shred = this.index.shredOf(id)
    if (shred !== undefined) throw new PrivacyError(PrivacyErrorCode.SHREDDED, `record ${id} was shredded at height ${shred.height}; its content is gone`)
    if (!this.mayHold(id, r)) {
      throw new PrivacyError(PrivacyErrorCode.NO_GRANT, `no grant in force lets this node read ${r.type} records of subject ${toHex(r.subject)} from ${this.nameOf(r.author)}`)
    }
  }

  /** This node's own record, a grant in force from its custodian, or this node's emergency read of it in force. */
  private mayHold (id: string, r: MedRecord): boolean {
    return bytesEqual(r.author, this.me) || this.index.grantInForce(r.author, r.subject, this.me, r.type, Date.now()) !== undefined ||
      this.index.emergencyInForce(id, this.meHex, Date.now(), EMERGENCY_WINDOW_MS) !== undefined
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

  /**
   * A shred record for a record this node authored (its custodian). Any other node is refused:
   * it may ask the custodian, whose shred every node honours.
   */
  async shredRecord (id: string, reason: string): Promise<Unsigned> {
    const { stored } = await this.envelopeRecord(id)
    if (!bytesEqual(stored.record.author, this.me)) throw new PrivacyError(PrivacyErrorCode.SHRED_REFUSED, `only the custodian of record ${id} (its author, ${this.nameOf(stored.record.author)}) may shred it; ask that hospital to shred it`)
    if (this.index.shredOf(id) !== undefined) throw new PrivacyError(PrivacyErrorCode.SHREDDED, `record ${id} is already shredded`)
    return shredRecord(stored.record.subject, fromHex(id), reason, Date.now())
  }

  /**
   * An emergency ("break-glass") read of another hospital's record without a grant: the record
   * that states the reason. Once it is final, the custodian's node releases that record's key to
   * this node, which may then read it for EMERGENCY_WINDOW_MS (each read still an access record),
   * and the patient sees the emergency and its reason in the record's access log.
   */
  async emergencyRecord (id: string, reason: string, reader: string): Promise<Unsigned> {
    if (this.node.role !== 'validator') throw new PrivacyError(PrivacyErrorCode.OBSERVER, 'observers never read plaintext')
    const { stored } = await this.envelopeRecord(id)
    if (this.index.shredOf(id) !== undefined) throw new PrivacyError(PrivacyErrorCode.SHREDDED, `record ${id} is shredded; its content is gone`)
    return emergencyRecord(stored.record.subject, fromHex(id), reason, await this.readers.pseudonym(reader), Date.now())
  }

  // ---- the patient's views (docs/privacy.md, "Patients") ----

  /** The enrolment of (custodian, subject), if any. */
  enrolmentOf (custodian: string, subject: string): { signKey: string, boxKey: string, recordId: string, height: number } | undefined {
    return this.index.enrolmentOf(custodian, subject)
  }

  /** Every (custodian, subject) enrolled to this patient key, and the encrypted records of each. */
  async patientRecords (signKey: string): Promise<Array<{ custodian: string, subject: string, recordIds: readonly string[] }>> {
    await this.enqueue(async () => { await this.catchUp() })
    return this.index.enrolmentsOfKey(signKey).map(e => ({ custodian: e.custodian, subject: e.subject, recordIds: this.index.recordsOf(e.custodian, e.subject) }))
  }

  /** Key releases of a record to patient keys (the patient's wrap for records written before enrolment). */
  patientReleases (recordId: string): ReadonlyArray<{ node: string, deliveryKey: string, ephemeral: string, wrapped: string }> {
    return this.index.patientReleasesOf(recordId)
  }

  emergencyLog (filter: { recordId?: string, subject?: string }): Array<{ emergencyRecordId: string, recordId: string, node: string, reason: string, reader: string, height: number, timestamp: number }> {
    return this.index.emergencyLog(filter)
  }

  /** Whether a shred of this record is final. */
  isShredded (id: string): boolean {
    return this.index.shredOf(id) !== undefined
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
        // (After a shred, every delivery key this node must retire may open a key release to it.)
        unrecoverable: !dataKeyHeld && keysHeld.length === 0 && (shred === undefined || !this.state.retiring.some(k => this.held.has(k)))
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

/** Whether a stored record is final strictly before the chain position `pos`. */
function finalBefore (stored: StoredRecord, pos: Position): boolean {
  const l = stored.location
  if (l === undefined) return false
  return l.height < pos.height || (l.height === pos.height && (l.batchIndex < pos.batch || (l.batchIndex === pos.batch && l.recordIndex < pos.index)))
}
