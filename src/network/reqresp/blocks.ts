import type { Connection, Stream } from '@libp2p/interface'
import type { Libp2p } from 'libp2p'
import { decodeCbor, encodeCbor, readTuple, readUint } from '../../encoding/cbor.ts'
import { decodeFinalized } from '../../chain/codec.ts'
import { readAll } from '../../encoding/reader.ts'
import { LIMITS } from '../../chain/limits.ts'
import type { FinalizedBlock } from '../../chain/types.ts'
import type { Logger } from '../../logger.ts'
import { isMedledgerError } from '../../errors.ts'
import { NetworkError, NetworkErrorCode } from '../errors.ts'
import { readRequest, requestResponse } from './stream.ts'

/**
 * Blocks: a range of finalized blocks (each with its commit certificate) for a node that is behind.
 *
 *   request  = [from: uint >= 1, count: uint >= 1, maxBytes: uint]
 *   response = [block_0: bytes, block_1: bytes, ...]
 *
 * Each block_i is the canonical encoding of [block, certificate] at height from + i. The server
 * sends at most min(count, its maxBlocksPerRequest) blocks and at most min(maxBytes, its
 * maxResponseBytes) bytes of them (at least one block if it has any, so one big block never stalls
 * sync), and fewer, down to none, when it has fewer.
 */
export const BLOCKS_REQUEST_MAX_BYTES = 64
/** A finalized block: the block plus a certificate of up to LIMITS.validators signatures. */
export const FINALIZED_BLOCK_MAX_BYTES = LIMITS.blockBytes + LIMITS.validators * 128 + 128

export interface BlocksRequest { from: number, count: number, maxBytes: number }

export function encodeBlocksRequest (r: BlocksRequest): Uint8Array {
  return encodeCbor([r.from, r.count, r.maxBytes])
}

export function decodeBlocksRequest (bytes: Uint8Array): BlocksRequest {
  const [from, count, maxBytes] = readTuple(decodeCbor(bytes, BLOCKS_REQUEST_MAX_BYTES), 3, 'blocks request')
  const r = { from: readUint(from, 'blocks.from'), count: readUint(count, 'blocks.count'), maxBytes: readUint(maxBytes, 'blocks.maxBytes') }
  if (r.from < 1 || r.count < 1) throw new NetworkError(NetworkErrorCode.BAD_REQUEST, 'blocks request: from and count must be at least 1', { ...r })
  return r
}

/** Bytes of a response frame holding `blocks` items of `payload` bytes in total: CBOR headers are at most 9 bytes each. */
export function responseFrameBytes (payload: number, blocks: number): number {
  return payload + 9 * (blocks + 1)
}

export interface BlocksModules {
  libp2p: Libp2p
  protocol: string
  timeoutMs: number
  maxBlocksPerRequest: number
  maxResponseBytes: number
  logger: Logger
  admit: (peerId: string) => boolean
  localHeight: () => number
  readBlocks: (from: number, to: number, maxBytes: number) => Promise<Uint8Array[]>
  onBadPeer: (peerId: string, err: Error) => void
}

export async function registerBlocksHandler (m: BlocksModules): Promise<void> {
  await m.libp2p.handle(m.protocol, async (stream: Stream, connection: Connection) => {
    const peer = connection.remotePeer.toString()
    if (!m.admit(peer)) { stream.abort(new Error('peer not allowed')); return }
    try {
      const { request, respond } = await readRequest(stream, BLOCKS_REQUEST_MAX_BYTES, m.timeoutMs)
      const r = decodeBlocksRequest(request)
      const count = Math.min(r.count, m.maxBlocksPerRequest)
      const maxBytes = Math.min(r.maxBytes, m.maxResponseBytes)
      const to = Math.min(r.from + count - 1, m.localHeight())
      const items = to < r.from ? [] : await m.readBlocks(r.from, to, maxBytes)
      // Reading took time and blocks were committed meanwhile: a peer whose removal took effect
      // in that window gets none of them (the allowlist changes before the next height is built).
      if (!m.admit(peer)) { stream.abort(new Error('peer not allowed')); return }
      await respond(encodeCbor(trimToBudget(items.slice(0, count), maxBytes)))
    } catch (err) {
      stream.abort(err as Error)
      if (isMedledgerError(err)) m.onBadPeer(peer, err)
      else m.logger.debug({ peer, err: (err as Error).message }, 'blocks request failed')
    }
  }, { maxInboundStreams: 4, maxOutboundStreams: 4 })
}

// readBlocks promises to stop at maxBytes; enforce it anyway, keeping at least one block.
function trimToBudget (items: Uint8Array[], maxBytes: number): Uint8Array[] {
  let total = 0
  for (let i = 0; i < items.length; i++) {
    total += items[i].length
    if (total > maxBytes && i > 0) return items.slice(0, i)
  }
  return items
}

/**
 * Asks a connected peer for blocks [from, from + count). The result may be shorter (never longer)
 * and is checked to hold consecutive heights from `from`; anything else is the peer's fault
 * (BAD_RESPONSE, REJECT). Verifying the blocks is the caller's job.
 */
export async function requestBlocks (m: BlocksModules, peerId: string, from: number, count: number, signal?: AbortSignal): Promise<FinalizedBlock[]> {
  const n = Math.min(count, m.maxBlocksPerRequest)
  const frameMax = responseFrameBytes(m.maxResponseBytes, n) + FINALIZED_BLOCK_MAX_BYTES
  const bytes = await requestResponse({
    libp2p: m.libp2p,
    peerId,
    protocol: m.protocol,
    request: encodeBlocksRequest({ from, count: n, maxBytes: m.maxResponseBytes }),
    maxResponseBytes: frameMax,
    timeoutMs: m.timeoutMs,
    signal
  })
  try {
    const items = readAll(bytes.slice(), frameMax, r => Array.from({ length: r.list(n, 'blocks response') }, () => r.bytes('blocks.item', { max: FINALIZED_BLOCK_MAX_BYTES })))
    return items.map((item, i) => {
      const fb = decodeFinalized(item, FINALIZED_BLOCK_MAX_BYTES)
      const height = from + i
      if (fb.block.header.height !== height || fb.certificate.height !== height) {
        throw new NetworkError(NetworkErrorCode.BAD_RESPONSE, `expected height ${height}, got block ${fb.block.header.height} with certificate ${fb.certificate.height}`)
      }
      return fb
    })
  } catch (err) {
    throw new NetworkError(NetworkErrorCode.BAD_RESPONSE, `blocks from ${peerId}: ${(err as Error).message}`, { peer: peerId, from, count: n })
  }
}
