import { toHex } from '../encoding/bytes.ts'
import type { PrivacyContext } from './context.ts'
import { wrapsFor } from './envelope.ts'
import type { AccessEntry, GrantEntry, ShredEntry } from './ledger-index.ts'
import type { PlaintextAccess } from './plaintext.ts'

/** Read-only views of the privacy index and this node's keys: metadata for the API, and the patient's views (docs/privacy.md, "Patients"). */
export class PrivacyViews {
  constructor (private readonly ctx: PrivacyContext, private readonly plaintext: PlaintextAccess, private readonly caughtUp: () => Promise<void>) {}

  /** The enrolment of (custodian, subject), if any. */
  enrolmentOf (custodian: string, subject: string): { signKey: string, boxKey: string, recordId: string, height: number } | undefined {
    return this.ctx.index.enrolmentOf(custodian, subject)
  }

  /** Every (custodian, subject) enrolled to this patient key, and the encrypted records of each. */
  async patientRecords (signKey: string): Promise<Array<{ custodian: string, subject: string, recordIds: readonly string[] }>> {
    await this.caughtUp()
    const { index } = this.ctx
    return index.enrolmentsOfKey(signKey).map(e => ({ custodian: e.custodian, subject: e.subject, recordIds: index.recordsOf(e.custodian, e.subject) }))
  }

  /** Key releases of a record to patient keys (the patient's wrap for records written before enrolment). */
  patientReleases (recordId: string): ReadonlyArray<{ node: string, deliveryKey: string, ephemeral: string, wrapped: string }> {
    return this.ctx.index.patientReleasesOf(recordId)
  }

  emergencyLog (filter: { recordId?: string, subject?: string }): Array<{ emergencyRecordId: string, recordId: string, node: string, reason: string, reader: string, height: number, timestamp: number }> {
    return this.ctx.index.emergencyLog(filter)
  }

  /** Whether a shred of this record is final. */
  isShredded (id: string): boolean {
    return this.ctx.index.shredOf(id) !== undefined
  }

  grants (filter: { subject?: string, grantee?: string, custodian?: string }): Array<GrantEntry & { inForce: boolean }> {
    const now = Date.now()
    return this.ctx.index.grantList(filter).map(g => ({ ...g, inForce: g.kind === 'grant' && (g.notAfter === 0 || now < g.notAfter) }))
  }

  accessLog (filter: { recordId?: string, subject?: string, node?: string }): AccessEntry[] {
    return this.ctx.index.accessLog(filter)
  }

  /** What this node knows of an encrypted record, and whether anything here could still open it. */
  async recordStatus (id: string): Promise<Record<string, unknown>> {
    const { ctx } = this
    await this.caughtUp()
    const { stored, env } = await this.plaintext.envelopeRecord(id)
    const mine = wrapsFor(env, ctx.me)
    const keysHeld = mine.filter(w => ctx.held.has(toHex(w.deliveryKey))).map(w => toHex(w.deliveryKey))
    const dataKeyHeld = await ctx.keys.hasDataKey(id)
    const shred: ShredEntry | undefined = ctx.index.shredOf(id)
    return {
      recordId: id,
      type: stored.record.type,
      subject: toHex(stored.record.subject),
      author: { name: ctx.nameOf(stored.record.author), publicKey: toHex(stored.record.author) },
      recipients: env.recipients.map(w => ({ name: ctx.nameOf(w.node), publicKey: toHex(w.node), deliveryKey: toHex(w.deliveryKey) })),
      shredded: shred ?? null,
      here: {
        recipient: mine.length > 0,
        dataKeyHeld,
        deliveryKeysHeld: keysHeld,
        // Nothing on this node can recover the data key any more: the shred is complete here.
        // (After a shred, every delivery key this node must retire may open a key release to it.)
        unrecoverable: !dataKeyHeld && keysHeld.length === 0 && (shred === undefined || !ctx.state.retiring.some(k => ctx.held.has(k)))
      }
    }
  }

  keyStatus (): Record<string, unknown> {
    const { ctx } = this
    return {
      published: ctx.index.deliveryKeys().map(k => ({ name: ctx.nameOf(k.node), node: k.node, deliveryKey: k.key, since: k.height })),
      local: {
        current: ctx.index.deliveryKeyOf(ctx.me)?.key ?? null,
        pending: ctx.state.pendingKey ?? null,
        held: [...ctx.held.entries()].map(([k, v]) => ({ deliveryKey: k, source: v.source })),
        retiring: ctx.state.retiring
      },
      indexHeight: ctx.index.height
    }
  }
}
