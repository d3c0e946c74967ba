import type { FinalizedBlock } from '../chain/types.ts'
import type { EnvelopeRecipient } from './envelope.ts'
import { ChainFollower } from './chain-follower.ts'
import { PrivacyContext, type PrivacyNode, type PrivacyOptions, type Unsigned } from './context.ts'
import { KeyReleases } from './key-releases.ts'
import { KeyRotation } from './key-rotation.ts'
import type { AccessEntry, GrantEntry } from './ledger-index.ts'
import { PrivacyFiles } from './local-state.ts'
import { LocalKeyStore } from './local-store.ts'
import { PlaintextAccess, type PlaintextRead } from './plaintext.ts'
import { ReaderPseudonyms } from './reader.ts'
import type { GrantPayload } from './records.ts'
import { PrivacyViews } from './views.ts'

export type { PrivacyNode, PrivacyOptions } from './context.ts'
export type { PlaintextRead } from './plaintext.ts'

/**
 * Privacy by construction, per node (docs/privacy.md). This file wires the parts and runs them
 * on one queue: the chain follower (chain-follower.ts: the index, data keys kept and destroyed),
 * key releases owed as a custodian (key-releases.ts), delivery-key rotation and retirement
 * (key-rotation.ts), state.json and the index snapshot (local-state.ts), sealing and plaintext
 * reads (plaintext.ts) and the read-only views (views.ts).
 */
export class PrivacyService {
  private queue: Promise<unknown> = Promise.resolve()
  private timer: NodeJS.Timeout | undefined
  private closed = false
  private readonly follower: ChainFollower
  private readonly releases: KeyReleases
  private readonly rotation: KeyRotation
  private readonly plaintext: PlaintextAccess
  private readonly views: PrivacyViews
  private readonly onFinalized = (fb: FinalizedBlock): void => {
    if (this.closed) return
    // A failure is logged by enqueue; the next block or maintenance pass catches up.
    void this.enqueue(async () => { await this.follower.onFinalized(fb) }).catch(() => {})
  }

  private constructor (private readonly ctx: PrivacyContext, readers: ReaderPseudonyms) {
    const caughtUp = async (): Promise<void> => { await this.enqueue(async () => { await this.follower.catchUp() }) }
    this.releases = new KeyReleases(ctx)
    this.rotation = new KeyRotation(ctx, async () => { await this.follower.catchUp() })
    this.follower = new ChainFollower(ctx, this.releases, this.rotation)
    this.plaintext = new PlaintextAccess(ctx, readers, caughtUp)
    this.views = new PrivacyViews(ctx, this.plaintext, caughtUp)
  }

  static async open (node: PrivacyNode, o: PrivacyOptions): Promise<PrivacyService> {
    const log = node.log.child({ module: 'privacy' })
    const keys = await LocalKeyStore.open(o.dir, node.key.seed)
    const files = new PrivacyFiles(o.dir, log)
    const ctx = new PrivacyContext(node, keys, files, o, log)
    const g = node.genesis
    ctx.index = await files.loadIndex(g.hash, node.store.head?.height ?? 0, [...g.validators.members, ...g.observers])
    ctx.state = await files.loadState()
    const s = new PrivacyService(ctx, await ReaderPseudonyms.open(o.dir, keys))
    await s.rotation.loadHeld()
    await s.follower.destroyShreddedKeys()
    node.on('finalized', s.onFinalized)
    await s.enqueue(async () => {
      await s.follower.catchUp()
      // Needs the grants up to the head, so after catching up.
      if (ctx.state.ungrantedSwept !== true) await s.follower.sweepUngrantedKeys()
      await s.maintain()
    })
    const every = o.maintainEveryMs ?? Math.max(100, Math.min(1000, Math.floor(o.retireGraceMs / 2)))
    // A failed pass is logged by enqueue and tried again at the next tick.
    s.timer = setInterval(() => { void s.enqueue(async () => { await s.follower.catchUp(); await s.maintain() }).catch(() => {}) }, every)
    s.timer.unref()
    return s
  }

