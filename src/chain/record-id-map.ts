import { randomInt } from 'node:crypto'
import { bytesEqual } from '../encoding/bytes.ts'

// Record ids are SHA-256 outputs: 30 of their bits are a good map key, read at an offset chosen
// per process so that nobody can grind ids into one bucket on every node.
const OFFSET = randomInt(0, 29)

interface Entry<V> { id: Uint8Array, value: V, next: Entry<V> | undefined }

/**
 * Record ids (32-byte hashes) to values, without building a string per id: keyed by 30 bits of
 * the id (a small integer) and compared in full within a bucket. About ten times faster than a
 * Map of hex or latin1 strings, which mattered because every record of every block goes through
 * one (the duplicate rules of docs/protocol.md section 9).
 */
export class RecordIdMap<V> {
  readonly #buckets = new Map<number, Entry<V>>()
  #size = 0

  get size (): number { return this.#size }

  get (id: Uint8Array): V | undefined {
    for (let e = this.#buckets.get(keyOf(id)); e !== undefined; e = e.next) if (bytesEqual(e.id, id)) return e.value
    return undefined
  }

  has (id: Uint8Array): boolean {
    for (let e = this.#buckets.get(keyOf(id)); e !== undefined; e = e.next) if (bytesEqual(e.id, id)) return true
    return false
  }

  /** Adds the id with its value, or replaces the value of an id already here. */
  set (id: Uint8Array, value: V): void {
    const key = keyOf(id)
    const head = this.#buckets.get(key)
    for (let e = head; e !== undefined; e = e.next) {
      if (bytesEqual(e.id, id)) { e.value = value; return }
    }
    this.#buckets.set(key, { id, value, next: head })
    this.#size++
  }
}

function keyOf (id: Uint8Array): number {
  return (id[OFFSET] << 22) | (id[OFFSET + 1] << 14) | (id[OFFSET + 2] << 6) | (id[OFFSET + 3] >> 2)
}
