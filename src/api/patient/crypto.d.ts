// Types of crypto.js (plain JavaScript, loaded as is by the browser).
export interface PatientKey { signPrivate: CryptoKey, boxPrivate: CryptoKey, signKey: string, boxKey: string, recovery: Record<string, unknown> }
export interface PatientWrap { node: string, deliveryKey: string, ephemeral: string, wrapped: string }
export interface ConsentFields { custodian: string, grantee: string, grant: boolean, types: string[], notAfter: number, issuedAt: number }
export type CborValue = number | string | Uint8Array | CborValue[]
export const RECOVERY_TYPE: string
export function generatePatientKey (): Promise<PatientKey>
export function recoveryFile (key: PatientKey): string
export function loadRecovery (text: string | object): Promise<PatientKey>
export function sign (key: PatientKey, bytes: Uint8Array): Promise<Uint8Array>
export function enrolStatement (chainId: string, custodianHex: string, subjectHex: string, key: { signKey: string, boxKey: string }): Uint8Array
export function consentStatement (chainId: string, subjectHex: string, c: ConsentFields): Uint8Array
export function sessionStatement (chainId: string, signKeyHex: string, nonceHex: string): Uint8Array
export function decodeCbor (bytes: Uint8Array): CborValue
export function openRecord (key: PatientKey, chainId: string, record: { type: string, subject: string, author: string, payload: string }, wrap: PatientWrap): Promise<{ contentType: string, body: Uint8Array }>
