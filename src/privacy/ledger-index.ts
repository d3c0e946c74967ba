import { toHex } from '../encoding/bytes.ts'

/**
 * What the privacy records on the chain say, folded in chain order: each node's current X25519
 * delivery key, the grants and revocations in force, the shredded records and the access log.
 * Every node that has processed the same blocks holds the same index; it is derived data (the
 * snapshot on disk only saves replaying the chain at start). It is bounded in memory: each author
 * has a share of grants and of access-log entries (IndexLimits below).
 */
export interface Position { height: number, batch: number, index: number }

export interface DeliveryKeyEntry { node: string, key: string, height: number, recordId?: string }

export interface GrantEntry {
  kind: 'grant' | 'revoke'
  /** The hospital whose records the grant opens: the author of the grant. */
  custodian: string
  subject: string
  grantee: string
  types: string[]
  notAfter: number
  consentHash: string
  recordId: string
  height: number
  timestamp: number
  /** Set when the patient signed it (patient.consent): the patient's Ed25519 key. */
  patient?: string
}

export interface ShredEntry { recordId: string, by: string, shredRecordId: string, reason: string, height: number, timestamp: number }

export interface AccessEntry { accessRecordId: string, recordId: string, subject: string, node: string, reader: string, height: number, timestamp: number }

/** A patient's enrolment at a hospital (patient.enrol): the latest one for (custodian, subject) counts. */
export interface EnrolmentEntry { custodian: string, subject: string, signKey: string, boxKey: string, recordId: string, height: number, timestamp: number }

/** An emergency read (access.emergency) by a node, with its stated reason. */
export interface EmergencyEntry { emergencyRecordId: string, recordId: string, subject: string, node: string, reason: string, reader: string, height: number, timestamp: number }

/** A key release by a custodian to an enrolled patient's key. */
export interface PatientReleaseEntry { recordId: string, node: string, deliveryKey: string, ephemeral: string, wrapped: string }

export interface IndexSnapshot {
  version: 2
  genesisHash: string
  height: number
  keys: DeliveryKeyEntry[]
  keyHistory: Array<[string, string[]]>
  grants: GrantEntry[]
  shreds: ShredEntry[]
  reads: AccessEntry[]
  enrolments: EnrolmentEntry[]
  consentTimes: Array<[string, number]>
  emergencies: EmergencyEntry[]
  records: Array<[string, string[]]>
  patientReleases: PatientReleaseEntry[]
}

const grantKey = (custodian: string, subject: string, grantee: string): string => `${custodian}/${subject}/${grantee}`

/**
 * The index's memory bound (docs/network.md, "Bounds"). Every author of the chain (validator or
 * member) has its own share of grants and of access-log entries, counted in entries and in bytes;
 * an author past its share loses its own oldest entries, so one author flooding grant or read
 * records pushes out only what it wrote itself. The whole index is thus bounded by the number of
 * authors (fixed by genesis and governance) times these shares.
 */
export interface IndexLimits {
  /** Grants and revocations kept per custodian (the author of the grant). */
  grantsPerAuthor: number
  grantBytesPerAuthor: number
  /** Access-log entries kept per author of the read records. */
  readsPerAuthor: number
  readBytesPerAuthor: number
  /** Delivery keys remembered per node (wasPublished). */
  keyHistoryPerNode: number
  /** Patient enrolments kept per custodian (the hospital that wrote them). */
  enrolmentsPerAuthor: number
  /** Break-glass reads kept per reading node. */
  emergenciesPerAuthor: number
}

// A typical entry is estimated at ~520 bytes, so the entry count binds first (about 10 MB per kind
// and author) and the byte bound only for entries with long reader names or type lists.
export const DEFAULT_INDEX_LIMITS: IndexLimits = {
  grantsPerAuthor: 20_000,
  grantBytesPerAuthor: 12 * 1024 * 1024,
  readsPerAuthor: 20_000,
  readBytesPerAuthor: 12 * 1024 * 1024,
  keyHistoryPerNode: 256,
  enrolmentsPerAuthor: 100_000,
  emergenciesPerAuthor: 20_000
}

// What an entry costs beyond its strings (object, map slots, numbers): a round upper estimate.
const ENTRY_OVERHEAD = 256

function grantBytes (g: GrantEntry): number {
  return ENTRY_OVERHEAD + g.custodian.length + g.subject.length + g.grantee.length + g.consentHash.length + g.recordId.length + g.types.reduce((n, t) => n + t.length + 16, 0)
}

function readBytes (a: AccessEntry): number {
  return ENTRY_OVERHEAD + a.accessRecordId.length + a.recordId.length + a.subject.length + a.node.length + a.reader.length
}

