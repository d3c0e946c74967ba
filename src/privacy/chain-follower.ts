import { recordId } from '../chain/hashing.ts'
import type { FinalizedBlock, MedRecord } from '../chain/types.ts'
import { bytesEqual, fromHex, toHex } from '../encoding/bytes.ts'
import { isMedledgerError } from '../errors.ts'
import { finalBefore, type PrivacyContext } from './context.ts'
import { decodeEnvelope, ENVELOPE_CONTENT_TYPE, unwrapKey, wrapsFor, type EnvelopeContext, type WrappedKey } from './envelope.ts'
import type { KeyReleases } from './key-releases.ts'
import type { KeyRotation } from './key-rotation.ts'
import type { Position } from './ledger-index.ts'
import { consentValid, decodeConsent, decodeEmergency, decodeEnrol, enrolmentValid, PATIENT_CONTENT_TYPES, PATIENT_TYPES } from './patient-records.ts'
import { CONTENT_TYPES, decodeAccess, decodeAnnounce, decodeGrant, decodeRelease, decodeRevoke, decodeShred, RECORD_TYPES } from './records.ts'

const PRIVACY_TYPES: ReadonlySet<string> = new Set([...Object.values(RECORD_TYPES), ...Object.values(PATIENT_TYPES)])

/**
 * Follows the chain in order and folds its privacy records into the index (docs/privacy.md):
 * keeps the data key of each record this node authored, and of each record whose custodian
 * released the key to it under a grant in force; notes the key releases this node owes as a
 * custodian; honours the custodian's shreds by destroying the data key and retiring the delivery
 * keys that could open it.
 */
export class ChainFollower {
  constructor (private readonly ctx: PrivacyContext, private readonly releases: KeyReleases, private readonly rotation: KeyRotation) {}

  /** Folds every final block the index has not seen, in order. */
  async catchUp (): Promise<void> {
    const { ctx } = this
    const head = ctx.node.store.head?.height ?? 0
    if (ctx.index.height >= head) return
    for await (const fb of ctx.node.store.iterateFinalized(ctx.index.height + 1, head)) await this.applyBlock(fb)
    await ctx.files.saveIndex(ctx.index, false)
  }

  /** A final block from the node's event: applied as is when it is the next height, else the gap is filled from the store. */
  async onFinalized (fb: FinalizedBlock): Promise<void> {
    const { ctx } = this
    const h = fb.block.header.height
    if (h <= ctx.index.height) return
    if (h === ctx.index.height + 1) {
      await this.applyBlock(fb)
      await ctx.files.saveIndex(ctx.index, false)
    } else {
      await this.catchUp()
    }
  }

  /**
   * A key store restored from a backup taken before a shred holds that record's data key again:
   * destroy it before anything can use it (the index knows every shred up to its height, and
   * catching up destroys the rest as their shreds are replayed).
   */
  async destroyShreddedKeys (): Promise<void> {
    const { ctx } = this
    for (const id of await ctx.keys.dataKeyIds()) {
      if (ctx.index.shredOf(id) !== undefined) { await ctx.keys.deleteDataKey(id); ctx.log.warn({ recordId: id }, 'destroyed the data key of a shredded record found in the key store (restored from a backup?)') }
    }
  }

