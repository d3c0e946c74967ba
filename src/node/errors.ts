import { EXIT, spec, type ErrorTable } from '../errors.ts'

/** What a running node (or its home) refuses. */
export enum NodeErrorCode {
  /** An observer or a joining member: it submits no records. */
  READ_ONLY = 'NODE_READ_ONLY',
  /** The home's key is not the validator, observer or member the configuration says. */
  NOT_A_VALIDATOR = 'NODE_NOT_A_VALIDATOR',
  /** An offline command was run on the home of a running daemon. */
  RUNNING = 'NODE_RUNNING',
  /** wait=final: the records did not become final in time (they may still). */
  WAIT_TIMEOUT = 'WAIT_TIMEOUT',
  /** The API address is taken by another process. */
  ADDRESS_IN_USE = 'ADDRESS_IN_USE'
}

export const NODE_ERRORS: ErrorTable<NodeErrorCode> = {
  [NodeErrorCode.READ_ONLY]: spec(403, EXIT.FAILURE, 'this node does not submit records (an observer, or a member not yet admitted)'),
  [NodeErrorCode.NOT_A_VALIDATOR]: spec(500, EXIT.FAILURE, 'the node\'s key is not in the genesis or governance set its role names'),
  [NodeErrorCode.RUNNING]: spec(409, EXIT.FAILURE, 'a daemon runs on this home; stop it first'),
  [NodeErrorCode.WAIT_TIMEOUT]: spec(504, EXIT.FAILURE, 'the records did not become final within the wait (they may still)'),
  [NodeErrorCode.ADDRESS_IN_USE]: spec(500, EXIT.FAILURE, 'the API address is already in use')
}
