import { recordId } from '../chain/hashing.ts'
import type { MedRecord } from '../chain/types.ts'
import { bytesEqual, fromHex, toHex } from '../encoding/bytes.ts'
import { isMedledgerError } from '../errors.ts'
import { ANNOUNCE_RETRY_MS, type PrivacyContext, type Unsigned } from './context.ts'
import { decodeEnvelope, ENVELOPE_CONTENT_TYPE, wrapDataKey, wrapsFor, type Envelope } from './envelope.ts'
import { EMERGENCY_WINDOW_MS } from './patient-records.ts'
import { CONTENT_TYPES, decodeRelease, RECORD_TYPES, releaseRecord } from './records.ts'

// Key releases submitted per maintenance pass (one batch each), so a large grant paces itself.
const RELEASES_PER_PASS = 64

/**
 * The custodian's side of key release (docs/privacy.md, "Grants"): a grant, an enrolment or an
 * emergency read final here makes this node owe the grantee the data keys of its records about
 * the subject; the debt is kept in state.json and paid in key.release records, a pass at a time.
 */
export class KeyReleases {
  private releasedAt = 0

  constructor (private readonly ctx: PrivacyContext) {}

  /** Notes that this node owes `grantee` the keys of its records about `subject`. */
  async owe (subject: Uint8Array, grantee: Uint8Array): Promise<void> {
    const job = `${toHex(subject)}/${toHex(grantee)}`
    const owed = this.ctx.state.releases ?? []
    if (owed.includes(job)) return
    this.ctx.state.releases = [...owed, job]
    await this.ctx.saveState()
  }

  /**
   * Pays the key releases this node owes: for each (subject, grantee), every record this node
   * authored about the subject that a grant in force covers, that is not shredded, and that is
   * wrapped to the grantee's current delivery key neither in its envelope nor in an earlier
   * release, gets a key.release record wrapping the data key to that key.
   */
  async pay (): Promise<void> {
    const { ctx } = this
    const { index, me, node } = ctx
    const owed = ctx.state.releases ?? []
    if (owed.length === 0 || !node.isValidator || Date.now() - this.releasedAt < ANNOUNCE_RETRY_MS) return
    const [subjectHex, granteeHex] = owed[0].split('/')
    const subject = fromHex(subjectHex)
    const grantee = fromHex(granteeHex)
    // The grantee is a hospital (its published delivery key), or the patient enrolled here for the subject.
    const enrolled = index.enrolmentOf(ctx.meHex, subjectHex)
    const patient = enrolled?.signKey === granteeHex
    const deliveryKey = patient ? enrolled?.boxKey : index.deliveryKeyOf(grantee)?.key
    const due: Unsigned[] = []
    let more = false
    if (deliveryKey !== undefined) {
      const released = new Set<string>()
      const candidates: MedRecord[] = []
      const head = node.store.head?.height ?? 0
      for await (const fb of node.store.iterateFinalized(1, head)) {
        for (const batch of fb.block.body.batches) {
          if (!bytesEqual(batch.author, me)) continue
          for (const r of batch.records) {
            if (!bytesEqual(r.subject, subject)) continue
            if (r.type === RECORD_TYPES.release && r.contentType === CONTENT_TYPES.release) {
              try {
                const rel = decodeRelease(r.payload)
                // Released to the key the grantee has now: after it rotates, a new grant releases again.
                if (bytesEqual(rel.wrap.node, grantee) && toHex(rel.wrap.deliveryKey) === deliveryKey) released.add(toHex(rel.recordId))
              } catch (err) {
                // A malformed release on the chain releases nothing: it is paid again below.
                if (!isMedledgerError(err)) throw err
              }
            } else if (r.contentType === ENVELOPE_CONTENT_TYPE) candidates.push(r)
          }
        }
      }
      for (const r of candidates) {
        const id = toHex(recordId(r))
        if (released.has(id) || index.shredOf(id) !== undefined) continue
        if (!patient && index.grantInForce(me, subject, grantee, r.type, Date.now()) === undefined && index.emergencyInForce(id, granteeHex, Date.now(), EMERGENCY_WINDOW_MS) === undefined) continue
        let env: Envelope
        try {
          env = decodeEnvelope(r.payload)
        } catch (err) {
          // A malformed envelope holds no key to release.
          if (!isMedledgerError(err)) throw err
          continue
        }
        if (wrapsFor(env, grantee).some(w => toHex(w.deliveryKey) === deliveryKey)) continue
        const dk = await ctx.keys.getDataKey(id)
        if (dk === undefined) continue
        const wrap = wrapDataKey(ctx.envelopeContext(r), dk, { node: grantee, deliveryKey: fromHex(deliveryKey) })
        dk.fill(0)
        if (due.length === RELEASES_PER_PASS) { more = true; break }
        due.push(releaseRecord(r.subject, fromHex(id), wrap, Date.now()))
      }
    }
    // Nothing left to release (every covered record's key is on the chain for the grantee, or
    // the grantee has no key yet and a later grant will try again): the debt is paid.
    if (due.length === 0) {
      ctx.state.releases = owed.slice(1)
      await ctx.saveState()
      return
    }
    try {
      await node.submitRecords(due)
      // The next pass looks for these on the chain; give them time to be final before it.
      this.releasedAt = Date.now()
      ctx.log.info({ grantee: ctx.nameOf(grantee), subject: subjectHex, records: due.length, more }, 'released data keys to a grantee')
    } catch (err) {
      ctx.log.warn({ err: (err as Error).message }, 'could not release data keys; will retry')
    }
  }
}
