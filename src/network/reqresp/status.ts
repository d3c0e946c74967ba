import type { Connection, Stream } from '@libp2p/interface'
import type { Libp2p } from 'libp2p'
import { decodeCbor, encodeCbor, readBytes, readText, readTuple, readUint } from '../../encoding/cbor.ts'
import { bytesEqual, toHex } from '../../encoding/bytes.ts'
import { HASH_LENGTH } from '../../crypto/hash.ts'
import { LIMITS } from '../../chain/limits.ts'
import type { Logger } from '../../logger.ts'
import { isMedledgerError } from '../../errors.ts'
import type { ChainStatus } from '../interface.ts'
import { NetworkError, NetworkErrorCode } from '../errors.ts'
import { readRequest, requestResponse } from './stream.ts'

/**
 * Status: both sides say which chain they follow and how far they are. The request carries the
 * caller's status and the response the callee's, so one exchange informs both.
 *
 *   request = response = [chainId: text, genesisHash: bytes32, height: uint, headHash: bytes32]
 */
export const STATUS_MAX_BYTES = 256

export function encodeStatus (s: ChainStatus): Uint8Array {
  return encodeCbor([s.chainId, s.genesisHash, s.height, s.headHash])
}

export function decodeStatus (bytes: Uint8Array): ChainStatus {
  const [chainId, genesisHash, height, headHash] = readTuple(decodeCbor(bytes, STATUS_MAX_BYTES), 4, 'status')
  return {
    chainId: readText(chainId, 'status.chainId', LIMITS.chainIdChars),
    genesisHash: readBytes(genesisHash, 'status.genesisHash', { length: HASH_LENGTH }),
    height: readUint(height, 'status.height'),
    headHash: readBytes(headHash, 'status.headHash', { length: HASH_LENGTH })
  }
}

/** Throws CHAIN_MISMATCH unless the peer follows the same chain (same id and genesis). */
export function assertSameChain (local: ChainStatus, remote: ChainStatus, peer: string): void {
  if (local.chainId !== remote.chainId || !bytesEqual(local.genesisHash, remote.genesisHash)) {
    throw new NetworkError(NetworkErrorCode.CHAIN_MISMATCH,
      `peer ${peer} follows chain ${remote.chainId} (genesis ${toHex(remote.genesisHash)}), we follow ${local.chainId} (genesis ${toHex(local.genesisHash)})`,
      { peer, remoteChainId: remote.chainId, remoteGenesis: toHex(remote.genesisHash) })
  }
}

export interface StatusModules {
  libp2p: Libp2p
  protocol: string
  timeoutMs: number
  logger: Logger
  admit: (peerId: string) => boolean
  localStatus: () => ChainStatus
  /** Every status learnt, in either direction (the network refuses a peer of another chain here). */
  onStatus: (peerId: string, status: ChainStatus) => void
  /** A peer broke the protocol. */
  onBadPeer: (peerId: string, err: Error) => void
}

export async function registerStatusHandler (m: StatusModules): Promise<void> {
  await m.libp2p.handle(m.protocol, async (stream: Stream, connection: Connection) => {
    const peer = connection.remotePeer.toString()
    // The gater already refused peers off the list; this guards the window of a setAllowed call.
    if (!m.admit(peer)) { stream.abort(new Error('peer not allowed')); return }
    let remote: ChainStatus
    let respond: (b: Uint8Array) => Promise<void>
    try {
      const r = await readRequest(stream, STATUS_MAX_BYTES, m.timeoutMs)
      respond = r.respond
      remote = decodeStatus(r.request)
    } catch (err) {
      stream.abort(err as Error)
      if (isMedledgerError(err)) m.onBadPeer(peer, err)
      return
    }
    // Reading the request took time: the peer may have left the allowlist meanwhile (governance).
    if (!m.admit(peer)) { stream.abort(new Error('peer not allowed')); return }
    try {
      // Answer even a peer of another chain, so that its log says why it is refused too.
      await respond(encodeStatus(m.localStatus()))
    } catch (err) {
      m.logger.debug({ peer, err: (err as Error).message }, 'status response not delivered')
    }
    m.onStatus(peer, remote)
  }, { maxInboundStreams: 4, maxOutboundStreams: 4 })
}

/** Sends our status to a connected peer and returns the peer's. */
export async function requestStatus (m: StatusModules, peerId: string, signal?: AbortSignal): Promise<ChainStatus> {
  const bytes = await requestResponse({
    libp2p: m.libp2p,
    peerId,
    protocol: m.protocol,
    request: encodeStatus(m.localStatus()),
    maxResponseBytes: STATUS_MAX_BYTES,
    timeoutMs: m.timeoutMs,
    signal
  })
  let remote: ChainStatus
  try {
    remote = decodeStatus(bytes)
  } catch (err) {
    throw new NetworkError(NetworkErrorCode.BAD_RESPONSE, `status from ${peerId}: ${(err as Error).message}`, { peer: peerId })
  }
  m.onStatus(peerId, remote)
  return remote
}