  async close (): Promise<void> {
    this.closed = true
    if (this.timer !== undefined) clearInterval(this.timer)
    this.ctx.node.off('finalized', this.onFinalized)
    await this.queue
    if (this.ctx.index.height !== this.ctx.files.savedHeight) {
      // Losing the last snapshot costs a replay of the chain at the next start, nothing more.
      await this.ctx.files.saveIndex(this.ctx.index).catch((err: Error) => { this.ctx.log.warn({ err: err.message }, 'could not save the privacy index snapshot; it is rebuilt from the chain at the next start') })
    }
  }

  private enqueue<T> (fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn)
    this.queue = run.catch((err) => { this.ctx.log.error({ err }, 'privacy task failed') })
    return run as Promise<T>
  }

  /** One maintenance pass of a validator: pay key releases owed, then rotate or retire delivery keys. */
  private async maintain (): Promise<void> {
    if (this.ctx.node.role !== 'validator') return
    await this.releases.pay()
    await this.rotation.maintain()
  }

  /** Asks for a new delivery key (also how a node with none in genesis gets its first). */
  async rotate (): Promise<{ current?: string, pending?: string }> {
    return await this.enqueue(async () => {
      const current = await this.rotation.request()
      await this.maintain()
      return { current, pending: this.ctx.state.pendingKey }
    })
  }

  // ---- sealing, reads and the node's own privacy records (plaintext.ts) ----

  resolveRecipient (name: string): EnvelopeRecipient & { name: string } { return this.plaintext.resolveRecipient(name) }
  sealRecord (input: { type: string, subject: Uint8Array, contentType: string, plaintext: Uint8Array, recipients: string[], timestamp: number }): Unsigned { return this.plaintext.sealRecord(input) }
  async readPlaintext (id: string, reader: string): Promise<PlaintextRead> { return await this.plaintext.readPlaintext(id, reader) }
  grantRecord (subject: Uint8Array, grantee: string, g: Omit<GrantPayload, 'grantee'>): Unsigned { return this.plaintext.grantRecord(subject, grantee, g) }
  revokeRecord (subject: Uint8Array, grantee: string): Unsigned { return this.plaintext.revokeRecord(subject, grantee) }
  async shredRecord (id: string, reason: string): Promise<Unsigned> { return await this.plaintext.shredRecord(id, reason) }
  async emergencyRecord (id: string, reason: string, reader: string): Promise<Unsigned> { return await this.plaintext.emergencyRecord(id, reason, reader) }

  // ---- views (views.ts) ----

  enrolmentOf (custodian: string, subject: string): { signKey: string, boxKey: string, recordId: string, height: number } | undefined { return this.views.enrolmentOf(custodian, subject) }
  async patientRecords (signKey: string): Promise<Array<{ custodian: string, subject: string, recordIds: readonly string[] }>> { return await this.views.patientRecords(signKey) }
  patientReleases (recordId: string): ReadonlyArray<{ node: string, deliveryKey: string, ephemeral: string, wrapped: string }> { return this.views.patientReleases(recordId) }
  emergencyLog (filter: { recordId?: string, subject?: string }): ReturnType<PrivacyViews['emergencyLog']> { return this.views.emergencyLog(filter) }
  isShredded (id: string): boolean { return this.views.isShredded(id) }
  nameOf (node: Uint8Array | string): string { return this.ctx.nameOf(node) }
  grants (filter: { subject?: string, grantee?: string, custodian?: string }): Array<GrantEntry & { inForce: boolean }> { return this.views.grants(filter) }
  accessLog (filter: { recordId?: string, subject?: string, node?: string }): AccessEntry[] { return this.views.accessLog(filter) }
  async recordStatus (id: string): Promise<Record<string, unknown>> { return await this.views.recordStatus(id) }
  keyStatus (): Record<string, unknown> { return this.views.keyStatus() }
}
