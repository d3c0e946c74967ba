import { EXIT, spec, type ErrorTable } from '../errors.ts'

/** The light client (docs/protocol.md sections 11-14). */
export enum LightErrorCode {
  INVALID = 'LIGHT_INVALID',
  FORK = 'LIGHT_FORK',
  CHECKPOINT = 'LIGHT_CHECKPOINT',
  EXISTS = 'LIGHT_EXISTS',
  NOT_INITIALISED = 'LIGHT_NOT_INITIALISED',
  NOT_SYNCED = 'LIGHT_NOT_SYNCED',
  PAGE_TOO_LARGE = 'LIGHT_PAGE_TOO_LARGE',
  STATE_CORRUPT = 'LIGHT_STATE_CORRUPT'
}

export const LIGHT_ERRORS: ErrorTable<LightErrorCode> = {
  [LightErrorCode.INVALID]: spec(502, EXIT.FAILURE, 'a served header, certificate or change does not verify'),
  [LightErrorCode.FORK]: spec(502, EXIT.FAILURE, 'two certified headers at one height: a quorum signed both'),
  [LightErrorCode.CHECKPOINT]: spec(500, EXIT.FAILURE, 'the trusted checkpoint is malformed'),
  [LightErrorCode.EXISTS]: spec(500, EXIT.FAILURE, 'a light-client state exists already'),
  [LightErrorCode.NOT_INITIALISED]: spec(500, EXIT.FAILURE, 'no light-client state yet (run `medledger light init`)'),
  [LightErrorCode.NOT_SYNCED]: spec(500, EXIT.FAILURE, 'the light client has not followed the chain to that height'),
  [LightErrorCode.PAGE_TOO_LARGE]: spec(502, EXIT.FAILURE, 'a served page is over the size limit'),
  [LightErrorCode.STATE_CORRUPT]: spec(500, EXIT.FAILURE, 'the light-client state file is corrupt')
}
