import { lpStream } from '@libp2p/utils'
import type { Stream } from '@libp2p/interface'
import type { Libp2p } from 'libp2p'
import { PeerAction } from '../../errors.ts'
import { NetworkError, NetworkErrorCode } from '../errors.ts'

/**
 * One request, one response, each a single length-prefixed frame on a fresh stream. The reader's
 * buffer is capped at the frame limit (lpStream's default 4 MiB would cut block ranges short).
 */
export interface Exchange {
  libp2p: Libp2p
  peerId: string
  protocol: string
  request: Uint8Array
  maxResponseBytes: number
  timeoutMs: number
  signal?: AbortSignal
}

export async function requestResponse (x: Exchange): Promise<Uint8Array> {
  const signal = x.signal === undefined ? AbortSignal.timeout(x.timeoutMs) : AbortSignal.any([x.signal, AbortSignal.timeout(x.timeoutMs)])
  const conn = x.libp2p.getConnections().find(c => c.remotePeer.toString() === x.peerId && c.status === 'open')
  if (conn === undefined) throw new NetworkError(NetworkErrorCode.NO_RESPONSE, `not connected to ${x.peerId}`, { peer: x.peerId }, PeerAction.IGNORE)
  let stream: Stream
  try {
    stream = await conn.newStream(x.protocol, { signal })
  } catch (err) {
    throw asNoResponse(err, x)
  }
  const lp = lpStream(stream, frameLimits(x.maxResponseBytes))
  try {
    await lp.write(x.request, { signal })
    const response = await lp.read({ signal })
    await stream.close({ signal }).catch(() => {})
    return response.subarray()
  } catch (err) {
    stream.abort(err as Error)
    throw asNoResponse(err, x)
  }
}

/** Reads a request frame of at most `maxBytes`, with a deadline: a silent peer cannot hold a stream open. */
export async function readRequest (stream: Stream, maxBytes: number, timeoutMs: number): Promise<{ request: Uint8Array, respond: (response: Uint8Array) => Promise<void> }> {
  const signal = AbortSignal.timeout(timeoutMs)
  const lp = lpStream(stream, frameLimits(maxBytes))
  let request: Uint8Array
  try {
    request = (await lp.read({ signal })).subarray()
  } catch (err) {
    // An oversize or malformed frame is the requester breaking the protocol; a timeout is not.
    if (FRAME_ERRORS.has((err as Error)?.name)) throw new NetworkError(NetworkErrorCode.BAD_REQUEST, `${stream.protocol}: ${(err as Error).message}`)
    throw err
  }
  return {
    request,
    respond: async (response) => {
      await lp.write(response, { signal: AbortSignal.timeout(timeoutMs) })
      await stream.close({ signal: AbortSignal.timeout(timeoutMs) })
    }
  }
}

const FRAME_ERRORS = new Set(['InvalidDataLengthError', 'InvalidDataLengthLengthError', 'InvalidMessageLengthError', 'StreamBufferError'])

export function frameLimits (maxBytes: number): { maxDataLength: number, maxBufferSize: number } {
  // The buffer holds the varint length prefix (at most 10 bytes) besides the frame.
  return { maxDataLength: maxBytes, maxBufferSize: maxBytes + 16 }
}

export function isUnsupportedProtocol (err: unknown): boolean {
  return (err as Error)?.name === 'UnsupportedProtocolError' || (err as NetworkError)?.meta?.unsupported === true
}

function asNoResponse (err: unknown, x: Exchange): NetworkError {
  if (err instanceof NetworkError) return err
  const e = err as Error
  const unsupported = e?.name === 'UnsupportedProtocolError'
  // Too large a frame is the peer breaking the protocol; a timeout or reset may be the network.
  const tooLarge = FRAME_ERRORS.has(e?.name)
  return new NetworkError(
    tooLarge ? NetworkErrorCode.BAD_RESPONSE : NetworkErrorCode.NO_RESPONSE,
    `${x.protocol} to ${x.peerId}: ${e?.name ?? 'Error'}: ${e?.message ?? String(err)}`,
    { peer: x.peerId, protocol: x.protocol, unsupported },
    tooLarge ? PeerAction.REJECT : PeerAction.IGNORE
  )
}
