import { Genesis } from '../chain/genesis.ts'
import { loadConfig, resolvePath } from '../config/load.ts'
import { bytesEqual, fromHex, toHex } from '../encoding/bytes.ts'
import { readKeyMaterial } from '../keys/key-file.ts'
import { ChainStore } from '../storage/index.ts'
import { decodeEnvelope, ENVELOPE_CONTENT_TYPE, openContent, unwrapKey, wrapsFor, type EnvelopeContext, type WrappedKey } from './envelope.ts'
import { CONTENT_TYPES, decodeRelease, RECORD_TYPES } from './records.ts'
import { isPrivacyError, PrivacyError, PrivacyErrorCode } from './errors.ts'
import { isMedledgerError } from '../errors.ts'
import { LocalKeyStore } from './local-store.ts'
import { nodePassphrase } from './setup.ts'
import { NotFoundCode } from '../chain/errors.ts'

export interface OfflineCheck {
  recordId: string
  /** Whether the envelope or a key release on the chain wraps the record's key to this node. */
  recipient: boolean
  dataKeyHeld: boolean
  deliveryKeysHeld: string[]
  /** Whether any key material in this home opens the record's content. */
  decryptable: boolean
  how?: 'data-key' | 'delivery-key'
}

/**
 * Tries every piece of key material a (stopped) node's home holds against one encrypted record:
 * the cached data key, and each delivery private key in the key file and the key store. After a
 * completed shred, none opens it: the check an auditor runs with the node's disk in hand.
 */
export async function checkRecordOffline (home: string, id: string): Promise<OfflineCheck> {
  const config = await loadConfig(home)
  const genesis = await Genesis.load(resolvePath(home, config.genesis))
  const passphrase = await nodePassphrase(home, config)
  const material = await readKeyMaterial(resolvePath(home, config.key), { passphrase })
  const store = await ChainStore.open(resolvePath(home, config.data_dir), { chainId: genesis.chainId, genesisHash: genesis.hash })
  const me = material.key.publicKey
  let record
  // Key releases of this record to this node by its custodian (docs/privacy.md section 4): wraps on the chain.
  const releases: WrappedKey[] = []
  try {
    record = (await store.getRecord(fromHex(id)))?.record
    for await (const fb of store.iterateFinalized(1, store.head?.height ?? 0)) {
      for (const batch of fb.block.body.batches) {
        if (record === undefined || !bytesEqual(batch.author, record.author)) continue
        for (const r of batch.records) {
          if (r.type !== RECORD_TYPES.release || r.contentType !== CONTENT_TYPES.release) continue
          try {
            const rel = decodeRelease(r.payload)
            if (toHex(rel.recordId) === id && bytesEqual(rel.wrap.node, me)) releases.push(rel.wrap)
          } catch (err) {
            // A malformed release on the chain releases nothing.
            if (!isMedledgerError(err)) throw err
          }
        }
      }
    }
  } finally {
    await store.close()
  }
  if (record === undefined) throw new PrivacyError(NotFoundCode.RECORD, `no final record ${id} in ${home}`)
  if (record.contentType !== ENVELOPE_CONTENT_TYPE) throw new PrivacyError(PrivacyErrorCode.NOT_ENCRYPTED, `record ${id} is not encrypted`)
  const env = decodeEnvelope(record.payload)
  const ctx: EnvelopeContext = { chainId: genesis.chainId, type: record.type, subject: record.subject, author: record.author }
  const keys = await LocalKeyStore.open(resolvePath(home, config.privacy.dir), material.key.seed)
  const pairs = [...(material.encryption === undefined ? [] : [material.encryption]), ...await keys.deliveryKeys()]
  const mine = [...wrapsFor(env, me), ...releases]
  const held = mine.map(w => toHex(w.deliveryKey)).filter(k => pairs.some(p => toHex(p.publicKey) === k))
  const out: OfflineCheck = { recordId: id, recipient: mine.length > 0, dataKeyHeld: false, deliveryKeysHeld: held, decryptable: false }
  const dk = await keys.getDataKey(id)
  if (dk !== undefined) {
    out.dataKeyHeld = true
    if (opens(() => openContent(ctx, env, dk))) return { ...out, decryptable: true, how: 'data-key' }
  }
  for (const p of pairs) {
    for (const w of mine) {
      if (opens(() => openContent(ctx, env, unwrapKey(ctx, w, p)))) return { ...out, decryptable: true, how: 'delivery-key' }
    }
  }
  return out
}

function opens (fn: () => unknown): boolean {
  try {
    fn()
    return true
  } catch (err) {
    if (isPrivacyError(err)) return false
    throw err
  }
}