/**
 * Entries counted per author, oldest first, each author within a share of entries and estimated
 * bytes: adding past the share gives back the author's oldest keys, for the caller to drop.
 */
class AuthorShares<K> {
  private readonly shares = new Map<string, { order: Map<K, number>, bytes: number }>()
  bytes = 0
  evicted = 0

  constructor (private readonly maxEntries: number, private readonly maxBytes: number) {}

  /** Counts `key` as the author's newest entry; returns the keys now past the author's share. */
  add (author: string, key: K, bytes: number): K[] {
    this.remove(author, key)
    let share = this.shares.get(author)
    if (share === undefined) this.shares.set(author, share = { order: new Map(), bytes: 0 })
    share.order.set(key, bytes)
    share.bytes += bytes
    this.bytes += bytes
    const out: K[] = []
    while (share.order.size > 1 && (share.order.size > this.maxEntries || share.bytes > this.maxBytes)) {
      const [oldest, b] = share.order.entries().next().value as [K, number]
      share.order.delete(oldest)
      share.bytes -= b
      this.bytes -= b
      this.evicted++
      out.push(oldest)
    }
    return out
  }

  remove (author: string, key: K): void {
    const share = this.shares.get(author)
    const b = share?.order.get(key)
    if (share === undefined || b === undefined) return
    share.order.delete(key)
    share.bytes -= b
    this.bytes -= b
  }
}

/** What the bound has cost so far (entries dropped), for status and tests. */
export interface IndexStats { grants: number, grantBytes: number, reads: number, readBytes: number, evictedGrants: number, evictedReads: number }

export class PrivacyIndex {
  height = 0
  private readonly keys = new Map<string, DeliveryKeyEntry>()
  // Every delivery key a node has had published: a held key in here that is not current is retired.
  private readonly history = new Map<string, Set<string>>()
  private readonly grants = new Map<string, GrantEntry>()
  private readonly grantShares: AuthorShares<string>
  private readonly shreds = new Map<string, ShredEntry>()
  // The access log in chain order, by arrival number (a record id could repeat; a number cannot).
  private readonly reads = new Map<number, AccessEntry>()
  private readonly readShares: AuthorShares<number>
  private readSeq = 0
  private readonly enrolments = new Map<string, EnrolmentEntry>()
  // Newest issuedAt of a patient consent counted per (custodian, subject, grantee): an older one is a replay.
  private readonly consentTimes = new Map<string, number>()
  private readonly enrolmentShares: AuthorShares<string>
  // Break-glass reads by their record id, oldest first; each reading node within its share.
  private readonly emergencies = new Map<string, EmergencyEntry>()
  private readonly emergencyShares: AuthorShares<string>
  // Envelope record ids by custodian/subject, in chain order (what a patient's records are).
  private readonly records = new Map<string, string[]>()
  private readonly patientReleases = new Map<string, PatientReleaseEntry[]>()

  constructor (readonly genesisHash: string, readonly limits: IndexLimits = DEFAULT_INDEX_LIMITS) {
    this.grantShares = new AuthorShares(limits.grantsPerAuthor, limits.grantBytesPerAuthor)
    this.readShares = new AuthorShares(limits.readsPerAuthor, limits.readBytesPerAuthor)
    // Counted in entries (the byte bound follows from the fixed-size fields plus a bounded reason).
    this.enrolmentShares = new AuthorShares(limits.enrolmentsPerAuthor, Number.POSITIVE_INFINITY)
    this.emergencyShares = new AuthorShares(limits.emergenciesPerAuthor, Number.POSITIVE_INFINITY)
  }

  /** The index at height 0: the encryption keys the genesis file publishes. */
  static fromGenesis (genesisHash: Uint8Array, members: ReadonlyArray<{ publicKey: Uint8Array, encryptionKey?: Uint8Array }>, limits?: IndexLimits): PrivacyIndex {
    const ix = new PrivacyIndex(toHex(genesisHash), limits)
    for (const m of members) {
      if (m.encryptionKey !== undefined) ix.setKey({ node: toHex(m.publicKey), key: toHex(m.encryptionKey), height: 0 })
    }
    return ix
  }

  private setKey (e: DeliveryKeyEntry): void {
    this.keys.set(e.node, e)
    let h = this.history.get(e.node)
    if (h === undefined) this.history.set(e.node, h = new Set())
    h.delete(e.key)
    h.add(e.key)
    // Oldest first out: a node re-announcing keys in a loop forgets only its own old keys.
    while (h.size > this.limits.keyHistoryPerNode) h.delete(h.values().next().value as string)
  }

