import { EXIT, spec, type ErrorTable } from '../errors.ts'

/** Answers of the HTTP API itself: request shape, access, limits (the CLI forwards them when it is the client). */
export enum ApiErrorCode {
  INVALID_BODY = 'INVALID_BODY',
  INVALID_ID = 'INVALID_ID',
  INVALID_HEIGHT = 'INVALID_HEIGHT',
  INVALID_RANGE = 'INVALID_RANGE',
  INVALID_READER = 'INVALID_READER',
  /** A request Fastify refused before routing (a malformed URL, say) without a code of its own. */
  BAD_REQUEST = 'BAD_REQUEST',
  NOT_FOUND = 'NOT_FOUND',
  BODY_TOO_LARGE = 'BODY_TOO_LARGE',
  /** POST /v1/batches carries more batches than api.max_batches_per_request. */
  TOO_MANY_BATCHES = 'TOO_MANY_BATCHES',
  HOST_NOT_ALLOWED = 'HOST_NOT_ALLOWED',
  ORIGIN_NOT_ALLOWED = 'ORIGIN_NOT_ALLOWED',
  UNAUTHORISED = 'UNAUTHORISED',
  ROLE_NOT_CONFIGURED = 'ROLE_NOT_CONFIGURED',
  ROUTE_WITHOUT_ROLE = 'ROUTE_WITHOUT_ROLE',
  TOO_MANY_EVENT_CLIENTS = 'TOO_MANY_EVENT_CLIENTS',
  RATE_LIMITED = 'RATE_LIMITED',
  INTERNAL = 'INTERNAL',
  /** The CLI or light client could not reach a node's API. */
  UNREACHABLE = 'API_UNREACHABLE'
}

export const API_ERRORS: ErrorTable<ApiErrorCode> = {
  [ApiErrorCode.INVALID_BODY]: spec(400, EXIT.USAGE, 'the request body does not fit the route\'s schema'),
  [ApiErrorCode.INVALID_ID]: spec(400, EXIT.USAGE, 'a record id is not 64 hex characters'),
  [ApiErrorCode.INVALID_HEIGHT]: spec(400, EXIT.USAGE, 'a height is not a positive integer'),
  [ApiErrorCode.INVALID_RANGE]: spec(400, EXIT.USAGE, 'paging parameters (limit, from, before, after) are malformed'),
  [ApiErrorCode.INVALID_READER]: spec(400, EXIT.USAGE, 'the x-medledger-reader header is too long'),
  [ApiErrorCode.BAD_REQUEST]: spec(400, EXIT.USAGE, 'a malformed HTTP request'),
  [ApiErrorCode.NOT_FOUND]: spec(404, EXIT.FAILURE, 'no such route'),
  [ApiErrorCode.BODY_TOO_LARGE]: spec(413, EXIT.FAILURE, 'the request body is over api.max_body_bytes'),
  [ApiErrorCode.TOO_MANY_BATCHES]: spec(413, EXIT.FAILURE, 'POST /v1/batches carries more batches than api.max_batches_per_request'),
  [ApiErrorCode.HOST_NOT_ALLOWED]: spec(421, EXIT.FAILURE, 'the Host header names a host this node does not serve (api.allowed_hosts)'),
  [ApiErrorCode.ORIGIN_NOT_ALLOWED]: spec(403, EXIT.FAILURE, 'a page of an origin not in api.cors_origins'),
  [ApiErrorCode.UNAUTHORISED]: spec(401, EXIT.FAILURE, 'the route\'s token is missing or wrong'),
  [ApiErrorCode.ROLE_NOT_CONFIGURED]: spec(503, EXIT.FAILURE, 'this node has no token file for the route\'s role'),
  [ApiErrorCode.ROUTE_WITHOUT_ROLE]: spec(500, EXIT.INTERNAL, 'a route declares no role (a bug)'),
  [ApiErrorCode.TOO_MANY_EVENT_CLIENTS]: spec(503, EXIT.FAILURE, 'api.max_sse_clients event streams are open'),
  [ApiErrorCode.RATE_LIMITED]: spec(429, EXIT.FAILURE, 'too many calls; retry after the retry-after header\'s seconds'),
  [ApiErrorCode.INTERNAL]: spec(500, EXIT.FAILURE, 'an internal error of the node; see its log'),
  [ApiErrorCode.UNREACHABLE]: spec(502, EXIT.FAILURE, 'the node\'s API did not answer')
}

/** The patient routes (docs/patient.md). */
export enum PatientErrorCode {
  SESSION = 'PATIENT_SESSION',
  CHALLENGE = 'PATIENT_CHALLENGE',
  SIGNATURE = 'PATIENT_SIGNATURE',
  ENROL_CODE = 'PATIENT_ENROL_CODE',
  NOT_ENROLLED = 'PATIENT_NOT_ENROLLED',
  GRANTEE = 'PATIENT_GRANTEE',
  ISSUED_AT = 'PATIENT_ISSUED_AT',
  BUSY = 'PATIENT_BUSY'
}

export const PATIENT_ERRORS: ErrorTable<PatientErrorCode> = {
  [PatientErrorCode.SESSION]: spec(401, EXIT.FAILURE, 'the route needs a patient session'),
  [PatientErrorCode.CHALLENGE]: spec(401, EXIT.FAILURE, 'the session challenge is unknown, used, expired, or not signed by this key'),
  [PatientErrorCode.SIGNATURE]: spec(403, EXIT.FAILURE, 'an enrolment or consent is not signed by the patient\'s key'),
  [PatientErrorCode.ENROL_CODE]: spec(403, EXIT.FAILURE, 'the enrolment code is unknown, used, expired or for another subject'),
  [PatientErrorCode.NOT_ENROLLED]: spec(403, EXIT.FAILURE, 'the patient key is not enrolled (for that hospital and subject)'),
  [PatientErrorCode.GRANTEE]: spec(400, EXIT.USAGE, 'the grantee is not a validator of this chain'),
  [PatientErrorCode.ISSUED_AT]: spec(400, EXIT.USAGE, 'a consent\'s issuedAt is too far from the node\'s clock'),
  [PatientErrorCode.BUSY]: spec(503, EXIT.FAILURE, 'too many challenges, sessions or enrolment codes outstanding; retry later')
}
