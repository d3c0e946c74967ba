import { encodeCertificate, encodeEvidence } from '../chain/codec.ts'
import { evidenceHash, recordId } from '../chain/hashing.ts'
import type { FinalizedBlock } from '../chain/types.ts'
import { bytesEqual, heightFromKey, heightKey, toHex } from '../encoding/bytes.ts'
import { type Buckets, MetaKey, type RootDb } from './buckets.ts'
import { StorageError, StorageErrorCode } from './errors.ts'
import type { Identity } from './identity.ts'
import { corruptAdvice } from './open.ts'
import { decodeHead, encodeCommittedEvidence, encodeLocation, type Head } from './values.ts'

/**
 * What a commit requires of a block and what it writes. The store checks only that the block
 * extends its head; signatures and body rules were checked by consensus, sync or import.
 */
export function checkExtends (head: Head | null, identity: Identity, fb: FinalizedBlock, hash: Uint8Array): void {
  const h = fb.block.header
  // Heights are consecutive: block n + 1 follows the head at n (1 follows an empty store).
  const expected = (head?.height ?? 0) + 1
  if (h.height !== expected) {
    throw new StorageError(StorageErrorCode.NOT_NEXT_HEIGHT, `block at height ${h.height} does not follow the head at ${expected - 1}`, { height: h.height, expected })
  }
  // The parent is the head's hash, or the recorded genesis hash for block 1.
  const parent = head?.hash ?? identity.genesisHash
  if (parent !== undefined && !bytesEqual(h.parentHash, parent)) {
    throw new StorageError(StorageErrorCode.PARENT_MISMATCH, `block ${h.height} has parent ${toHex(h.parentHash)}, the stored chain has ${toHex(parent)}`, { height: h.height })
  }
  if (identity.chainId !== undefined && h.chainId !== identity.chainId) {
    throw new StorageError(StorageErrorCode.WRONG_CHAIN, `block ${h.height} is for chain ${h.chainId}, this database holds ${identity.chainId}`, { height: h.height })
  }
  // A certificate is stored beside its block: it must be for that height and that hash.
  const c = fb.certificate
  if (c.height !== h.height || !bytesEqual(c.blockHash, hash)) {
    throw new StorageError(StorageErrorCode.CERTIFICATE_MISMATCH, `the certificate (height ${c.height}, block ${toHex(c.blockHash)}) is not for block ${h.height} ${toHex(hash)}`, { height: h.height })
  }
}

/** Adds one block's entries to the commit batch (the caller adds the head pointer last). */
export function putBlock (batch: ReturnType<RootDb['batch']>, b: Buckets, fb: FinalizedBlock, hash: Uint8Array, bytes: Uint8Array): void {
  const height = fb.block.header.height
  const hk = heightKey(height)
  batch.put(hk, bytes, { sublevel: b.blocks })
  batch.put(hk, encodeCertificate(fb.certificate), { sublevel: b.certificates })
  batch.put(hash, hk, { sublevel: b.hashIndex })
  // The record index is most of a block's entries: written to the root with the sublevel's
  // prefix already on the key, which skips abstract-level's per-operation sublevel handling.
  const prefix = Buffer.from(b.recordIndex.prefix, 'utf8')
  fb.block.body.batches.forEach((rb, bi) => {
    rb.records.forEach((r, ri) => {
      const key = new Uint8Array(prefix.length + 32)
      key.set(prefix)
      key.set(recordId(r), prefix.length)
      batch.put(key, encodeLocation(height, bi, ri))
    })
  })
  for (const e of fb.block.body.evidence) {
    const eh = evidenceHash(e)
    batch.put(eh, encodeCommittedEvidence(height, encodeEvidence(e)), { sublevel: b.evidence })
    batch.del(eh, { sublevel: b.pendingEvidence })
  }
}

/** Reads the head on open: it names a block stored with its certificate, and nothing sits above it. */
export async function loadHead (b: Buckets, dir: string, home: string): Promise<Head | null> {
  const raw = await b.meta.get(MetaKey.head)
  const fail = (what: string) => new StorageError(StorageErrorCode.CORRUPT, `${corruptAdvice(dir, home)} (${what})`, { dir, cause: what })
  let head: Head | null = null
  if (raw !== undefined) {
    try { head = decodeHead(raw) } catch (err) { throw fail((err as Error).message) }
  }
  const height = head?.height ?? 0
  const [block, cert, above] = await Promise.all([
    height === 0 ? undefined : b.blocks.get(heightKey(height)),
    height === 0 ? undefined : b.certificates.get(heightKey(height)),
    b.blocks.keys({ gt: heightKey(height), limit: 1 }).all()
  ])
  if (height > 0 && (block === undefined || cert === undefined)) throw fail(`the head block ${height} or its certificate is missing`)
  if (above.length > 0) throw fail(`block ${heightFromKey(above[0])} is stored above the head ${height}`)
  return head
}