  /** Sets a grant or revocation within its custodian's share, dropping the custodian's oldest past it. */
  private setGrant (g: GrantEntry): void {
    const key = grantKey(g.custodian, g.subject, g.grantee)
    this.grants.set(key, g)
    // A dropped grant fails closed: with no entry the grantee reads nothing (as if revoked).
    for (const old of this.grantShares.add(g.custodian, key, grantBytes(g))) this.grants.delete(old)
  }

  private addRead (a: AccessEntry): void {
    const seq = this.readSeq++
    this.reads.set(seq, a)
    // The read record itself stays on the chain (and provable there); only this view forgets it.
    for (const old of this.readShares.add(a.node, seq, readBytes(a))) this.reads.delete(old)
  }

  // ---- folding records (the caller has checked authorship rules that need the chain) ----

  applyAnnounce (author: Uint8Array, deliveryKey: Uint8Array, recordId: Uint8Array, pos: Position): void {
    this.setKey({ node: toHex(author), key: toHex(deliveryKey), height: pos.height, recordId: toHex(recordId) })
  }

  applyGrant (e: Omit<GrantEntry, 'kind'>): void {
    this.setGrant({ kind: 'grant', ...e })
  }

  applyRevoke (e: Pick<GrantEntry, 'custodian' | 'subject' | 'grantee' | 'recordId' | 'height' | 'timestamp' | 'patient'>): void {
    this.setGrant({ kind: 'revoke', types: [], notAfter: 0, consentHash: '', ...e })
  }

  applyShred (e: ShredEntry): boolean {
    if (this.shreds.has(e.recordId)) return false
    this.shreds.set(e.recordId, e)
    return true
  }

  applyRead (e: AccessEntry): void {
    this.addRead(e)
  }

  applyEnrolment (e: EnrolmentEntry): void {
    // A custodian past its share loses its own oldest enrolments: those patients' consents stop
    // counting (fail closed) until the hospital enrols them again; other hospitals are untouched.
    const key = `${e.custodian}/${e.subject}`
    this.enrolments.set(key, e)
    for (const old of this.enrolmentShares.add(e.custodian, key, 1)) this.enrolments.delete(old)
  }

  /** Whether a patient consent issued at `issuedAt` is newer than the last one counted; if so it is recorded. */
  takeConsentTime (custodian: string, subject: string, grantee: string, issuedAt: number): boolean {
    const k = grantKey(custodian, subject, grantee)
    if ((this.consentTimes.get(k) ?? -1) >= issuedAt) return false
    this.consentTimes.set(k, issuedAt)
    return true
  }

  applyEmergency (e: EmergencyEntry): void {
    // A node past its share loses its own oldest break-glass reads: they no longer open anything
    // (fail closed) and leave the patient's view, but stay on the chain.
    this.emergencies.set(e.emergencyRecordId, e)
    for (const old of this.emergencyShares.add(e.node, e.emergencyRecordId, 1)) this.emergencies.delete(old)
  }

  addRecord (custodian: string, subject: string, id: string): void {
    const k = `${custodian}/${subject}`
    const list = this.records.get(k)
    if (list === undefined) this.records.set(k, [id])
    else list.push(id)
  }

  addPatientRelease (e: PatientReleaseEntry): void {
    const list = this.patientReleases.get(e.recordId)
    if (list === undefined) this.patientReleases.set(e.recordId, [e])
    else list.push(e)
  }

  // ---- queries ----

  enrolmentOf (custodian: string, subject: string): EnrolmentEntry | undefined {
    return this.enrolments.get(`${custodian}/${subject}`)
  }

  /** Every (custodian, subject) currently enrolled to this patient key. */
  enrolmentsOfKey (signKey: string): EnrolmentEntry[] {
    return [...this.enrolments.values()].filter(e => e.signKey === signKey)
  }

  /** The encrypted records a custodian wrote about a subject, in chain order. */
  recordsOf (custodian: string, subject: string): readonly string[] {
    return this.records.get(`${custodian}/${subject}`) ?? []
  }

  patientReleasesOf (recordId: string): readonly PatientReleaseEntry[] {
    return this.patientReleases.get(recordId) ?? []
  }

  /** An emergency read of this record by this node, final less than EMERGENCY window ago. */
  emergencyInForce (recordId: string, node: string, now: number, windowMs: number): EmergencyEntry | undefined {
    return [...this.emergencies.values()].find(e => e.recordId === recordId && e.node === node && now - e.timestamp < windowMs)
  }

