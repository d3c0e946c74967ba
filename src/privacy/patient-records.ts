import { randomBytes } from 'node:crypto'
import { verifySignature } from '../crypto/ed25519.ts'
import { decodeCbor, encodeCbor, readBytes, readList, readText, readTuple, readUint, type Cbor } from '../encoding/cbor.ts'
import { LIMITS } from '../chain/limits.ts'
import type { MedRecord } from '../chain/types.ts'
import { PrivacyError, PrivacyErrorCode } from './errors.ts'
import { MAX_GRANT_TYPES, MAX_READER_CHARS, MAX_REASON_CHARS } from './records.ts'
import { X25519_KEY_LENGTH } from '../crypto/x25519.ts'

/**
 * The patient's records (docs/privacy.md, "Patients"): an enrolment linking a hospital's pseudonym
 * of a patient to the patient's own keys, consents signed by the patient, and emergency
 * ("break-glass") reads with their reason. Payloads are canonical CBOR arrays, version 1. The
 * patient's signatures are Ed25519 over the canonical CBOR of a statement that starts with its
 * domain tag and binds the chain id, so a signature cannot be moved to another chain or kind.
 */
export const PATIENT_TYPES = {
  enrol: 'patient.enrol',
  consent: 'patient.consent',
  emergency: 'access.emergency'
} as const

export const PATIENT_CONTENT_TYPES = {
  enrol: 'application/vnd.medledger.enrol+cbor',
  consent: 'application/vnd.medledger.consent+cbor',
  emergency: 'application/vnd.medledger.emergency+cbor'
} as const

export const ENROL_DOMAIN = 'medledger/patient/enrol/v1'
export const CONSENT_DOMAIN = 'medledger/patient/consent/v1'
export const SESSION_DOMAIN = 'medledger/patient/session/v1'
/** An emergency read lets its node read that one record for this long after it is final. */
export const EMERGENCY_WINDOW_MS = 60 * 60 * 1000
export const MIN_EMERGENCY_REASON_CHARS = 4

type Unsigned = Omit<MedRecord, 'author'>

export interface PatientKeys {
  /** Ed25519: signs enrolments, consents and API challenges. */
  signKey: Uint8Array
  /** X25519: the key records are sealed to for the patient. */
  boxKey: Uint8Array
}

export interface Enrolment extends PatientKeys { signature: Uint8Array }

export interface Consent {
  /** The patient's Ed25519 key (must be the one enrolled for (custodian, subject)). */
  signKey: Uint8Array
  /** The hospital whose records of this subject the consent is about. */
  custodian: Uint8Array
  grantee: Uint8Array
  /** true: grant; false: revoke. */
  grant: boolean
  types: string[]
  notAfter: number
  /** ms since the epoch when the patient signed; a consent counts only if newer than the last one counted. */
  issuedAt: number
  signature: Uint8Array
}

export interface Emergency { recordId: Uint8Array, reason: string, reader: string }

function decodeWith<T> (what: string, bytes: Uint8Array, fn: (f: Cbor) => T): T {
  try {
    return fn(decodeCbor(bytes, LIMITS.payloadBytes))
  } catch (err) {
    throw new PrivacyError(PrivacyErrorCode.RECORD_MALFORMED, `malformed ${what} payload: ${(err as Error).message}`)
  }
}

function version1 (f: Cbor[], what: string): void {
  if (readUint(f[0], `${what}.version`) !== 1) throw new Error(`unsupported ${what} version`)
}

// ---- enrolment ----

/** What the patient signs to enrol: this chain, this hospital, this pseudonym, these keys. */
export function enrolStatement (chainId: string, custodian: Uint8Array, subject: Uint8Array, keys: PatientKeys): Uint8Array {
  return encodeCbor([ENROL_DOMAIN, chainId, custodian, subject, keys.signKey, keys.boxKey])
}

export function enrolRecord (subject: Uint8Array, e: Enrolment, timestamp: number): Unsigned {
  return { type: PATIENT_TYPES.enrol, subject, contentType: PATIENT_CONTENT_TYPES.enrol, payload: encodeCbor([1, e.signKey, e.boxKey, e.signature]), timestamp }
}

export function decodeEnrol (bytes: Uint8Array): Enrolment {
  return decodeWith('enrolment', bytes, v => {
    const f = readTuple(v, 4, 'enrol')
    version1(f, 'enrol')
    return { signKey: readBytes(f[1], 'enrol.signKey', { length: 32 }), boxKey: readBytes(f[2], 'enrol.boxKey', { length: X25519_KEY_LENGTH }), signature: readBytes(f[3], 'enrol.signature', { length: 64 }) }
  })
}

