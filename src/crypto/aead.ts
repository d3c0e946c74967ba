import { createCipheriv, createDecipheriv, hkdfSync } from 'node:crypto'

/** AES-256-GCM with a 12-byte nonce; the 16-byte tag is appended to the ciphertext. */
export const AEAD_KEY_LENGTH = 32
export const AEAD_NONCE_LENGTH = 12
export const AEAD_TAG_LENGTH = 16

export function aeadSeal (key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array {
  const c = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: AEAD_TAG_LENGTH })
  c.setAAD(aad)
  const out = Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()])
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength)
}

/** Returns the plaintext, or undefined when the key, nonce, AAD or ciphertext is not the sealed one. */
export function aeadOpen (key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Uint8Array | undefined {
  if (sealed.length < AEAD_TAG_LENGTH) return undefined
  try {
    const d = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: AEAD_TAG_LENGTH })
    d.setAAD(aad)
    d.setAuthTag(sealed.subarray(sealed.length - AEAD_TAG_LENGTH))
    const out = Buffer.concat([d.update(sealed.subarray(0, sealed.length - AEAD_TAG_LENGTH)), d.final()])
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength)
  } catch {
    return undefined
  }
}

/** HKDF-SHA256 (RFC 5869) of `length` bytes. */
export function hkdf (ikm: Uint8Array, salt: Uint8Array, info: string | Uint8Array, length = 32): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', ikm, salt, typeof info === 'string' ? Buffer.from(info) : info, length))
}
