import { Level } from 'level'

/**
 * The on-disk layout: one LevelDB sublevel per kind of value, each under a short fixed name
 * (abstract-level prefixes its keys with `!name!`, three bytes). All values are binary.
 *
 * RULE: a bucket name, once released, is never reused. To change a bucket's layout, add a new
 * name and move the old one to RETIRED_BUCKETS; an old database then still reads as "unknown
 * data under a retired name", never as wrongly-shaped data under a live one. Bump SCHEMA_VERSION
 * whenever a release changes what is written.
 */
export const Bucket = {
  /** heightKey(height) -> encodeBlock(block), the canonical bytes. */
  blocks: 'b',
  /** heightKey(height) -> encodeCertificate(certificate) of the block at that height. */
  certificates: 'c',
  /** blockHash(header), 32 B -> heightKey(height). */
  hashIndex: 'h',
  /** recordId, 32 B -> location, 12 B: height u64 BE | batchIndex u16 BE | recordIndex u16 BE. */
  recordIndex: 'r',
  /** evidenceHash, 32 B -> heightKey(height of the including block) | encodeEvidence(evidence). */
  evidence: 'e',
  /** evidenceHash, 32 B -> encodeEvidence(evidence): seen, verified, not yet in a block. */
  pendingEvidence: 'p',
  /** utf8 name -> bytes: the double-sign guard and the consensus snapshot (ConsensusKey). */
  consensus: 's',
  /** utf8 name -> small bytes: the store's own MetaKey entries and callers' getMeta/putMeta. */
  meta: 'm'
} as const

/** Names that were used by earlier layouts and must never be given to a new bucket. */
export const RETIRED_BUCKETS: readonly string[] = []

/**
 * Layout version written in meta on creation. A database with a higher one is refused (upgrade
 * medledger); with a lower one too, until `medledger migrate` (src/storage/migrations.ts) moves it.
 * 1: the first layout (databases from before the version key hold it too, unstamped).
 * 2: meta `recordCount`, the running total of final records, written with every head.
 */
export const SCHEMA_VERSION = 2

/** Keys of the consensus bucket. */
export const ConsensusKey = {
  /** 13 B: height u64 BE | round u32 BE | step u8. Written with sync before any signature leaves. */
  lastSigned: 'lastSigned',
  /** Opaque bytes owned by the consensus module. */
  snapshot: 'snapshot',
  /** The exact bytes signed at lastSigned, written in the same batch: re-signing them is not a conflict. */
  lastSignedBytes: 'lastSignedBytes',
  /** Consensus's own votes of the current height (opaque), written in the guard's batch (putSigned). */
  ownMessages: 'ownMessages',
  /** The blocks named by the snapshot's lock and valid value (opaque), written in the snapshot's batch. */
  heldBlocks: 'heldBlocks'
} as const

/** Where releases before putSigned kept consensus's own votes (meta bucket, unsynced); still read. */
export const LEGACY_OWN_MESSAGES_META_KEY = 'consensus.ownMessages'

/** Keys of the meta bucket that the store owns; putMeta refuses them. */
export const MetaKey = {
  /** u32 BE: SCHEMA_VERSION of the writer that created the database. */
  schema: 'schemaVersion',
  /** utf8 chain id, recorded on first open. */
  chainId: 'chainId',
  /** 32 B genesis hash, recorded on first open. */
  genesisHash: 'genesisHash',
  /** 40 B: height u64 BE | block hash. Written in the same batch as the block it names. */
  head: 'head',
  /** u64 BE: records in blocks 1..head. Written in the same batch as the head (since schema 2). */
  recordCount: 'recordCount'
} as const

export const RESERVED_META_KEYS: ReadonlySet<string> = new Set(Object.values(MetaKey))

export type RootDb = Level<Uint8Array, Uint8Array>

export function openBuckets (db: RootDb) {
  const bytes = (name: string) => db.sublevel<Uint8Array, Uint8Array>(name, { keyEncoding: 'view', valueEncoding: 'view' })
  const named = (name: string) => db.sublevel<string, Uint8Array>(name, { keyEncoding: 'utf8', valueEncoding: 'view' })
  return {
    blocks: bytes(Bucket.blocks),
    certificates: bytes(Bucket.certificates),
    hashIndex: bytes(Bucket.hashIndex),
    recordIndex: bytes(Bucket.recordIndex),
    evidence: bytes(Bucket.evidence),
    pendingEvidence: bytes(Bucket.pendingEvidence),
    consensus: named(Bucket.consensus),
    meta: named(Bucket.meta)
  }
}

export type Buckets = ReturnType<typeof openBuckets>
