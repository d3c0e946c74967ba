import { NotFoundCode } from '../chain/errors.ts'
import { LIMITS } from '../chain/limits.ts'
import type { MedRecord } from '../chain/types.ts'
import { peerIdOfPublicKey } from '../crypto/ed25519.ts'
import { bytesEqual, fromHex, toHex } from '../encoding/bytes.ts'
import { isMedledgerError } from '../errors.ts'
import type { StoredRecord } from '../storage/index.ts'
import type { PrivacyContext, Unsigned } from './context.ts'
import { decodeEnvelope, encodeEnvelope, ENVELOPE_CONTENT_TYPE, MAX_RECIPIENTS, openContent, sealEnvelope, unwrapKey, wrapsFor, type Envelope, type EnvelopeRecipient } from './envelope.ts'
import { PrivacyError, PrivacyErrorCode } from './errors.ts'
import { emergencyRecord } from './patient-records.ts'
import type { ReaderPseudonyms } from './reader.ts'
import { accessRecord, grantRecord, revokeRecord, shredRecord, type GrantPayload } from './records.ts'

export interface PlaintextRead {
  recordId: string
  type: string
  subject: string
  author: string
  contentType: string
  body: Uint8Array
  access: { recordId: string, height: number }
}

/**
 * Sealing and reading (docs/privacy.md): encrypts plaintext into an envelope for this node to
 * author, serves plaintext only to a node that may hold the record's key and only after the read
 * is final on the chain, and builds the node's grant, revocation, shred and emergency records.
 */
export class PlaintextAccess {
  /** `caughtUp` runs the chain follower on the service's queue, so reads see every final block. */
  constructor (private readonly ctx: PrivacyContext, private readonly readers: ReaderPseudonyms, private readonly caughtUp: () => Promise<void>) {}

