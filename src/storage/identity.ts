import { bytesEqual, toHex } from '../encoding/bytes.ts'
import { type Buckets, MetaKey, SCHEMA_VERSION } from './buckets.ts'
import { StorageError, StorageErrorCode } from './errors.ts'
import { decodeSchemaVersion, encodeSchemaVersion } from './values.ts'

/** Which chain a database belongs to: recorded once, checked on every later open. */
export interface Identity { chainId?: string, genesisHash?: Uint8Array }

const textDecoder = new TextDecoder('utf-8', { fatal: true })
const textEncoder = new TextEncoder()

/**
 * Checks the layout version and the chain identity, recording whatever is not recorded yet
 * (one flushed batch). A mismatch is refused: the directory holds another chain's ledger.
 */
export async function openGuarded (b: Buckets, dir: string, opts: Identity): Promise<Identity> {
  const [schemaRaw, chainIdRaw, genesisRaw] = await b.meta.getMany([MetaKey.schema, MetaKey.chainId, MetaKey.genesisHash])
  const batch = b.meta.batch()
  if (schemaRaw === undefined) {
    batch.put(MetaKey.schema, encodeSchemaVersion(SCHEMA_VERSION))
  } else {
    let version: number
    try { version = decodeSchemaVersion(schemaRaw) } catch { version = Number.NaN }
    if (!(version <= SCHEMA_VERSION)) {
      await batch.close()
      throw new StorageError(StorageErrorCode.UNSUPPORTED_SCHEMA,
        `the ledger database in ${dir} has layout version ${version}, this medledger reads up to ${SCHEMA_VERSION}: upgrade medledger`, { dir, version })
    }
  }

  const stored: Identity = {
    chainId: chainIdRaw === undefined ? undefined : textDecoder.decode(chainIdRaw),
    genesisHash: genesisRaw === undefined ? undefined : new Uint8Array(genesisRaw)
  }
  const chainMismatch = opts.chainId !== undefined && stored.chainId !== undefined && opts.chainId !== stored.chainId
  const genesisMismatch = opts.genesisHash !== undefined && stored.genesisHash !== undefined && !bytesEqual(opts.genesisHash, stored.genesisHash)
  if (chainMismatch || genesisMismatch) {
    await batch.close()
    const show = (i: Identity) => `chain ${i.chainId ?? '?'} (genesis ${i.genesisHash === undefined ? '?' : toHex(i.genesisHash)})`
    throw new StorageError(StorageErrorCode.GENESIS_MISMATCH,
      `${dir} holds the ledger of ${show(stored)}, but this node is configured for ${show({ ...stored, ...opts })}. ` +
      'Point --home at the right directory, or move this one away to join the configured chain', { dir })
  }
  if (stored.chainId === undefined && opts.chainId !== undefined) {
    batch.put(MetaKey.chainId, textEncoder.encode(opts.chainId))
    stored.chainId = opts.chainId
  }
  if (stored.genesisHash === undefined && opts.genesisHash !== undefined) {
    batch.put(MetaKey.genesisHash, opts.genesisHash)
    stored.genesisHash = new Uint8Array(opts.genesisHash)
  }
  if (batch.length > 0) await batch.write({ sync: true })
  else await batch.close()
  return stored
}
