import test from 'ava'
import { createHash } from 'node:crypto'
import { verifySignature } from '../../../src/crypto/ed25519.ts'
import { keyFromSeed } from '../../helpers/fixtures.ts'

/*
 * Which Ed25519 signatures the reference verifier (node:crypto, OpenSSL 3) accepts beyond RFC 8032's
 * honest ones, as docs/protocol.md section 15 ("Ed25519 strictness") states it: S < L; no
 * small-order public key A or commitment R; no non-canonical point encoding; the cofactorless
 * equation [S]B = R + [k]A, so a key with a low-order component verifies only when [k]T cancels
 * out. The edge cases are built here with a small Edwards25519 implementation (affine
 * coordinates, BigInt), the way the C2SP CCTV ed25519 vectors are classified.
 */

const P = 2n ** 255n - 19n
const L = 2n ** 252n + 27742317777372353535851937790883648493n
const mod = (a: bigint, m = P): bigint => ((a % m) + m) % m
const pow = (b: bigint, e: bigint, m = P): bigint => { let r = 1n; b = mod(b, m); while (e > 0n) { if ((e & 1n) === 1n) r = r * b % m; b = b * b % m; e >>= 1n } return r }
const inv = (a: bigint): bigint => pow(a, P - 2n)
const D = mod(-121665n * inv(121666n))
const SQRT_M1 = pow(2n, (P - 1n) / 4n)

type Point = [bigint, bigint]
const ID: Point = [0n, 1n]
const add = ([x1, y1]: Point, [x2, y2]: Point): Point => {
  const t = D * x1 * x2 * y1 * y2
  return [mod((x1 * y2 + x2 * y1) * inv(1n + t)), mod((y1 * y2 + x1 * x2) * inv(1n - t))]
}
const mul = (k: bigint, pt: Point): Point => { let r = ID; let q = pt; while (k > 0n) { if ((k & 1n) === 1n) r = add(r, q); q = add(q, q); k >>= 1n } return r }
const le = (n: bigint, len = 32): Uint8Array => { const b = new Uint8Array(len); for (let i = 0; i < len; i++) { b[i] = Number(n & 0xffn); n >>= 8n } return b }
const fromLe = (b: Uint8Array): bigint => b.reduceRight((n, x) => (n << 8n) | BigInt(x), 0n)
const encode = ([x, y]: Point): Uint8Array => { const b = le(y); b[31] |= Number(x & 1n) << 7; return b }
function decode (b: Uint8Array): Point {
  const y = fromLe(b) & ((1n << 255n) - 1n)
  const x2 = mod((y * y - 1n) * inv(D * y * y + 1n))
  let x = pow(x2, (P + 3n) / 8n)
  if (mod(x * x - x2) !== 0n) x = mod(x * SQRT_M1)
  if (mod(x * x - x2) !== 0n) throw new Error('not a point')
  if ((x & 1n) !== BigInt(b[31] >> 7)) x = mod(-x)
  return [x, mod(y)]
}
const B: Point = decode(le(mod(4n * inv(5n))))
const sha512 = (...parts: Uint8Array[]): bigint => fromLe(new Uint8Array(createHash('sha512').update(Buffer.concat(parts)).digest()))
const concat = (...parts: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(parts))
/** A point of order 8 (the torsion subgroup's generator): [L] of any point outside the prime-order subgroup. */
const T8: Point = (() => { for (let y = 2n; ; y++) { try { const t = mul(L, decode(le(y))); if (mul(4n, t)[0] !== 0n || mul(4n, t)[1] !== 1n) return t } catch {} } })()

/** A signature (R, S) with R = [r]B by the secret scalar a for the public key encoding A (which may hold torsion). */
function signWith (a: bigint, A: Uint8Array, msg: Uint8Array, r: bigint, torsionInR: Point = ID): { sig: Uint8Array, k: bigint } {
  const R = encode(add(mul(r, B), torsionInR))
  const k = mod(sha512(R, A, msg), L)
  return { sig: concat(R, le(mod(r + k * a, L))), k }
}

