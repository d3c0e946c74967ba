import type { Block, MedRecord, RecordBatch } from './types.ts'

/**
 * What is already known about a chain value, kept beside the object so no stage of the node
 * computes it twice: a record's id, a batch's records root and id, and the exact bytes a record,
 * batch or block was decoded from. Entries are made by the decoder (from the bytes it accepted, which are
 * canonical) and by the code that builds a value; both treat the objects as immutable from then
 * on. A changed copy (spread, structuredClone) is a new object with nothing remembered.
 */
export const recordIds = new WeakMap<MedRecord, Uint8Array>()
/**
 * The exact bytes a record was decoded from (a view into what was decoded): its id is their
 * SHA-256, computed when first asked (recordId) or by the verify pool's workers during sync.
 */
export const recordBytes = new WeakMap<MedRecord, Uint8Array>()
export const batchRoots = new WeakMap<RecordBatch, Uint8Array>()
export const batchIds = new WeakMap<RecordBatch, Uint8Array>()
export const encodedBatches = new WeakMap<RecordBatch, Uint8Array>()
export const encodedBlocks = new WeakMap<Block, Uint8Array>()
