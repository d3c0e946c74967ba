import { messageStreamToDuplex } from '@libp2p/utils'
import { StreamBufferError, type Stream, type StreamMessageEvent } from '@libp2p/interface'
import * as lp from 'it-length-prefixed'
import { pipe } from 'it-pipe'
import type { Libp2p } from 'libp2p'
import { PeerAction } from '../../errors.ts'
import { NetworkError, NetworkErrorCode } from '../errors.ts'

/**
 * One request, one response, each a single length-prefixed frame on a fresh stream, written and
 * read through it-pipe and it-length-prefixed. Either side may receive at most one frame of its
 * limit in all (a peer that sends more is cut off: nothing queues beyond it), and the whole
 * exchange has a deadline: a silent or slow peer cannot hold a stream open.
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
  capInbound(stream, x.maxResponseBytes)
  try {
    return await within(stream, signal, async () => {
      const duplex = messageStreamToDuplex(stream)
      // The sink half-closes our side once the request is written; the response is the first frame back.
      const sent = pipe([x.request], (source) => lp.encode(source, { maxDataLength: x.request.byteLength }), duplex.sink)
      const received = pipe(duplex.source, (source) => lp.decode(source, { maxDataLength: x.maxResponseBytes }), firstFrame)
      const [, response] = await Promise.all([sent, received])
      return response
    })
  } catch (err) {
    stream.abort(err as Error)
    throw asNoResponse(err, x)
  }
}

/** Reads a request frame of at most `maxBytes`, with a deadline for the request and one for the response. */
export async function readRequest (stream: Stream, maxBytes: number, timeoutMs: number): Promise<{ request: Uint8Array, respond: (response: Uint8Array) => Promise<void> }> {
  capInbound(stream, maxBytes)
  let request: Uint8Array
  try {
    request = await within(stream, AbortSignal.timeout(timeoutMs), async () => await pipe(
      messageStreamToDuplex(stream).source,
      (source) => lp.decode(source, { maxDataLength: maxBytes }),
      firstFrame
    ))
  } catch (err) {
    // An oversize or malformed frame is the requester breaking the protocol; a timeout is not.
    if (FRAME_ERRORS.has((err as Error)?.name)) throw new NetworkError(NetworkErrorCode.BAD_REQUEST, `${stream.protocol}: ${(err as Error).message}`)
    throw err
  }
  return {
    request,
    // The sink closes our writable end once the response is out.
    respond: async (response) => {
      await within(stream, AbortSignal.timeout(timeoutMs), async () => {
        await pipe([response], (source) => lp.encode(source, { maxDataLength: response.byteLength }), messageStreamToDuplex(stream).sink)
      })
    }
  }
}

/** The first frame of a decoded source; a source that ends before one whole frame is an unexpected end. */
async function firstFrame (frames: AsyncIterable<{ subarray: () => Uint8Array }>): Promise<Uint8Array> {
  for await (const frame of frames) return frame.subarray()
  throw Object.assign(new Error('the stream ended before a whole frame'), { name: 'UnexpectedEOFError' })
}

/**
 * Holds what a stream may receive, for as long as it lives, to one frame of `maxFrameBytes` and
 * its varint prefix: one byte more and the stream is aborted, which ends the pipeline reading it.
 */
function capInbound (stream: Stream, maxFrameBytes: number): void {
  const limit = maxFrameBytes + MAX_PREFIX_BYTES
  let received = 0
  const onMessage = (evt: StreamMessageEvent): void => {
    received += evt.data.byteLength
    if (received <= limit) return
    stream.removeEventListener('message', onMessage)
    const err = new StreamBufferError(`received ${received} bytes, more than one frame of ${maxFrameBytes}`)
    // Let the current dispatch finish first.
    queueMicrotask(() => { stream.abort(err) })
  }
  stream.addEventListener('message', onMessage)
}

/**
 * Runs `work` on an open stream until `deadline`. Then the stream is aborted and the wait ends
 * with the deadline's reason even if the stream had already gone quiet: a pipeline only ends on
 * the stream's events, and a stream reset before its listeners were attached sends none.
 */
async function within<T> (stream: Stream, deadline: AbortSignal, work: () => Promise<T>): Promise<T> {
  deadline.throwIfAborted()
  if (stream.status !== 'open') throw Object.assign(new Error(`stream ${stream.status}`), { name: 'StreamStateError' })
  let onDeadline = (): void => {}
  const expired = new Promise<never>((_resolve, reject) => {
    onDeadline = () => {
      stream.abort(deadline.reason as Error)
      reject(deadline.reason)
    }
    deadline.addEventListener('abort', onDeadline, { once: true })
  })
  try {
    return await Promise.race([work(), expired])
  } finally {
    deadline.removeEventListener('abort', onDeadline)
  }
}

/** A varint length prefix takes at most 10 bytes. */
const MAX_PREFIX_BYTES = 10

const FRAME_ERRORS = new Set(['InvalidDataLengthError', 'InvalidDataLengthLengthError', 'InvalidMessageLengthError', 'StreamBufferError'])

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
