import { createHash } from 'node:crypto'
import { sha256 } from '../crypto/hash.ts'

/**
 * Gossip message ids. Batch messages carry only signed content: their id is the hash of their
 * bytes. A consensus message is [kind, signed message, seq], and `seq` is signed by nobody: with
 * it in the id, anyone could give one signed message endless fresh ids (each one decoded,
 * validated and, before, buffered). So its id is the hash of the message without `seq`, plus a
 * coarse epoch of the local clock: copies of one message within an epoch are one gossip message
 * (gossipsub's seen-cache drops them before any decoding), while a validator's deliberate
 * rebroadcast (every `rebroadcast_ms`, at least 1,000 ms, docs/architecture.md) falls in a later
 * epoch and gets through to a peer that missed the first copy. Copies in different epochs reach
 * the application, which de-duplicates on signed content and counts a peer's too-frequent copies
 * as a flood (src/consensus/resend-guard.ts).
 */
export const GOSSIP_ID_EPOCH_MS = 250

/**
 * Gossipsub's fast id, checked before the message id: identical bytes are one message for the whole
 * seen-cache lifetime (2 min), whatever the epoch. So a copy relayed by several peers is handled
 * once even when the copies straddle an epoch boundary; only a fresh envelope (another `seq`, a
 * rebroadcast or a flood) reaches the epoch-based id.
 */
export function fastGossipId (data: Uint8Array | undefined): string {
  return Buffer.from(sha256(data ?? new Uint8Array(0))).toString('base64')
}

const CONSENSUS_TOPIC_SUFFIX = '/consensus/2'

export function gossipMessageId (topic: string, data: Uint8Array, nowMs: number): Uint8Array {
  if (!topic.endsWith(CONSENSUS_TOPIC_SUFFIX)) return sha256(data)
  const end = withoutSeq(data)
  // Bytes that are not a consensus message: their own hash (they are rejected once decoded).
  if (end === undefined) return sha256(data)
  const epoch = new Uint8Array(8)
  new DataView(epoch.buffer).setFloat64(0, Math.floor(nowMs / GOSSIP_ID_EPOCH_MS))
  const h = createHash('sha256')
  h.update(data.subarray(0, end))
  h.update(epoch)
  const d = h.digest()
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength)
}

/** Where `seq` starts in a consensus message [kind, message, seq], or undefined when it is not one. */
export function withoutSeq (data: Uint8Array): number | undefined {
  // An array of 3 items.
  if (data.length < 1 || data[0] !== 0x83) return undefined
  let pos = 1
  for (let item = 0; item < 2; item++) {
    const next = skipItem(data, pos)
    if (next === undefined) return undefined
    pos = next
  }
  // What follows must be exactly one unsigned integer (the seq).
  const after = skipItem(data, pos)
  if (after !== data.length || data[pos] >> 5 !== 0) return undefined
  return pos
}

/** The position after the CBOR item at `pos` (definite lengths only), or undefined if malformed. */
function skipItem (b: Uint8Array, start: number): number | undefined {
  let pos = start
  let remaining = 1
  while (remaining > 0) {
    if (pos >= b.length) return undefined
    const first = b[pos++]
    const major = first >> 5
    const info = first & 0x1f
    let n: number
    if (info < 24) n = info
    else if (info === 24) { if (pos + 1 > b.length) return undefined; n = b[pos]; pos += 1 } else if (info === 25) { if (pos + 2 > b.length) return undefined; n = (b[pos] << 8) | b[pos + 1]; pos += 2 } else if (info === 26) { if (pos + 4 > b.length) return undefined; n = ((b[pos] << 24) >>> 0) + ((b[pos + 1] << 16) | (b[pos + 2] << 8) | b[pos + 3]); pos += 4 } else if (info === 27) {
      if (pos + 8 > b.length) return undefined
      const hi = ((b[pos] << 24) >>> 0) + ((b[pos + 1] << 16) | (b[pos + 2] << 8) | b[pos + 3])
      n = hi === 0 ? ((b[pos + 4] << 24) >>> 0) + ((b[pos + 5] << 16) | (b[pos + 6] << 8) | b[pos + 7]) : Number.MAX_SAFE_INTEGER
      pos += 8
    } else return undefined
    remaining--
    switch (major) {
      case 2: case 3: pos += n; if (pos > b.length) return undefined; break
      // Each item takes at least a byte: more items than bytes left is malformed (and bounds the loop).
      case 4: remaining += n; break
      case 5: remaining += 2 * n; break
      case 6: remaining += 1; break
      default: break
    }
    if (remaining > b.length - pos) return undefined
  }
  return pos
}
