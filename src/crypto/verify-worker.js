// Worker thread: verifies Ed25519 signatures in bulk. Plain JavaScript, so the worker needs no
// TypeScript loader. Input (all transferred, not copied): { id, keys: Uint8Array (n*32),
// sigs: Uint8Array (n*64), data: Uint8Array (the n messages end to end), ends: Uint32Array (n,
// where each message ends in data) }; output: { id, ok: Uint8Array (n, 1 = valid) }.
//
// A job may also carry Merkle leaves (VerifyPool.verifyRooted: a batch's records root, RFC 6962
// over its record ids, is in the batch's signed message): rootAt: Uint32Array (n, where in
// message i its 32-byte root goes, NO_ROOT for none), countEnds: Uint32Array (n, where check i's
// leaves end among all leaves), leafEnds: Uint32Array (one per leaf, where its bytes end in
// leaves), leaves: Uint8Array (the leaves' bytes end to end), hashed: Uint8Array (n, 1 when check
// i's leaves are record encodings: the leaf data is each one's SHA-256, its record id). The worker
// first computes every root and writes it into its message, then answers { id, roots: Uint8Array
// (n*32, zero where none), ids: Uint8Array (32 bytes for each leaf of a hashed check, in order) }
// and only later { id, ok } as above: the main thread can go on while the signatures are checked.
// Signatures are checked in arrival order, a slice at a time; a job's roots as soon as it arrives.
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
 * RFC 6962 root over the n leaf hashes in `level`, written to out at `at`: node =
 * SHA-256(0x01 || left || right), pairing left to right level by level and carrying an odd last
 * node up (the same tree as src/merkle/rfc6962.ts builds). Each level is written over the start of
 * the one below it: node j of the next level is written after nodes 2j and 2j+1 were read.
 */
function rootInto (n, out, at) {
  if (n === 0) { out.set(EMPTY_ROOT, at); return }
  scratch[0] = 1
  for (let m = n; m > 1; m = (m + 1) >> 1) {
    for (let j = 0; 2 * j + 1 < m; j++) {
      scratch.set(level.subarray(2 * j * 32, 2 * j * 32 + 64), 1)
      level.set(hash('sha256', scratch, 'buffer'), j * 32)
    }
    if (m % 2 === 1) level.copyWithin(((m - 1) >> 1) * 32, (m - 1) * 32, m * 32)
  }
  out.set(level.subarray(0, 32), at)
}

/** Leaf hash SHA-256(0x00 || d) of 32-byte leaf data d, written to `level` at leaf i. */
function leafInto (d, i) {
  scratch[0] = 0
  scratch.set(d, 1)
  level.set(hash('sha256', scratch.subarray(0, 33), 'buffer'), i * 32)
}

/** Computes the job's roots (and the record ids of its hashed checks) and writes each root into its message. */
function roots ({ data, ends, rootAt, countEnds, leafEnds, leaves, hashed }) {
  const n = ends.length
  const out = new Uint8Array(n * 32)
  let idCount = 0
  for (let i = 0; i < n; i++) if (hashed[i] === 1) idCount += countEnds[i] - (i === 0 ? 0 : countEnds[i - 1])
  const ids = new Uint8Array(idCount * 32)
  let idAt = 0
  let start = 0
  let from = 0
  let byte = 0
  for (let i = 0; i < n; i++) {
    const to = countEnds[i]
    if (rootAt[i] !== NO_ROOT) {
      if (level.length < (to - from) * 32) level = new Uint8Array(Math.max((to - from) * 32, level.length * 2))
      for (let j = from; j < to; j++) {
        let d = leaves.subarray(byte, leafEnds[j])
        if (hashed[i] === 1) {
          d = hash('sha256', d, 'buffer')
          ids.set(d, idAt)
          idAt += 32
        }
        leafInto(d, j - from)
        byte = leafEnds[j]
      }
      rootInto(to - from, out, i * 32)
      if (start + rootAt[i] + 32 <= ends[i]) data.set(out.subarray(i * 32, i * 32 + 32), start + rootAt[i])
    } else if (to > from) {
      byte = leafEnds[to - 1]
    }
    from = to
    start = ends[i]
  }
  return { roots: out, ids }
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

parentPort.on('message', (job) => {
  const { id, keys, sigs, data, ends } = job
  if (job.leaves !== undefined) {
    const r = roots(job)
    parentPort.postMessage({ id, roots: r.roots, ids: r.ids }, [r.roots.buffer, r.ids.buffer])
  }
  queue.push({ id, keys, sigs, data, ends, ok: new Uint8Array(ends.length), i: 0, start: 0, key: undefined })
  if (!draining) {
    draining = true
    setImmediate(drain)
  }
})
