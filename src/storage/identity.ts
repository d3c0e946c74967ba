import { bytesEqual, toHex } from '../encoding/bytes.ts'
import { type Buckets, MetaKey, SCHEMA_VERSION } from './buckets.ts'
import { StorageError, StorageErrorCode } from './errors.ts'
import { decodeSchemaVersion, encodeRecordCount, encodeSchemaVersion } from './values.ts'

/** Which chain a database belongs to: recorded once, checked on every later open. */
export interface Identity { chainId?: string, genesisHash?: Uint8Array }

const textDecoder = new TextDecoder('utf-8', { fatal: true })
const textEncoder = new TextEncoder()

/**
 * The layout version of a database: the stamped one; 1 for a database with blocks and no stamp
 * (written before the stamp existed); undefined for a new, empty one. NaN when unreadable.
 */
export async function storedSchemaVersion (b: Buckets): Promise<number | undefined> {
  const [schemaRaw, headRaw] = await b.meta.getMany([MetaKey.schema, MetaKey.head])
  if (schemaRaw === undefined) return headRaw === undefined ? undefined : 1
  try { return decodeSchemaVersion(schemaRaw) } catch { return Number.NaN }
}

/** The refusal of a database whose layout this binary does not read as it is. */
export function schemaMismatch (dir: string, home: string, version: number): StorageError | undefined {
  if (version === SCHEMA_VERSION) return undefined
  if (version < SCHEMA_VERSION) {
    return new StorageError(StorageErrorCode.OLD_SCHEMA,
      `the ledger database in ${dir} has database schema v${version}, this binary needs v${SCHEMA_VERSION}: run \`medledger migrate --home ${home}\` ` +
      '(with the node stopped; `medledger snapshot` first keeps a copy)', { dir, version, needs: SCHEMA_VERSION })
  }
  return new StorageError(StorageErrorCode.UNSUPPORTED_SCHEMA,
    `the ledger database in ${dir} has layout version ${version}, this medledger reads up to ${SCHEMA_VERSION}: upgrade medledger`, { dir, version })
}

/**
 * Checks the layout version and the chain identity, recording whatever is not recorded yet
 * (one flushed batch). A mismatch is refused: the directory holds another chain's ledger, or a
 * layout of another release.
 */
export async function openGuarded (b: Buckets, dir: string, opts: Identity & { home?: string }): Promise<Identity> {
  const version = await storedSchemaVersion(b)
  if (version !== undefined) {
    const refusal = schemaMismatch(dir, opts.home ?? dir, version)
    if (refusal !== undefined) throw refusal
  }
  const [chainIdRaw, genesisRaw] = await b.meta.getMany([MetaKey.chainId, MetaKey.genesisHash])
  const batch = b.meta.batch()
  if (version === undefined) {
    // A new database: this layout, with its running totals from zero.
    batch.put(MetaKey.schema, encodeSchemaVersion(SCHEMA_VERSION))
    batch.put(MetaKey.recordCount, encodeRecordCount(0))
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
