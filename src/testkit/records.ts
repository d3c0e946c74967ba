import type { RecordInput } from './node.ts'

/** A valid record for tests, distinct for each `i`: an opaque (encrypted-looking) payload about a pseudonymous subject. */
export function sampleRecord (i: number): RecordInput {
  return { type: 'consultation', subject: (i.toString(16).padStart(8, '0')).repeat(8), contentType: 'application/octet-stream', payload: Buffer.from(`encrypted-payload-${i}`).toString('base64') }
}
