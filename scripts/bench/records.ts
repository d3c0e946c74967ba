import { randomBytes } from 'node:crypto'
import type { MedRecord } from '../../src/chain/types.ts'

/** Payload bytes of every benchmark record: the encoded record is then about 210 bytes. */
export const PAYLOAD_BYTES = 96
export const RECORD_TYPE = 'consultation'
export const CONTENT_TYPE = 'application/octet-stream'

const nonce = randomBytes(4).toString('hex')
let counter = 0

/** A unique 32-byte subject as hex: a per-run nonce and a counter (no two records are equal). */
function nextSubjectHex (): string {
  return nonce + (counter++).toString(16).padStart(56, '0')
}

/** The JSON body of POST /v1/records with `n` fresh records (random payloads, so nothing compresses). */
export function submitBody (n: number): string {
  const pay = randomBytes(PAYLOAD_BYTES * n)
  const parts: string[] = new Array(n)
  for (let i = 0; i < n; i++) {
    const p = pay.subarray(i * PAYLOAD_BYTES, (i + 1) * PAYLOAD_BYTES).toString('base64')
    parts[i] = `{"type":"${RECORD_TYPE}","subject":"${nextSubjectHex()}","contentType":"${CONTENT_TYPE}","payload":"${p}"}`
  }
  return `{"records":[${parts.join(',')}]}`
}

/** The JSON body of POST /v1/batches with `count` batches of `n` fresh records each. */
export function batchesBody (n: number, count: number): string {
  const parts: string[] = new Array(count)
  for (let i = 0; i < count; i++) parts[i] = submitBody(n).slice(1, -1)
  return `{"batches":[${parts.map(p => `{${p}}`).join(',')}]}`
}

/** `n` fresh records as chain values, authored by `author`. */
export function chainRecords (n: number, author: Uint8Array, timestamp: number): MedRecord[] {
  const pay = randomBytes(PAYLOAD_BYTES * n)
  const out: MedRecord[] = new Array(n)
  for (let i = 0; i < n; i++) {
    out[i] = {
      type: RECORD_TYPE,
      subject: Buffer.from(nextSubjectHex(), 'hex'),
      contentType: CONTENT_TYPE,
      payload: pay.subarray(i * PAYLOAD_BYTES, (i + 1) * PAYLOAD_BYTES),
      author,
      timestamp
    }
  }
  return out
}
