// Worker thread: verifies Ed25519 signatures in bulk. Plain JavaScript (no TypeScript loader
// needed in the worker). Input: { id, keys: Uint8Array (n*32), sigs: Uint8Array (n*64),
// msgs: Uint8Array[] }; output: { id, ok: Uint8Array (n, 1 = valid) }.
import { parentPort } from 'node:worker_threads'
import { createPublicKey, verify } from 'node:crypto'

const cache = new Map()
function keyObject (raw) {
  const id = Buffer.from(raw).toString('base64url')
  let k = cache.get(id)
  if (k === undefined) {
    k = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: id }, format: 'jwk' })
    if (cache.size > 10000) cache.clear()
    cache.set(id, k)
  }
  return k
}

parentPort.on('message', ({ id, keys, sigs, msgs }) => {
  const n = msgs.length
  const ok = new Uint8Array(n)
  for (let i = 0; i < n; i++) {
    try {
      ok[i] = verify(null, msgs[i], keyObject(keys.subarray(i * 32, i * 32 + 32)), sigs.subarray(i * 64, i * 64 + 64)) ? 1 : 0
    } catch {
      ok[i] = 0
    }
  }
  parentPort.postMessage({ id, ok }, [ok.buffer])
})