  emergencyLog (filter: { recordId?: string, subject?: string } = {}): EmergencyEntry[] {
    return [...this.emergencies.values()].filter(e => (filter.recordId === undefined || e.recordId === filter.recordId) && (filter.subject === undefined || e.subject === filter.subject))
  }

  deliveryKeyOf (node: Uint8Array | string): DeliveryKeyEntry | undefined {
    return this.keys.get(typeof node === 'string' ? node : toHex(node))
  }

  deliveryKeys (): DeliveryKeyEntry[] {
    return [...this.keys.values()]
  }

  /** Whether `key` was ever published as this node's delivery key. */
  wasPublished (node: Uint8Array | string, key: string): boolean {
    return this.history.get(typeof node === 'string' ? node : toHex(node))?.has(key) ?? false
  }

  /**
   * The grant that lets `grantee` read the custodian's records of this subject and type at time
   * `now`: the custodian's latest grant or revocation for (subject, grantee) decides; a grant
   * covers the type if its list is empty or names it, and lapses at notAfter (0: never).
   */
  grantInForce (custodian: Uint8Array, subject: Uint8Array, grantee: Uint8Array, type: string, now: number): GrantEntry | undefined {
    const g = this.grants.get(grantKey(toHex(custodian), toHex(subject), toHex(grantee)))
    if (g === undefined || g.kind !== 'grant') return undefined
    if (g.types.length > 0 && !g.types.includes(type)) return undefined
    if (g.notAfter !== 0 && now >= g.notAfter) return undefined
    return g
  }

  grantList (filter: { subject?: string, grantee?: string, custodian?: string } = {}): GrantEntry[] {
    return [...this.grants.values()].filter(g =>
      (filter.subject === undefined || g.subject === filter.subject) &&
      (filter.grantee === undefined || g.grantee === filter.grantee) &&
      (filter.custodian === undefined || g.custodian === filter.custodian))
  }

  shredOf (recordId: Uint8Array | string): ShredEntry | undefined {
    return this.shreds.get(typeof recordId === 'string' ? recordId : toHex(recordId))
  }

  /**
   * The access log in chain order: per author its newest reads within the author's share (older
   * read records stay on the chain, where GET /v1/records/:id proves each one).
   */
  accessLog (filter: { recordId?: string, subject?: string, node?: string } = {}): AccessEntry[] {
    return [...this.reads.values()].filter(a =>
      (filter.recordId === undefined || a.recordId === filter.recordId) &&
      (filter.subject === undefined || a.subject === filter.subject) &&
      (filter.node === undefined || a.node === filter.node))
  }

  stats (): IndexStats {
    return { grants: this.grants.size, grantBytes: this.grantShares.bytes, reads: this.reads.size, readBytes: this.readShares.bytes, evictedGrants: this.grantShares.evicted, evictedReads: this.readShares.evicted }
  }

  // ---- snapshot ----

  toJson (): IndexSnapshot {
    return {
      version: 2,
      genesisHash: this.genesisHash,
      height: this.height,
      keys: [...this.keys.values()],
      keyHistory: [...this.history.entries()].map(([n, s]) => [n, [...s]]),
      grants: [...this.grants.values()],
      shreds: [...this.shreds.values()],
      reads: [...this.reads.values()],
      enrolments: [...this.enrolments.values()],
      consentTimes: [...this.consentTimes.entries()],
      emergencies: [...this.emergencies.values()],
      records: [...this.records.entries()],
      patientReleases: [...this.patientReleases.values()].flat()
    }
  }

  /** Restores a snapshot; entries go through the same bound (oldest first), so a smaller limit applies at once. */
  static fromJson (j: IndexSnapshot, limits?: IndexLimits): PrivacyIndex {
    // Version 1 snapshots lack the patient views: the caller replays the chain instead.
    if (j.version !== 2) throw new Error(`unknown privacy index version ${String(j.version)}`)
    const ix = new PrivacyIndex(j.genesisHash, limits)
    ix.height = j.height
    for (const k of j.keys) ix.keys.set(k.node, k)
    for (const [n, keys] of j.keyHistory) ix.history.set(n, new Set(keys.slice(-ix.limits.keyHistoryPerNode)))
    for (const g of j.grants) ix.setGrant(g)
    for (const s of j.shreds) ix.shreds.set(s.recordId, s)
    for (const a of j.reads) ix.addRead(a)
    for (const e of j.enrolments) ix.applyEnrolment(e)
    for (const [k, t] of j.consentTimes) ix.consentTimes.set(k, t)
    for (const e of j.emergencies) ix.applyEmergency(e)
    for (const [k, ids] of j.records) ix.records.set(k, [...ids])
    for (const r of j.patientReleases) ix.addPatientRelease(r)
    return ix
  }
}
