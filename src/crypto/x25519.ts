import { createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, type KeyObject } from 'node:crypto'

/** A raw X25519 key pair (RFC 7748): 32-byte private scalar, 32-byte public u-coordinate. */
export interface X25519KeyPair {
  publicKey: Uint8Array
  privateKey: Uint8Array
}

export const X25519_KEY_LENGTH = 32

// PKCS#8 wrapping of a raw X25519 private key (RFC 8410): node:crypto derives the public half.
const PKCS8_X25519_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex')

function b64url (b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64url')
}

function fromB64url (s: string | undefined): Uint8Array {
  if (s === undefined) throw new Error('node:crypto exported no key bytes')
  return new Uint8Array(Buffer.from(s, 'base64url'))
}

export function generateX25519 (): X25519KeyPair {
  const { privateKey } = generateKeyPairSync('x25519')
  const jwk = privateKey.export({ format: 'jwk' })
  return { publicKey: fromB64url(jwk.x), privateKey: fromB64url(jwk.d) }
}

function privateKeyObject (privateKey: Uint8Array): KeyObject {
  if (privateKey.length !== X25519_KEY_LENGTH) throw new Error('an X25519 private key is 32 bytes')
  return createPrivateKey({ key: Buffer.concat([PKCS8_X25519_PREFIX, privateKey]), format: 'der', type: 'pkcs8' })
}

function publicKeyObject (publicKey: Uint8Array): KeyObject {
  if (publicKey.length !== X25519_KEY_LENGTH) throw new Error('an X25519 public key is 32 bytes')
  return createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: b64url(publicKey) }, format: 'jwk' })
}

/** The public key of a raw private key; also how a stored private key is checked. */
export function x25519PublicKey (privateKey: Uint8Array): Uint8Array {
  return fromB64url(createPublicKey(privateKeyObject(privateKey)).export({ format: 'jwk' }).x)
}

export function x25519KeyPair (privateKey: Uint8Array): X25519KeyPair {
  return { privateKey: new Uint8Array(privateKey), publicKey: x25519PublicKey(privateKey) }
}

/**
 * X25519(privateKey, publicKey). Refuses an all-zero result (RFC 7748 section 6.1): a low-order
 * public key would make the shared secret independent of our private key.
 */
export function x25519 (privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array {
  let s: Buffer
  try {
    s = diffieHellman({ privateKey: privateKeyObject(privateKey), publicKey: publicKeyObject(publicKey) })
  } catch (err) {
    // OpenSSL refuses the all-zero result itself.
    throw new Error(`X25519 failed (a low-order public key gives the all-zero secret): ${(err as Error).message}`)
  }
  if (s.every(b => b === 0)) throw new Error('X25519 produced the all-zero secret (low-order public key)')
  return new Uint8Array(s.buffer, s.byteOffset, s.byteLength)
}
