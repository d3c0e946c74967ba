import { EXIT, MedledgerError, PeerAction, spec, type ErrorTable } from '../errors.ts'

/** Why a batch, block, certificate or piece of evidence is not valid. */
export enum ChainErrorCode {
  RECORD_FIELD = 'CHAIN_RECORD_FIELD',
  RECORD_AUTHOR = 'CHAIN_RECORD_AUTHOR',
  /** Local, not a chain rule: a submitted record's timestamp is too far from this node's clock. */
  RECORD_TIMESTAMP = 'CHAIN_RECORD_TIMESTAMP',
  BATCH_AUTHOR_UNKNOWN = 'CHAIN_BATCH_AUTHOR_UNKNOWN',
  BATCH_SIGNATURE = 'CHAIN_BATCH_SIGNATURE',
  BATCH_DUPLICATE = 'CHAIN_BATCH_DUPLICATE',
  /** A record id twice in one batch, or in two batches of one block. */
  RECORD_DUPLICATE = 'CHAIN_RECORD_DUPLICATE',
  HEADER_CHAIN_ID = 'CHAIN_HEADER_CHAIN_ID',
  HEADER_HEIGHT = 'CHAIN_HEADER_HEIGHT',
  HEADER_PARENT = 'CHAIN_HEADER_PARENT',
  HEADER_TIME = 'CHAIN_HEADER_TIME',
  /** Local, not a chain rule: a new block's time is too far past this node's clock. */
  HEADER_FUTURE = 'CHAIN_HEADER_FUTURE',
  HEADER_PROPOSER = 'CHAIN_HEADER_PROPOSER',
  HEADER_ROUND = 'CHAIN_HEADER_ROUND',
  HEADER_RECORDS_ROOT = 'CHAIN_HEADER_RECORDS_ROOT',
  HEADER_VALIDATOR_SET = 'CHAIN_HEADER_VALIDATOR_SET',
  HEADER_LAST_COMMIT = 'CHAIN_HEADER_LAST_COMMIT',
  HEADER_EVIDENCE = 'CHAIN_HEADER_EVIDENCE',
  BLOCK_TOO_LARGE = 'CHAIN_BLOCK_TOO_LARGE',
  CERT_HEIGHT = 'CHAIN_CERT_HEIGHT',
  CERT_BLOCK_HASH = 'CHAIN_CERT_BLOCK_HASH',
  CERT_NOT_VALIDATOR = 'CHAIN_CERT_NOT_VALIDATOR',
  CERT_DUPLICATE_SIGNER = 'CHAIN_CERT_DUPLICATE_SIGNER',
  CERT_NO_QUORUM = 'CHAIN_CERT_NO_QUORUM',
  CERT_SIGNATURE = 'CHAIN_CERT_SIGNATURE',
  EVIDENCE_INVALID = 'CHAIN_EVIDENCE_INVALID',
  GOVERNANCE_INVALID = 'CHAIN_GOVERNANCE_INVALID'
}

const invalid = (what: string): ReturnType<typeof spec> => spec(400, EXIT.FAILURE, what)

export const CHAIN_ERRORS: ErrorTable<ChainErrorCode> = {
  [ChainErrorCode.RECORD_FIELD]: invalid('a record field is malformed or out of bounds'),
  [ChainErrorCode.RECORD_AUTHOR]: invalid('a record names another author than its batch'),
  [ChainErrorCode.RECORD_TIMESTAMP]: invalid('a submitted record\'s timestamp is too far from this node\'s clock'),
  [ChainErrorCode.BATCH_AUTHOR_UNKNOWN]: invalid('a batch\'s author is neither a validator nor a member at that height'),
  [ChainErrorCode.BATCH_SIGNATURE]: invalid('a batch signature does not verify'),
  [ChainErrorCode.BATCH_DUPLICATE]: invalid('a batch appears twice'),
  [ChainErrorCode.RECORD_DUPLICATE]: invalid('a record id appears twice in a batch or a block'),
  [ChainErrorCode.HEADER_CHAIN_ID]: invalid('a header names another chain'),
  [ChainErrorCode.HEADER_HEIGHT]: invalid('a header\'s height is not the next'),
  [ChainErrorCode.HEADER_PARENT]: invalid('a header\'s parent hash is not the previous block\'s'),
  [ChainErrorCode.HEADER_TIME]: invalid('a header\'s time is not after its parent\'s'),
  [ChainErrorCode.HEADER_FUTURE]: invalid('a block\'s time is too far past this node\'s clock'),
  [ChainErrorCode.HEADER_PROPOSER]: invalid('a header names the wrong proposer for its round'),
  [ChainErrorCode.HEADER_ROUND]: invalid('a header\'s round is malformed'),
  [ChainErrorCode.HEADER_RECORDS_ROOT]: invalid('a header\'s records root does not match its batches'),
  [ChainErrorCode.HEADER_VALIDATOR_SET]: invalid('a header\'s validator-set hash is not the set in force'),
  [ChainErrorCode.HEADER_LAST_COMMIT]: invalid('a header\'s last-commit hash does not match'),
  [ChainErrorCode.HEADER_EVIDENCE]: invalid('a header\'s evidence hash does not match'),
  [ChainErrorCode.BLOCK_TOO_LARGE]: invalid('a block is over the size limit'),
  [ChainErrorCode.CERT_HEIGHT]: invalid('a certificate is for another height'),
  [ChainErrorCode.CERT_BLOCK_HASH]: invalid('a certificate is for another block'),
  [ChainErrorCode.CERT_NOT_VALIDATOR]: invalid('a certificate is signed by a non-validator'),
  [ChainErrorCode.CERT_DUPLICATE_SIGNER]: invalid('a certificate names a signer twice'),
  [ChainErrorCode.CERT_NO_QUORUM]: invalid('a certificate lacks a quorum'),
  [ChainErrorCode.CERT_SIGNATURE]: invalid('a certificate signature does not verify'),
  [ChainErrorCode.EVIDENCE_INVALID]: invalid('a piece of evidence is not valid'),
  [ChainErrorCode.GOVERNANCE_INVALID]: invalid('a governance change is malformed or not approved')
}

/** A final record or block this node does not hold: a look-up miss, not a validity failure. */
export enum NotFoundCode {
  RECORD = 'RECORD_NOT_FOUND',
  BLOCK = 'BLOCK_NOT_FOUND'
}

export const NOT_FOUND_ERRORS: ErrorTable<NotFoundCode> = {
  [NotFoundCode.RECORD]: spec(404, EXIT.FAILURE, 'no final record with this id on this node'),
  [NotFoundCode.BLOCK]: spec(404, EXIT.FAILURE, 'no final block at this height on this node')
}

export class ChainError extends MedledgerError {
  constructor (code: ChainErrorCode, message: string, meta: Record<string, unknown> = {}, action = PeerAction.REJECT) {
    super(code, message, meta, action)
    this.name = 'ChainError'
  }
}
