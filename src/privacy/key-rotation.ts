import { generateX25519 } from '../crypto/x25519.ts'
import { toHex } from '../encoding/bytes.ts'
import { removeEncryptionKey } from '../keys/key-file-edit.ts'
import { ANNOUNCE_RETRY_MS, type PrivacyContext } from './context.ts'
import { announceRecord } from './records.ts'

/**
 * This node's delivery keys: rotation (a new key announced on the chain when a shred or an
 * operator asks) and retirement (superseded keys destroyed, from the key store and the key file,
 * once the successor is final and the grace period has passed). State in state.json.
 */
export class KeyRotation {
  constructor (private readonly ctx: PrivacyContext, private readonly catchUp: () => Promise<void>) {}

  /** Loads the delivery keys of the key file and the key store. */
  async loadHeld (): Promise<void> {
    const { ctx } = this
    if (ctx.o.keyFileEncryption !== undefined) ctx.held.set(toHex(ctx.o.keyFileEncryption.publicKey), { pair: ctx.o.keyFileEncryption, source: 'keyfile' })
    for (const pair of await ctx.keys.deliveryKeys()) ctx.held.set(toHex(pair.publicKey), { pair, source: 'store' })
  }

  /** Asks for a new delivery key (also how a node with none in genesis gets its first); maintain() acts on it. */
  async request (): Promise<string | undefined> {
    const { ctx } = this
    const cur = ctx.index.deliveryKeyOf(ctx.me)?.key
    if (cur === undefined) ctx.state.wantKey = true
    else ctx.state.retiring = [...new Set([...ctx.state.retiring, cur])]
    ctx.state.announcedAt = undefined
    await ctx.saveState()
    return cur
  }

  /** Every delivery key this node has published is to be rotated away (a shred concerned it). */
  async retireAllPublished (): Promise<string[]> {
    const { ctx } = this
    const mine = [...ctx.held.keys()].filter(k => ctx.index.wasPublished(ctx.me, k))
    if (mine.length > 0) {
      ctx.state.retiring = [...new Set([...ctx.state.retiring, ...mine])]
      await ctx.saveState()
    }
    return mine
  }

  /**
   * Keeps the rule: a delivery key named by a shredded record (or by a rotation request) stops
   * being current, and once its successor is final and the grace period has passed every
   * superseded key this node holds is destroyed, from the store and from the key file.
   */
  async maintain (): Promise<void> {
    const { ctx } = this
    const cur = ctx.index.deliveryKeyOf(ctx.me)?.key
    const mustRotate = cur === undefined ? ctx.state.wantKey : ctx.state.retiring.includes(cur)
    if (mustRotate) {
      await this.announceNewKey()
      return
    }
    if (cur === undefined) return
    const superseded = [...ctx.held.keys()].filter(k => k !== cur && k !== ctx.state.pendingKey && ctx.index.wasPublished(ctx.me, k))
    if (superseded.length === 0) {
      if (ctx.state.retiring.length > 0) { ctx.state.retiring = []; await ctx.saveState() }
      return
    }
    if (Date.now() - (ctx.state.currentSince ?? 0) < ctx.o.retireGraceMs) return
    await this.catchUp()
    for (const k of superseded) await this.destroyDeliveryKey(k)
    ctx.state.retiring = ctx.state.retiring.filter(k => ctx.held.has(k))
    await ctx.saveState()
  }

  /** Our announcement of `deliveryKey` is final: it is current from now. */
  async onAnnounced (deliveryKey: string, height: number): Promise<void> {
    const { ctx } = this
    ctx.state.currentSince = Date.now()
    if (ctx.state.pendingKey === deliveryKey) { ctx.state.pendingKey = undefined; ctx.state.announcedAt = undefined; ctx.state.wantKey = false }
    await ctx.saveState()
    ctx.log.info({ deliveryKey, height }, 'our new delivery key is published')
  }

  private async announceNewKey (): Promise<void> {
    const { ctx } = this
    if (!ctx.node.isValidator) return
    let pending = ctx.state.pendingKey === undefined ? undefined : ctx.held.get(ctx.state.pendingKey)
    if (pending === undefined || ctx.state.retiring.includes(ctx.state.pendingKey as string)) {
      const pair = generateX25519()
      await ctx.keys.putDeliveryKey(pair)
      pending = { pair, source: 'store' }
      ctx.held.set(toHex(pair.publicKey), pending)
      ctx.state.pendingKey = toHex(pair.publicKey)
      ctx.state.announcedAt = undefined
      await ctx.saveState()
    }
    if (ctx.state.announcedAt !== undefined && Date.now() - ctx.state.announcedAt < ANNOUNCE_RETRY_MS) return
    try {
      await ctx.node.submitRecords([announceRecord(pending.pair.publicKey, Date.now())])
      ctx.state.announcedAt = Date.now()
      await ctx.saveState()
      ctx.log.info({ deliveryKey: ctx.state.pendingKey }, 'announced a new delivery key')
    } catch (err) {
      ctx.log.warn({ err: (err as Error).message }, 'could not announce a new delivery key; will retry')
    }
  }

  private async destroyDeliveryKey (k: string): Promise<void> {
    const { ctx } = this
    const h = ctx.held.get(k)
    if (h === undefined) return
    if (h.source === 'keyfile') await removeEncryptionKey(ctx.o.keyFile, ctx.o.passphrase)
    await ctx.keys.deleteDeliveryKey(h.pair.publicKey)
    h.pair.privateKey.fill(0)
    ctx.held.delete(k)
    ctx.log.info({ deliveryKey: k, from: h.source }, 'delivery key destroyed')
  }
}