test('the reference accepts honest signatures and refuses S >= L, small-order keys and commitments, and non-canonical encodings', t => {
  const key = keyFromSeed(new Uint8Array(32).fill(7))
  const msg = new TextEncoder().encode('medledger')
  const honest = key.sign(msg)
  t.true(verifySignature(key.publicKey, msg, honest))
  // Our arithmetic agrees with node:crypto on the public key of the seed.
  const h = createHash('sha512').update(new Uint8Array(32).fill(7)).digest()
  h[0] &= 248; h[31] &= 127; h[31] |= 64
  const a = fromLe(new Uint8Array(h.subarray(0, 32)))
  t.deepEqual(encode(mul(a, B)), key.publicKey)

  // S + L: the same signature in another form (a second batch id for one signed batch).
  const s = fromLe(honest.subarray(32))
  t.false(verifySignature(key.publicKey, msg, concat(honest.subarray(0, 32), le(s + L))))

  // Small-order keys with the trivial signature R = identity, S = 0, on a message where [k]A is the
  // identity, so that the cofactorless equation holds: refused for each of the eight small-order keys.
  const eq = (S: bigint, R: Point, k: bigint, A: Point): boolean => { const l = mul(S, B); const r = add(R, mul(k, A)); return l[0] === r[0] && l[1] === r[1] }
  const trivial = concat(encode(ID), le(0n))
  const smallOrder: Point[] = Array.from({ length: 8 }, (_, i) => mul(BigInt(i), T8))
  t.is(new Set(smallOrder.map(p => Buffer.from(encode(p)).toString('hex'))).size, 8)
  for (const [i, A] of smallOrder.entries()) {
    let m = 0
    while (mod(sha512(encode(ID), encode(A), new Uint8Array([m])), L) % 8n !== 0n) m++
    t.true(eq(0n, ID, mod(sha512(encode(ID), encode(A), new Uint8Array([m])), L), A), `the equation holds for small-order key ${i}`)
    t.false(verifySignature(encode(A), new Uint8Array([m]), trivial), `small-order key ${i}`)
  }
  // The identity's non-canonical encoding (y = p + 1), as key and as R.
  const nonCanonicalId = le(P + 1n)
  t.false(verifySignature(nonCanonicalId, msg, trivial))
  t.false(verifySignature(encode(ID), msg, concat(nonCanonicalId, le(0n))))
  // A small-order R with an honest key: R = identity, S = k a, so [S]B = R + [k]A holds: refused.
  const A = mul(a, B)
  const k = mod(sha512(encode(ID), key.publicKey, msg), L)
  t.true(eq(mod(k * a, L), ID, k, A))
  t.false(verifySignature(key.publicKey, msg, concat(encode(ID), le(mod(k * a, L)))))
})

test('a key with a low-order component verifies only under the cofactorless equation: accepted when [k]T cancels, refused when a cofactored verifier alone would accept', t => {
  const a = 0x1234567890abcdefn
  const mixed = encode(add(mul(a, B), T8))
  let accepted = 0
  let refused = 0
  for (let m = 0; m < 64; m++) {
    const msg = new Uint8Array([m, 1, 2])
    const { sig, k } = signWith(a, mixed, msg, 987654321n + BigInt(m))
    // [S]B = R + [k]aB; the key adds [k]T8, which vanishes exactly when 8 divides k.
    const ok = verifySignature(mixed, msg, sig)
    t.is(ok, k % 8n === 0n, `message ${m}: k mod 8 = ${k % 8n}`)
    if (ok) accepted++
    else refused++
  }
  t.true(accepted > 0 && refused > 0, `both cases occur (${accepted} accepted, ${refused} refused)`)
  // Torsion in R with a prime-order key: [S]B - [k]A = [r]B, never R: refused (cofactored would accept).
  const honest = keyFromSeed(new Uint8Array(32).fill(9))
  const h = createHash('sha512').update(new Uint8Array(32).fill(9)).digest()
  h[0] &= 248; h[31] &= 127; h[31] |= 64
  const sk = fromLe(new Uint8Array(h.subarray(0, 32)))
  const msg = new TextEncoder().encode('torsion in R')
  t.true(verifySignature(honest.publicKey, msg, signWith(sk, honest.publicKey, msg, 42n).sig), 'control: our signer is right')
  t.false(verifySignature(honest.publicKey, msg, signWith(sk, honest.publicKey, msg, 42n, T8).sig))
})
