import { EXIT, spec, type ErrorTable } from '../errors.ts'

/** Offline checks of proofs and patient exports. */
export enum AuditErrorCode {
  PROOF_INVALID = 'PROOF_INVALID'
}

export const AUDIT_ERRORS: ErrorTable<AuditErrorCode> = {
  [AuditErrorCode.PROOF_INVALID]: spec(422, EXIT.FAILURE, 'a record proof or a patient export does not verify against the genesis')
}
