import { EXIT, MedledgerError, PeerAction, spec, type ErrorTable } from '../errors.ts'

/** Network failures; the action says whether the remote peer is to blame (REJECT) or not (IGNORE). */
export enum NetworkErrorCode {
  /** The peer runs another chain (chain id or genesis hash differs). */
  CHAIN_MISMATCH = 'NETWORK_CHAIN_MISMATCH',
  /** The peer is not on the allowlist, or is banned. */
  NOT_ALLOWED = 'NETWORK_NOT_ALLOWED',
  /** A request a peer sent us does not follow the protocol. */
  BAD_REQUEST = 'NETWORK_BAD_REQUEST',
  /** A response a peer sent us does not follow the protocol. */
  BAD_RESPONSE = 'NETWORK_BAD_RESPONSE',
  /** The peer did not answer in time or the stream closed early. */
  NO_RESPONSE = 'NETWORK_NO_RESPONSE',
  /** A message to publish is over the gossip cap. */
  MESSAGE_TOO_LARGE = 'NETWORK_MESSAGE_TOO_LARGE'
}

export const NETWORK_ERRORS: ErrorTable<NetworkErrorCode> = {
  [NetworkErrorCode.CHAIN_MISMATCH]: spec(502, EXIT.FAILURE, 'a peer runs another chain'),
  [NetworkErrorCode.NOT_ALLOWED]: spec(502, EXIT.FAILURE, 'a peer is not on the allowlist, or is banned'),
  [NetworkErrorCode.BAD_REQUEST]: spec(502, EXIT.FAILURE, 'a peer\'s request breaks the protocol'),
  [NetworkErrorCode.BAD_RESPONSE]: spec(502, EXIT.FAILURE, 'a peer\'s response breaks the protocol'),
  [NetworkErrorCode.NO_RESPONSE]: spec(504, EXIT.FAILURE, 'a peer did not answer in time'),
  [NetworkErrorCode.MESSAGE_TOO_LARGE]: spec(413, EXIT.FAILURE, 'a message to publish is over the gossip cap')
}

export class NetworkError extends MedledgerError {
  constructor (code: NetworkErrorCode, message: string, meta: Record<string, unknown> = {}, action = PeerAction.REJECT) {
    super(code, message, meta, action)
    this.name = 'NetworkError'
  }
}
