// Worker thread: verifies Ed25519 signatures in bulk. Plain JavaScript, so the worker needs no
// TypeScript loader. Input (all transferred, not copied): { id, keys: Uint8Array (n*32),
// sigs: Uint8Array (n*64), data: Uint8Array (the n messages end to end), ends: Uint32Array (n,
// where each message ends in data) }; output: { id, ok: Uint8Array (n, 1 = valid) }.
//
// A job may also carry Merkle leaves (VerifyPool.verifyRooted: a batch's record ids, whose RFC
// 6962 root the batch's signed message holds): rootAt: Uint32Array (n, where in message i its
// 32-byte root goes, NO_ROOT for none), leafEnds: Uint32Array (n, where check i's leaves end, in
// leaves), leaves: Uint8Array (32 bytes a leaf, end to end). The worker then first computes every
// root, writes it into its message, answers { id, roots: Uint8Array (n*32, zero where none) }
// and only then verifies and answers { id, ok } as above: the main thread can use the roots while
// the signatures are still being checked. Signatures are checked in arrival order, jobs' roots
// as soon as each job arrives.
import { parentPort } from 'node:worker_threads'
import { createPublicKey, hash, verify } from 'node:crypto'

const NO_ROOT = 0xffffffff
const EMPTY_ROOT = hash('sha256', new Uint8Array(0), 'buffer')

const cache = new Map()
function keyObject (raw) {
  const id = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64url')
  let k = cache.get(id)
  if (k === undefined) {
    k = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: id }, format: 'jwk' })
    if (cache.size >= 10000) cache.clear()
    cache.set(id, k)
  }
  return k
}

function sameKey (keys, a, b) {
  for (let j = 0; j < 32; j++) if (keys[a + j] !== keys[b + j]) return false
  return true
}

const scratch = new Uint8Array(65)
let level = new Uint8Array(0)

/**
 * RFC 6962 root over leaves[from..to) (32 bytes each), written to out at `at`: leaf =
 * SHA-256(0x00 || d), node = SHA-256(0x01 || left || right), pairing left to right level by
 * level and carrying an odd last node up (the same tree as src/merkle/rfc6962.ts builds).
 */
function merkleRootInto (leaves, from, to, out, at) {
  const n = to - from
  if (n === 0) { out.set(EMPTY_ROOT, at); return }
  if (level.length < n * 32) level = new Uint8Array(Math.max(n * 32, level.length * 2))
  scratch[0] = 0
  for (let i = 0; i < n; i++) {
    scratch.set(leaves.subarray((from + i) * 32, (from + i + 1) * 32), 1)
    level.set(hash('sha256', scratch.subarray(0, 33), 'buffer'), i * 32)
  }
  scratch[0] = 1
  // Each level is written over the start of the one below it: node j of the next level is
  // written after nodes 2j and 2j+1 were read.
  for (let m = n; m > 1; m = (m + 1) >> 1) {
    for (let j = 0; 2 * j + 1 < m; j++) {
      scratch.set(level.subarray(2 * j * 32, 2 * j * 32 + 64), 1)
      level.set(hash('sha256', scratch, 'buffer'), j * 32)
    }
    if (m % 2 === 1) level.copyWithin(((m - 1) >> 1) * 32, (m - 1) * 32, m * 32)
  }
  out.set(level.subarray(0, 32), at)
}

// Signatures are checked from a queue, a slice at a time, so the roots of a job that arrives
// while earlier jobs are being verified are computed and answered at once: the main thread waits
// for roots (it cannot check a block's header without them), not for verdicts.
const SLICE = 64
const queue = []
let draining = false

function drain () {
  const job = queue[0]
  const { keys, sigs, data, ends, ok } = job
  const stop = Math.min(ends.length, job.i + SLICE)
  for (let i = job.i; i < stop; i++) {
    const end = ends[i]
    try {
      // Checks come in runs by the same signer (a batch's author, a block's validators).
      if (job.key === undefined || !sameKey(keys, i * 32, (i - 1) * 32)) job.key = keyObject(keys.subarray(i * 32, i * 32 + 32))
      ok[i] = verify(null, data.subarray(job.start, end), job.key, sigs.subarray(i * 64, i * 64 + 64)) ? 1 : 0
    } catch {
      ok[i] = 0
      job.key = undefined
    }
    job.start = end
  }
  job.i = stop
  if (stop === ends.length) {
    queue.shift()
    parentPort.postMessage({ id: job.id, ok }, [ok.buffer])
  }
  if (queue.length > 0) setImmediate(drain)
  else draining = false
}

parentPort.on('message', ({ id, keys, sigs, data, ends, rootAt, leafEnds, leaves }) => {
  const n = ends.length
  if (leaves !== undefined) {
    const roots = new Uint8Array(n * 32)
    let start = 0
    let from = 0
    for (let i = 0; i < n; i++) {
      const to = leafEnds[i]
      if (rootAt[i] !== NO_ROOT) {
        merkleRootInto(leaves, from, to, roots, i * 32)
        if (start + rootAt[i] + 32 <= ends[i]) data.set(roots.subarray(i * 32, i * 32 + 32), start + rootAt[i])
      }
      from = to
      start = ends[i]
    }
    parentPort.postMessage({ id, roots }, [roots.buffer])
  }
  queue.push({ id, keys, sigs, data, ends, ok: new Uint8Array(n), i: 0, start: 0, key: undefined })
  if (!draining) {
    draining = true
    setImmediate(drain)
  }
})