export function enrolmentValid (chainId: string, custodian: Uint8Array, subject: Uint8Array, e: Enrolment): boolean {
  return verifySignature(e.signKey, enrolStatement(chainId, custodian, subject, e), e.signature)
}

// ---- consent ----

export function consentStatement (chainId: string, subject: Uint8Array, c: Omit<Consent, 'signature' | 'signKey'>): Uint8Array {
  return encodeCbor([CONSENT_DOMAIN, chainId, c.custodian, subject, c.grantee, c.grant ? 'grant' : 'revoke', c.types, c.notAfter, c.issuedAt])
}

export function consentRecord (subject: Uint8Array, c: Consent, timestamp: number): Unsigned {
  return { type: PATIENT_TYPES.consent, subject, contentType: PATIENT_CONTENT_TYPES.consent, payload: encodeCbor([1, c.signKey, c.custodian, c.grantee, c.grant ? 'grant' : 'revoke', c.types, c.notAfter, c.issuedAt, c.signature]), timestamp }
}

export function decodeConsent (bytes: Uint8Array): Consent {
  return decodeWith('consent', bytes, v => {
    const f = readTuple(v, 9, 'consent')
    version1(f, 'consent')
    const kind = readText(f[4], 'consent.kind', 8)
    if (kind !== 'grant' && kind !== 'revoke') throw new Error('consent.kind: "grant" or "revoke"')
    const types = readList(f[5], MAX_GRANT_TYPES, 'consent.types').map((t, i) => readText(t, `consent.types[${i}]`, LIMITS.recordTypeChars))
    return {
      signKey: readBytes(f[1], 'consent.signKey', { length: 32 }),
      custodian: readBytes(f[2], 'consent.custodian', { length: 32 }),
      grantee: readBytes(f[3], 'consent.grantee', { length: 32 }),
      grant: kind === 'grant',
      types,
      notAfter: readUint(f[6], 'consent.notAfter'),
      issuedAt: readUint(f[7], 'consent.issuedAt'),
      signature: readBytes(f[8], 'consent.signature', { length: 64 })
    }
  })
}

export function consentValid (chainId: string, subject: Uint8Array, c: Consent): boolean {
  return verifySignature(c.signKey, consentStatement(chainId, subject, c), c.signature)
}

// ---- emergency reads ----

export function emergencyRecord (subject: Uint8Array, recordId: Uint8Array, reason: string, reader: string, timestamp: number): Unsigned {
  if (reason.trim().length < MIN_EMERGENCY_REASON_CHARS || reason.length > MAX_REASON_CHARS) throw new PrivacyError(PrivacyErrorCode.RECORD_MALFORMED, `an emergency read states its reason: ${MIN_EMERGENCY_REASON_CHARS} to ${MAX_REASON_CHARS} characters`)
  if (reader.length > MAX_READER_CHARS) throw new PrivacyError(PrivacyErrorCode.RECORD_MALFORMED, `reader is at most ${MAX_READER_CHARS} characters`)
  return { type: PATIENT_TYPES.emergency, subject, contentType: PATIENT_CONTENT_TYPES.emergency, payload: encodeCbor([1, recordId, reason, reader, new Uint8Array(randomBytes(16))]), timestamp }
}

export function decodeEmergency (bytes: Uint8Array): Emergency {
  return decodeWith('emergency read', bytes, v => {
    const f = readTuple(v, 5, 'emergency')
    version1(f, 'emergency')
    const reason = readText(f[2], 'emergency.reason', MAX_REASON_CHARS)
    if (reason.trim().length < MIN_EMERGENCY_REASON_CHARS) throw new Error('emergency.reason: a stated reason')
    readBytes(f[4], 'emergency.requestId', { length: 16 })
    return { recordId: readBytes(f[1], 'emergency.recordId', { length: 32 }), reason, reader: readText(f[3], 'emergency.reader', MAX_READER_CHARS) }
  })
}

// ---- API challenge ----

/** What the patient signs to open an API session: the node's one-time nonce on this chain. */
export function sessionStatement (chainId: string, signKey: Uint8Array, nonce: Uint8Array): Uint8Array {
  return encodeCbor([SESSION_DOMAIN, chainId, signKey, nonce])
}

/** How far a consent's issuedAt may be from the submitting node's clock (as record timestamps, docs/privacy.md 7b). */
export const MAX_PATIENT_CONSENT_SKEW_MS = 10 * 60 * 1000
