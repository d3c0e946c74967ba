// Worker thread: verifies Ed25519 signatures in bulk. Plain JavaScript, so the worker needs no
// TypeScript loader. Input (all transferred, not copied): { id, keys: Uint8Array (n*32),
// sigs: Uint8Array (n*64), data: Uint8Array (the n messages end to end), ends: Uint32Array (n,
// where each message ends in data) }; output: { id, ok: Uint8Array (n, 1 = valid) }.
import { parentPort } from 'node:worker_threads'
import { createPublicKey, verify } from 'node:crypto'

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

parentPort.on('message', ({ id, keys, sigs, data, ends }) => {
  const n = ends.length
  const ok = new Uint8Array(n)
  let start = 0
  let key
  for (let i = 0; i < n; i++) {
    const end = ends[i]
    try {
      // Checks come in runs by the same signer (a batch's author, a block's validators).
      if (key === undefined || !sameKey(keys, i * 32, (i - 1) * 32)) key = keyObject(keys.subarray(i * 32, i * 32 + 32))
      ok[i] = verify(null, data.subarray(start, end), key, sigs.subarray(i * 64, i * 64 + 64)) ? 1 : 0
    } catch {
      ok[i] = 0
      key = undefined
    }
    start = end
  }
  parentPort.postMessage({ id, ok }, [ok.buffer])
})
