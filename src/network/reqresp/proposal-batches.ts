import type { Connection, Stream } from '@libp2p/interface'
import type { Libp2p } from 'libp2p'
import { readBatch, encodeBatch } from '../../chain/codec.ts'
import { batchId } from '../../chain/hashing.ts'
import { LIMITS } from '../../chain/limits.ts'
import type { RecordBatch } from '../../chain/types.ts'
import { HASH_LENGTH } from '../../crypto/hash.ts'
import { cborHead, concatBytes, headSize, CodecError } from '../../encoding/cbor.ts'
import { readAll } from '../../encoding/reader.ts'
import { toHex } from '../../encoding/bytes.ts'
import { isMedledgerError } from '../../errors.ts'
import type { Logger } from '../../logger.ts'
import { NetworkError, NetworkErrorCode } from '../errors.ts'
import { readRequest, requestResponse } from './stream.ts'

/**
 * Proposal batches: the batches of a compact proposal that a receiver does not hold, asked of the
 * peer that sent the proposal (which assembled it, so it has them).
 *
 *   request  = [batchId: bytes .size 32, ...]       1 to batchesPerBlock ids
 *   response = [RecordBatch / null, ...]            one item per id, in order
 *
 * An item is null when the server does not hold that batch, and every item from the one that
 * would take the response past one block's bytes is null too: the answer is never larger than a
 * block. The client checks each batch against the id it asked for.
 */
export const PROPOSAL_BATCHES_REQUEST_MAX_BYTES = headSize(LIMITS.batchesPerBlock) + LIMITS.batchesPerBlock * (headSize(HASH_LENGTH) + HASH_LENGTH)
/** A block's bytes, one null per id beyond them, and the array head. */
export const PROPOSAL_BATCHES_RESPONSE_MAX_BYTES = LIMITS.blockBytes + LIMITS.batchesPerBlock + 9

export interface ProposalBatchesModules {
  libp2p: Libp2p
  protocol: string
  timeoutMs: number
  logger: Logger
  admit: (peerId: string) => boolean
  /** A batch this node can serve, by hex id. */
  batch: (id: string) => RecordBatch | undefined
  onBadPeer: (peerId: string, err: Error) => void
}

export function encodeProposalBatchesRequest (ids: Uint8Array[]): Uint8Array {
  return concatBytes([cborHead(4, ids.length), ...ids.flatMap(id => [cborHead(2, id.length), id])])
}

export function decodeProposalBatchesRequest (bytes: Uint8Array): Uint8Array[] {
  try {
    return readAll(bytes, PROPOSAL_BATCHES_REQUEST_MAX_BYTES, r => {
      const n = r.list(LIMITS.batchesPerBlock, 'proposal batches request')
      if (n === 0) throw new NetworkError(NetworkErrorCode.BAD_REQUEST, 'proposal batches request: no batch ids')
      return Array.from({ length: n }, () => r.bytes('proposal batches request.id', { length: HASH_LENGTH }))
    })
  } catch (err) {
    if (err instanceof CodecError) throw new NetworkError(NetworkErrorCode.BAD_REQUEST, `proposal batches request: ${err.message}`)
    throw err
  }
}

/** The response for `ids`: the held batches' own bytes, null for the rest, at most a block's bytes of batches. */
export function encodeProposalBatchesResponse (ids: Uint8Array[], batch: (id: string) => RecordBatch | undefined): Uint8Array {
  const parts: Uint8Array[] = [cborHead(4, ids.length)]
  const NULL = Uint8Array.of(0xf6)
  let size = 0
  for (const id of ids) {
    const b = size < LIMITS.blockBytes ? batch(toHex(id)) : undefined
    const bytes = b === undefined ? undefined : encodeBatch(b)
    if (bytes === undefined || size + bytes.length > LIMITS.blockBytes) { parts.push(NULL); continue }
    parts.push(bytes)
    size += bytes.length
  }
  return concatBytes(parts)
}

export async function registerProposalBatchesHandler (m: ProposalBatchesModules): Promise<void> {
  await m.libp2p.handle(m.protocol, async (stream: Stream, connection: Connection) => {
    const peer = connection.remotePeer.toString()
    if (!m.admit(peer)) { stream.abort(new Error('peer not allowed')); return }
    try {
      const { request, respond } = await readRequest(stream, PROPOSAL_BATCHES_REQUEST_MAX_BYTES, m.timeoutMs)
      const ids = decodeProposalBatchesRequest(request)
      await respond(encodeProposalBatchesResponse(ids, m.batch))
    } catch (err) {
      stream.abort(err as Error)
      if (isMedledgerError(err)) m.onBadPeer(peer, err)
      else m.logger.debug({ peer, err: (err as Error).message }, 'proposal batches request failed')
    }
  }, { maxInboundStreams: 2, maxOutboundStreams: 2 })
}

/**
 * Asks a connected peer for batches by id: one item per id, null where the peer had none. A batch
 * that is not the one asked for (another id) is the peer's fault (BAD_RESPONSE, REJECT).
 */
export async function requestProposalBatches (m: Pick<ProposalBatchesModules, 'libp2p' | 'protocol' | 'timeoutMs'>, peerId: string, ids: Uint8Array[]): Promise<Array<RecordBatch | null>> {
  const bytes = await requestResponse({
    libp2p: m.libp2p,
    peerId,
    protocol: m.protocol,
    request: encodeProposalBatchesRequest(ids),
    maxResponseBytes: PROPOSAL_BATCHES_RESPONSE_MAX_BYTES,
    timeoutMs: m.timeoutMs
  })
  try {
    return readAll(bytes.slice(), PROPOSAL_BATCHES_RESPONSE_MAX_BYTES, r => {
      const n = r.list(ids.length, 'proposal batches response')
      if (n !== ids.length) throw new Error(`expected ${ids.length} items, got ${n}`)
      return ids.map((id, i) => {
        if (r.null()) return null
        const b = readBatch(r)
        if (Buffer.compare(batchId(b), id) !== 0) throw new Error(`item ${i} is not the batch asked for`)
        return b
      })
    })
  } catch (err) {
    throw new NetworkError(NetworkErrorCode.BAD_RESPONSE, `proposal batches from ${peerId}: ${(err as Error).message}`, { peer: peerId, asked: ids.length })
  }
}
