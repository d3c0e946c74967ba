import { toHex } from '../encoding/bytes.ts'

/**
 * What the privacy records on the chain say, folded in chain order: each node's current X25519
 * delivery key, the grants and revocations in force, the shredded records and the access log.
 * Every node that has processed the same blocks holds the same index; it is derived data (the
 * snapshot on disk only saves replaying the chain at start).
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
}

export interface ShredEntry { recordId: string, by: string, shredRecordId: string, reason: string, height: number, timestamp: number }

export interface AccessEntry { accessRecordId: string, recordId: string, subject: string, node: string, reader: string, height: number, timestamp: number }

export interface IndexSnapshot {
  version: 1
  genesisHash: string
  height: number
  keys: DeliveryKeyEntry[]
  keyHistory: Array<[string, string[]]>
  grants: GrantEntry[]
  shreds: ShredEntry[]
  reads: AccessEntry[]
}

const grantKey = (custodian: string, subject: string, grantee: string): string => `${custodian}/${subject}/${grantee}`

export class PrivacyIndex {
  height = 0
  private readonly keys = new Map<string, DeliveryKeyEntry>()
  // Every delivery key a node has had published: a held key in here that is not current is retired.
  private readonly history = new Map<string, Set<string>>()
  private readonly grants = new Map<string, GrantEntry>()
  private readonly shreds = new Map<string, ShredEntry>()
  private readonly reads: AccessEntry[] = []

  constructor (readonly genesisHash: string) {}

  /** The index at height 0: the encryption keys the genesis file publishes. */
  static fromGenesis (genesisHash: Uint8Array, members: ReadonlyArray<{ publicKey: Uint8Array, encryptionKey?: Uint8Array }>): PrivacyIndex {
    const ix = new PrivacyIndex(toHex(genesisHash))
    for (const m of members) {
      if (m.encryptionKey !== undefined) ix.setKey({ node: toHex(m.publicKey), key: toHex(m.encryptionKey), height: 0 })
    }
    return ix
  }

  private setKey (e: DeliveryKeyEntry): void {
    this.keys.set(e.node, e)
    let h = this.history.get(e.node)
    if (h === undefined) this.history.set(e.node, h = new Set())
    h.add(e.key)
  }

  // ---- folding records (the caller has checked authorship rules that need the chain) ----

  applyAnnounce (author: Uint8Array, deliveryKey: Uint8Array, recordId: Uint8Array, pos: Position): void {
    this.setKey({ node: toHex(author), key: toHex(deliveryKey), height: pos.height, recordId: toHex(recordId) })
  }

  applyGrant (e: Omit<GrantEntry, 'kind'>): void {
    this.grants.set(grantKey(e.custodian, e.subject, e.grantee), { kind: 'grant', ...e })
  }

  applyRevoke (e: Pick<GrantEntry, 'custodian' | 'subject' | 'grantee' | 'recordId' | 'height' | 'timestamp'>): void {
    this.grants.set(grantKey(e.custodian, e.subject, e.grantee), { kind: 'revoke', types: [], notAfter: 0, consentHash: '', ...e })
  }

  applyShred (e: ShredEntry): boolean {
    if (this.shreds.has(e.recordId)) return false
    this.shreds.set(e.recordId, e)
    return true
  }

  applyRead (e: AccessEntry): void {
    this.reads.push(e)
  }

  // ---- queries ----

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

  accessLog (filter: { recordId?: string, subject?: string, node?: string } = {}): AccessEntry[] {
    return this.reads.filter(a =>
      (filter.recordId === undefined || a.recordId === filter.recordId) &&
      (filter.subject === undefined || a.subject === filter.subject) &&
      (filter.node === undefined || a.node === filter.node))
  }

  // ---- snapshot ----

  toJson (): IndexSnapshot {
    return {
      version: 1,
      genesisHash: this.genesisHash,
      height: this.height,
      keys: [...this.keys.values()],
      keyHistory: [...this.history.entries()].map(([n, s]) => [n, [...s]]),
      grants: [...this.grants.values()],
      shreds: [...this.shreds.values()],
      reads: this.reads
    }
  }

  static fromJson (j: IndexSnapshot): PrivacyIndex {
    if (j.version !== 1) throw new Error(`unknown privacy index version ${String(j.version)}`)
    const ix = new PrivacyIndex(j.genesisHash)
    ix.height = j.height
    for (const k of j.keys) ix.keys.set(k.node, k)
    for (const [n, keys] of j.keyHistory) ix.history.set(n, new Set(keys))
    for (const g of j.grants) ix.grants.set(grantKey(g.custodian, g.subject, g.grantee), g)
    for (const s of j.shreds) ix.shreds.set(s.recordId, s)
    ix.reads.push(...j.reads)
    return ix
  }
}
