import { EXIT, spec, type ErrorTable } from '../errors.ts'

/** Why a submission is not admitted to the mempool (src/mempool/admission.ts). */
export enum MempoolErrorCode {
  FULL = 'MEMPOOL_FULL',
  AUTHOR_QUOTA = 'MEMPOOL_AUTHOR_QUOTA',
  /** The records of one submission encode to more than one block carries. */
  BATCH_TOO_LARGE = 'BATCH_TOO_LARGE',
  /** A record is already final, or already waiting for a block. */
  RECORD_DUPLICATE = 'RECORD_DUPLICATE'
}

export const MEMPOOL_ERRORS: ErrorTable<MempoolErrorCode> = {
  [MempoolErrorCode.FULL]: spec(503, EXIT.FAILURE, 'the mempool is full; retry later'),
  [MempoolErrorCode.AUTHOR_QUOTA]: spec(503, EXIT.FAILURE, 'this node\'s share of the mempool is full; retry later'),
  [MempoolErrorCode.BATCH_TOO_LARGE]: spec(413, EXIT.FAILURE, 'the records encode to more than one block carries; submit them in smaller requests'),
  [MempoolErrorCode.RECORD_DUPLICATE]: spec(409, EXIT.FAILURE, 'a record is already on the chain or waiting for a block')
}
