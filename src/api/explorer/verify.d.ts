// Types of verify.js (plain JavaScript, loaded as is by the browser).
export interface TrustedMember { name: string, publicKey: Uint8Array }
/**
 * source 'genesis': validators is the genesis set and governanceDelay its parameter (the proof's
 * governance chain is verified and applied); 'node': validators is the set at the proof's height
 * as the node reports it.
 */
/** members: who may also author batches (genesis members with source 'genesis'; the members in force as the node reports them with 'node'). */
export interface Trust { chainId: string, genesisHash: Uint8Array, validators: TrustedMember[], members?: TrustedMember[], governanceDelay?: number, source: 'genesis' | 'node' }
export interface ProofStep { id: string, ok: boolean, text: string, detail?: string }
export interface ProofResult {
  ok: boolean
  steps: ProofStep[]
  recordId?: string
  height?: number
  blockHash?: string
  author?: string
  signers?: Array<{ name: string, publicKey: string, ok: boolean }>
  quorum?: number
  total?: number
  governanceChanges?: number
  source?: string
}
export interface ValidatorsView {
  height: number
  validators: Array<{ name: string, publicKey: string }>
  changes?: Array<{ includedAt: number, effective: number, action: 'add' | 'remove', name: string, publicKey: string }>
}
export type CborValue = null | boolean | number | string | Uint8Array | CborValue[]

export function toHex (b: Uint8Array): string
export function fromHex (s: string, length?: number): Uint8Array
export function fromBase64 (s: string): Uint8Array
export function bytesEqual (a: Uint8Array, b: Uint8Array): boolean
export function publicKeyOfPeerId (peerId: string): Uint8Array
export function encodeCbor (v: CborValue): Uint8Array
export function decodeCbor (bytes: Uint8Array): CborValue
export function sha256 (...parts: Uint8Array[]): Promise<Uint8Array>
export function leafHash (d: Uint8Array): Promise<Uint8Array>
export function nodeHash (l: Uint8Array, r: Uint8Array): Promise<Uint8Array>
export function verifyInclusion (leaf: Uint8Array, index: number, size: number, path: Uint8Array[], root: Uint8Array): Promise<boolean>
export function verifyEd25519 (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean>
export class UnsupportedError extends Error {}
export const DOMAIN: { batch: string, vote: string, validatorSet: string, genesis: string, governance: string }
export const GOVERNANCE_RECORD_TYPE: string
export function quorum (n: number): number
export function recordCbor (r: { type: string, subject: Uint8Array, contentType: string, payload: Uint8Array, author: Uint8Array, timestamp: number }): CborValue[]
export function headerCbor (h: Record<string, unknown>): CborValue[]
export function validatorSetHash (publicKeys: Uint8Array[]): Promise<Uint8Array>
export function readGenesis (json: unknown): Promise<{ chainId: string, hash: Uint8Array, validators: TrustedMember[], observers: TrustedMember[], members: TrustedMember[], params: { heartbeatMs: number, governanceDelay: number } }>
export function validatorsAt (height: number, v: ValidatorsView): TrustedMember[]
export function verifyProof (proof: unknown, trust: Trust): Promise<ProofResult>