  /**
   * Once per key store: nodes before key release unwrapped every record sent to them, grant or
   * not. Data keys of other hospitals' records for whose subject their custodian never granted
   * this node anything are destroyed, so "no grant, no key" holds for the store as well.
   */
  async sweepUngrantedKeys (): Promise<void> {
    const { ctx } = this
    let swept = 0
    for (const id of await ctx.keys.dataKeyIds()) {
      const r = (await ctx.node.store.getRecord(fromHex(id)))?.record
      if (r === undefined || bytesEqual(r.author, ctx.me)) continue
      if (ctx.index.grantList({ custodian: toHex(r.author), subject: toHex(r.subject), grantee: ctx.meHex }).length > 0) continue
      await ctx.keys.deleteDataKey(id)
      swept++
    }
    if (swept > 0) ctx.log.info({ swept }, 'destroyed data keys of records this node holds no grant for (unwrapped before key release existed)')
    ctx.state.ungrantedSwept = true
    await ctx.saveState()
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
          this.ctx.log.warn({ height, recordId: toHex(recordId(r)), type: r.type, err: err.message }, 'ignored a malformed privacy record')
        }
      }
    }
    this.ctx.index.height = height
  }

  /** Every record that reaches applyRecord is an envelope or has one of these types. */
  private async applyRecord (r: MedRecord, pos: Position): Promise<void> {
    const { ctx } = this
    const { index, me } = ctx
    if (r.contentType === ENVELOPE_CONTENT_TYPE) { await this.onEnvelope(r); return }
    const id = recordId(r)
    const base = { recordId: toHex(id), height: pos.height, timestamp: r.timestamp }
    switch (r.type) {
      case RECORD_TYPES.grant: {
        if (r.contentType !== CONTENT_TYPES.grant) return
        const g = decodeGrant(r.payload)
        index.applyGrant({ ...base, custodian: toHex(r.author), subject: toHex(r.subject), grantee: toHex(g.grantee), types: g.types, notAfter: g.notAfter, consentHash: toHex(g.consentHash) })
        if (bytesEqual(r.author, me) && !bytesEqual(g.grantee, me)) await this.releases.owe(r.subject, g.grantee)
        return
      }
      case RECORD_TYPES.release:
        if (r.contentType === CONTENT_TYPES.release) await this.onRelease(r, pos)
        return
      case PATIENT_TYPES.enrol: {
        if (r.contentType !== PATIENT_CONTENT_TYPES.enrol) return
        const e = decodeEnrol(r.payload)
        if (!enrolmentValid(ctx.node.genesis.chainId, r.author, r.subject, e)) {
          ctx.log.warn({ recordId: base.recordId }, 'ignored an enrolment the patient did not sign')
          return
        }
        index.applyEnrolment({ ...base, custodian: toHex(r.author), subject: toHex(r.subject), signKey: toHex(e.signKey), boxKey: toHex(e.boxKey) })
        // Records written before the enrolment reach the patient by key release.
        if (bytesEqual(r.author, me)) await this.releases.owe(r.subject, e.signKey)
        return
      }
      case PATIENT_TYPES.consent: {
        if (r.contentType !== PATIENT_CONTENT_TYPES.consent) return
        const c = decodeConsent(r.payload)
        const custodian = toHex(c.custodian)
        const subject = toHex(r.subject)
        // Counts only if signed by the key enrolled for (custodian, subject) now, and newer than
        // the last patient consent counted for that grantee (a copied old one is a replay).
        if (index.enrolmentOf(custodian, subject)?.signKey !== toHex(c.signKey) || !consentValid(ctx.node.genesis.chainId, r.subject, c)) {
          ctx.log.warn({ recordId: base.recordId }, 'ignored a consent not signed by the enrolled patient')
          return
        }
        if (!index.takeConsentTime(custodian, subject, toHex(c.grantee), c.issuedAt)) return
        const entry = { ...base, custodian, subject, grantee: toHex(c.grantee), patient: toHex(c.signKey) }
        if (c.grant) {
          index.applyGrant({ ...entry, types: c.types, notAfter: c.notAfter, consentHash: '' })
          if (bytesEqual(c.custodian, me) && !bytesEqual(c.grantee, me)) await this.releases.owe(r.subject, c.grantee)
        } else {
          index.applyRevoke(entry)
        }
        return
      }
      case PATIENT_TYPES.emergency: {
        if (r.contentType !== PATIENT_CONTENT_TYPES.emergency) return
        const e = decodeEmergency(r.payload)
        const stored = await ctx.node.store.getRecord(e.recordId)
        if (stored === undefined || !finalBefore(stored, pos) || stored.record.contentType !== ENVELOPE_CONTENT_TYPE || !bytesEqual(stored.record.subject, r.subject)) return
        index.applyEmergency({ emergencyRecordId: base.recordId, recordId: toHex(e.recordId), subject: toHex(r.subject), node: toHex(r.author), reason: e.reason, reader: e.reader, height: pos.height, timestamp: r.timestamp })
        // Break-glass: the custodian releases that one record's key to the node that stated a reason.
        if (bytesEqual(stored.record.author, me) && !bytesEqual(r.author, me)) await this.releases.owe(r.subject, r.author)
        return
      }
      case RECORD_TYPES.revoke: {
        if (r.contentType !== CONTENT_TYPES.revoke) return
        const v = decodeRevoke(r.payload)
        index.applyRevoke({ ...base, custodian: toHex(r.author), subject: toHex(r.subject), grantee: toHex(v.grantee) })
        return
      }
      case RECORD_TYPES.read: {
        if (r.contentType !== CONTENT_TYPES.read) return
        const a = decodeAccess(r.payload)
        index.applyRead({ accessRecordId: base.recordId, recordId: toHex(a.recordId), subject: toHex(r.subject), node: toHex(r.author), reader: a.reader, height: pos.height, timestamp: r.timestamp })
        return
      }
      case RECORD_TYPES.shred:
        if (r.contentType === CONTENT_TYPES.shred) await this.onShred(r, id, pos)
        return
      case RECORD_TYPES.announce: {
        if (r.contentType !== CONTENT_TYPES.announce) return
        const { deliveryKey } = decodeAnnounce(r.payload)
        index.applyAnnounce(r.author, deliveryKey, id, pos)
        if (bytesEqual(r.author, me)) await this.rotation.onAnnounced(toHex(deliveryKey), pos.height)
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
    const { ctx } = this
    const env = decodeEnvelope(r.payload)
    const id = toHex(recordId(r))
    ctx.index.addRecord(toHex(r.author), toHex(r.subject), id)
    if (ctx.index.shredOf(id) !== undefined) return
    const mine = bytesEqual(r.author, ctx.me)
    if (mine) {
      for (const g of ctx.grantsInForce(r.subject, r.type)) {
        if (wrapsFor(env, fromHex(g.grantee)).length === 0) await this.releases.owe(r.subject, fromHex(g.grantee))
      }
    }
    const wraps = wrapsFor(env, ctx.me)
    if (wraps.length === 0 || await ctx.keys.hasDataKey(id)) return
    if (!mine && ctx.index.grantInForce(r.author, r.subject, ctx.me, r.type, Date.now()) === undefined) return
    if (await this.storeDataKey(id, ctx.envelopeContext(r), wraps)) return
    ctx.log.warn({ recordId: id, deliveryKeys: wraps.map(w => toHex(w.deliveryKey)) }, 'a record sent to this node is wrapped to a delivery key it no longer holds: unreadable here')
  }

  /** Unwraps the first wrap this node holds the delivery key of into the key store. */
  private async storeDataKey (id: string, envCtx: EnvelopeContext, wraps: WrappedKey[]): Promise<boolean> {
    for (const w of wraps) {
      const k = this.ctx.held.get(toHex(w.deliveryKey))
      if (k === undefined) continue
      const dk = unwrapKey(envCtx, w, k.pair)
      await this.ctx.keys.putDataKey(id, dk)
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
    const { ctx } = this
    const rel = decodeRelease(r.payload)
    const id = toHex(rel.recordId)
    if (!bytesEqual(rel.wrap.node, ctx.me)) {
      // A release to the patient enrolled for this subject at its author: kept for the patient API.
      if (ctx.index.enrolmentOf(toHex(r.author), toHex(r.subject))?.signKey !== toHex(rel.wrap.node)) return
      const target = await ctx.node.store.getRecord(rel.recordId)
      if (target === undefined || !finalBefore(target, pos) || !bytesEqual(target.record.author, r.author)) return
      ctx.index.addPatientRelease({ recordId: id, node: toHex(rel.wrap.node), deliveryKey: toHex(rel.wrap.deliveryKey), ephemeral: toHex(rel.wrap.ephemeral), wrapped: toHex(rel.wrap.wrapped) })
      return
    }
    if (ctx.index.shredOf(id) !== undefined || await ctx.keys.hasDataKey(id)) return
    const stored = await ctx.node.store.getRecord(rel.recordId)
    if (stored === undefined || !finalBefore(stored, pos) || stored.record.contentType !== ENVELOPE_CONTENT_TYPE || !bytesEqual(stored.record.author, r.author)) {
      ctx.log.warn({ release: toHex(recordId(r)), recordId: id }, 'ignored a key release that is not by the record\'s custodian or not after the record')
      return
    }
    const rec = stored.record
    if (!ctx.mayHold(id, rec)) return
    if (await this.storeDataKey(id, ctx.envelopeContext(rec), [rel.wrap])) {
      ctx.log.info({ recordId: id, custodian: ctx.nameOf(rec.author) }, 'received a released data key')
      return
    }
    ctx.log.warn({ recordId: id, deliveryKey: toHex(rel.wrap.deliveryKey) }, 'a key release names a delivery key this node no longer holds')
  }

  /**
   * A shred is honoured when its author is the record's custodian (its author) and the
   * record is final before it. The data key is destroyed now; the delivery keys it was wrapped to
   * here are rotated away and destroyed after the grace period (KeyRotation.maintain).
   */
  private async onShred (r: MedRecord, shredId: Uint8Array, pos: Position): Promise<void> {
    const { ctx } = this
    const s = decodeShred(r.payload)
    const target = toHex(s.recordId)
    if (ctx.index.shredOf(target) !== undefined) return
    const stored = await ctx.node.store.getRecord(s.recordId)
    if (stored === undefined || !finalBefore(stored, pos)) {
      ctx.log.warn({ shred: toHex(shredId), recordId: target }, 'ignored a shred of a record that is not final before it')
      return
    }
    if (stored.record.contentType !== ENVELOPE_CONTENT_TYPE) return
    const env = decodeEnvelope(stored.record.payload)
    if (!bytesEqual(stored.record.author, r.author)) {
      ctx.log.warn({ shred: toHex(shredId), recordId: target, by: toHex(r.author) }, 'ignored a shred by a node that is not the record\'s custodian (its author)')
      return
    }
    ctx.index.applyShred({ recordId: target, by: toHex(r.author), shredRecordId: toHex(shredId), reason: s.reason, height: pos.height, timestamp: r.timestamp })
    const hadKey = await ctx.keys.deleteDataKey(target)
    // Every delivery key this node holds could open a wrap of this record (in the envelope or in a
    // key release to it): if the record concerned this node at all, all of them are rotated away.
    // (A custodian's grant or revocation to this node for the subject means a key release to it
    // may be on the chain, stored here or not.)
    const concerned = hadKey || bytesEqual(stored.record.author, ctx.me) || wrapsFor(env, ctx.me).length > 0 ||
      ctx.index.grantList({ custodian: toHex(stored.record.author), subject: toHex(stored.record.subject), grantee: ctx.meHex }).length > 0
    const mine = concerned ? await this.rotation.retireAllPublished() : []
    ctx.log.info({ recordId: target, height: pos.height, rotate: mine }, 'record shredded: data key destroyed')
  }
}