  /** A recipient by validator name, peer id or hex public key; observers are never recipients. */
  resolveRecipient (name: string): EnvelopeRecipient & { name: string } {
    const { ctx } = this
    const set = ctx.node.schedule.latest()
    const m = set.members.find(x => x.name === name || toHex(x.publicKey) === name.toLowerCase() || peerIdOfPublicKey(x.publicKey) === name)
    if (m === undefined) {
      const observer = ctx.node.genesis.observers.some(x => x.name === name || peerIdOfPublicKey(x.publicKey) === name || toHex(x.publicKey) === name.toLowerCase())
      throw new PrivacyError(PrivacyErrorCode.RECIPIENT_UNKNOWN, observer ? `${name} is an observer: observers audit metadata and never receive plaintext` : `${name} is not a validator of this chain`)
    }
    const key = ctx.index.deliveryKeyOf(m.publicKey)
    if (key === undefined) {
      if (bytesEqual(m.publicKey, ctx.me)) throw new PrivacyError(PrivacyErrorCode.NO_ENCRYPTION_KEY, 'this node has no published encryption key; publish one with `medledger privacy rotate` (POST /v1/privacy/rotate)')
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
    const { ctx } = this
    const self = this.resolveRecipient(ctx.meHex)
    if (!ctx.held.has(toHex(self.deliveryKey))) throw new PrivacyError(PrivacyErrorCode.NO_ENCRYPTION_KEY, 'this node does not hold the private half of its published encryption key; publish a new one with `medledger privacy rotate`')
    const recipients: EnvelopeRecipient[] = [self]
    // The patient enrolled here for this subject gets a wrap too (docs/privacy.md, "Patients").
    const patient = ctx.index.enrolmentOf(ctx.meHex, toHex(input.subject))
    if (patient !== undefined) recipients.push({ node: fromHex(patient.signKey), deliveryKey: fromHex(patient.boxKey) })
    for (const name of input.recipients) {
      const r = this.resolveRecipient(name)
      if (bytesEqual(r.node, ctx.me)) continue
      if (ctx.index.grantInForce(ctx.me, input.subject, r.node, input.type, Date.now()) === undefined) {
        throw new PrivacyError(PrivacyErrorCode.NO_GRANT, `${r.name} holds no grant in force from this node for ${input.type} records of subject ${toHex(input.subject)}: grant it first (POST /v1/privacy/grants); records are encrypted to the custodian and released to grantees`)
      }
    }
    for (const g of ctx.grantsInForce(input.subject, input.type)) {
      const key = ctx.index.deliveryKeyOf(g.grantee)?.key
      // Past the envelope's recipient limit, grantees get their key by key.release instead.
      if (key === undefined || recipients.some(x => toHex(x.node) === g.grantee) || recipients.length === MAX_RECIPIENTS) continue
      recipients.push({ node: fromHex(g.grantee), deliveryKey: fromHex(key) })
    }
    const { envelope } = sealEnvelope(ctx.envelopeContext({ ...input, author: ctx.me }), { contentType: input.contentType, body: input.plaintext }, recipients)
    const payload = encodeEnvelope(envelope)
    if (payload.length > LIMITS.payloadBytes) throw new PrivacyError(PrivacyErrorCode.TOO_LARGE, `the encrypted payload is ${payload.length} bytes; the limit is ${LIMITS.payloadBytes} (store large content off-chain and record its hash)`)
    return { type: input.type, subject: input.subject, contentType: ENVELOPE_CONTENT_TYPE, payload, timestamp: input.timestamp }
  }

  /** A final encrypted record and its envelope, or a clear refusal. */
  async envelopeRecord (id: string): Promise<{ stored: StoredRecord, env: Envelope }> {
    const stored = await this.ctx.node.store.getRecord(fromHex(id))
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
    const { ctx } = this
    if (ctx.node.role !== 'validator') throw new PrivacyError(PrivacyErrorCode.OBSERVER, `only validators serve plaintext (this node is ${ctx.node.role})`)
    await this.caughtUp()
    const { stored, env } = await this.envelopeRecord(id)
    const r = stored.record
    this.checkMayRead(id, r)
    const envCtx = ctx.envelopeContext(r)
    let dataKey = await ctx.keys.getDataKey(id)
    if (dataKey === undefined) {
      // A wrap to this node in the envelope that was not unwrapped on receipt (no grant then).
      for (const w of wrapsFor(env, ctx.me)) {
        const k = ctx.held.get(toHex(w.deliveryKey))
        if (k !== undefined) { dataKey = unwrapKey(envCtx, w, k.pair); break }
      }
    }
    if (dataKey === undefined) {
      if (wrapsFor(env, ctx.me).length > 0) throw new PrivacyError(PrivacyErrorCode.KEY_UNAVAILABLE, `this node no longer holds a key for record ${id}`)
      throw new PrivacyError(PrivacyErrorCode.NOT_RECIPIENT, `this node holds no key for record ${id}: its custodian ${ctx.nameOf(r.author)} has not released it to this node (a key release follows a final grant)`)
    }
    const content = openContent(envCtx, env, dataKey)
    dataKey.fill(0)
    const access = await this.audit(accessRecord(r.subject, fromHex(id), await this.readers.pseudonym(reader), Date.now()))
    // The read waited for its access record: a shred or revocation final meanwhile still stops it.
    await this.caughtUp()
    if (ctx.index.shredOf(id) !== undefined) throw new PrivacyError(PrivacyErrorCode.SHREDDED, `record ${id} was shredded while it was being read`)
    this.checkMayRead(id, r)
    return { recordId: id, type: r.type, subject: toHex(r.subject), author: toHex(r.author), contentType: content.contentType, body: content.body, access }
  }

  private checkMayRead (id: string, r: MedRecord): void {
    const shred = this.ctx.index.shredOf(id)
    if (shred !== undefined) throw new PrivacyError(PrivacyErrorCode.SHREDDED, `record ${id} was shredded at height ${shred.height}; its content is gone`)
    if (!this.ctx.mayHold(id, r)) {
      throw new PrivacyError(PrivacyErrorCode.NO_GRANT, `no grant in force lets this node read ${r.type} records of subject ${toHex(r.subject)} from ${this.ctx.nameOf(r.author)}`)
    }
  }

  private async audit (record: Unsigned): Promise<{ recordId: string, height: number }> {
    let ids: string[]
    try {
      ids = (await this.ctx.node.submitRecords([record])).ids
      const height = await this.ctx.node.waitFinal(ids, this.ctx.o.auditWaitMs)
      return { recordId: ids[0], height }
    } catch (err) {
      if (!isMedledgerError(err)) throw err
      throw new PrivacyError(PrivacyErrorCode.AUDIT_FAILED, `the read could not be written to the ledger (${err.message}); plaintext withheld`)
    }
  }

  // ---- grants, revocations, shreds, emergencies ----

  private granteeKey (name: string): Uint8Array {
    const m = this.ctx.node.schedule.latest().members.find(x => x.name === name || toHex(x.publicKey) === name.toLowerCase() || peerIdOfPublicKey(x.publicKey) === name)
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
    if (!bytesEqual(stored.record.author, this.ctx.me)) throw new PrivacyError(PrivacyErrorCode.SHRED_REFUSED, `only the custodian of record ${id} (its author, ${this.ctx.nameOf(stored.record.author)}) may shred it; ask that hospital to shred it`)
    if (this.ctx.index.shredOf(id) !== undefined) throw new PrivacyError(PrivacyErrorCode.SHREDDED, `record ${id} is already shredded`)
    return shredRecord(stored.record.subject, fromHex(id), reason, Date.now())
  }

  /**
   * An emergency ("break-glass") read of another hospital's record without a grant: the record
   * that states the reason. Once it is final, the custodian's node releases that record's key to
   * this node, which may then read it for EMERGENCY_WINDOW_MS (each read still an access record),
   * and the patient sees the emergency and its reason in the record's access log.
   */
  async emergencyRecord (id: string, reason: string, reader: string): Promise<Unsigned> {
    if (this.ctx.node.role !== 'validator') throw new PrivacyError(PrivacyErrorCode.OBSERVER, 'observers never read plaintext')
    const { stored } = await this.envelopeRecord(id)
    if (this.ctx.index.shredOf(id) !== undefined) throw new PrivacyError(PrivacyErrorCode.SHREDDED, `record ${id} is shredded; its content is gone`)
    return emergencyRecord(stored.record.subject, fromHex(id), reason, await this.readers.pseudonym(reader), Date.now())
  }
}
