import { blockHash } from '../chain/hashing.ts'
import { readHeader } from '../chain/codec.ts'
import { LIMITS } from '../chain/limits.ts'
import type { BlockHeader, Certificate } from '../chain/types.ts'
import { CborReader } from '../encoding/reader.ts'
import { toHex } from '../encoding/bytes.ts'
import { certificateJson, headerJson } from './json.ts'
import type { RecordProofs } from './proof.ts'

/** Most headers GET /v1/headers returns at once (a larger limit is clamped). */
export const MAX_HEADER_PAGE = 100
/**
 * Stored block bytes one page may read (blocks are read whole to take their header): a page
 * stops early past this, so a page of large blocks costs tens of MiB of reads, not 350.
 */
export const HEADER_PAGE_READ_BYTES = 32 * 1024 * 1024

export interface HeaderSource {
  readonly head: { height: number } | null
  getBlockBytes: (height: number) => Promise<Uint8Array | undefined>
  getCertificate: (height: number) => Promise<Certificate | undefined>
}

/** A stored block's header, read without decoding its body. */
export function headerOfBlockBytes (bytes: Uint8Array): BlockHeader {
  const r = new CborReader(bytes, LIMITS.blockBytes)
  r.tuple(2, 'block')
  return readHeader(r)
}

/**
 * The pages of GET /v1/headers: headers with their commit certificates from `from` upwards,
 * what a light client follows (docs/protocol.md, "Light clients"). A block that carries a
 * validator-set change also carries the change's inclusion proof (`governance`, the shape of a
 * record proof's governance link), so the client learns the change from a proved record rather
 * than from the node's word.
 */
export async function headerPage (store: HeaderSource, proofs: RecordProofs, changeHeights: ReadonlySet<number>, from: number, limit: number): Promise<Record<string, unknown>> {
  const head = store.head?.height ?? 0
  const to = Math.min(head, from + limit - 1)
  const headers: Array<Record<string, unknown>> = []
  let read = 0
  let h = from
  for (; h <= to && (headers.length === 0 || read < HEADER_PAGE_READ_BYTES); h++) {
    const [bytes, certificate] = await Promise.all([store.getBlockBytes(h), store.getCertificate(h)])
    if (bytes === undefined || certificate === undefined) break
    read += bytes.length
    const header = headerOfBlockBytes(bytes)
    headers.push({
      hash: toHex(blockHash(header)),
      header: headerJson(header),
      certificate: certificateJson(certificate),
      ...(changeHeights.has(h) ? { governance: await proofs.governanceLink(h) } : {})
    })
  }
  return { head, from, headers, next: h <= head ? h : null }
}
