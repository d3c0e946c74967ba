import { createPrivateKey, createPublicKey, sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey, peerIdFromPublicKey } from '@libp2p/peer-id'
import { publicKeyFromRaw } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'

export const PUBLIC_KEY_LENGTH = 32
export const SIGNATURE_LENGTH = 64

/**
 * Signs on behalf of the node. A narrow interface so that a hardware or remote signer can stand in
 * for the in-memory key later; consensus and batch building only ever see this.
 */
export interface Signer {
  readonly publicKey: Uint8Array
  sign: (message: Uint8Array) => Uint8Array
}

function b64url (b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64url')
}

// Importing from a JWK built from the raw 32 bytes costs ~6 us; from DER/SPKI ~75 us (as much as
// a verify). Keys are cached: validators' keys are few and used constantly.
const publicKeyCache = new Map<string, KeyObject>()
const MAX_CACHED_KEYS = 10_000

export function publicKeyObject (publicKey: Uint8Array): KeyObject {
  const id = b64url(publicKey)
  let k = publicKeyCache.get(id)
  if (k === undefined) {
    k = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: id }, format: 'jwk' })
    if (publicKeyCache.size >= MAX_CACHED_KEYS) publicKeyCache.clear()
    publicKeyCache.set(id, k)
  }
  return k
}

/** Ed25519 verify with a cached key. Returns false (never throws) for malformed keys or signatures. */
export function verifySignature (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== PUBLIC_KEY_LENGTH || signature.length !== SIGNATURE_LENGTH) return false
  try {
    return cryptoVerify(null, message, publicKeyObject(publicKey), signature)
  } catch {
    return false
  }
}

/** The node's identity: an Ed25519 key whose public half is also its libp2p PeerId. */
export class NodeKey implements Signer {
  readonly publicKey: Uint8Array
  readonly seed: Uint8Array
  private readonly keyObject: KeyObject

  constructor (seed: Uint8Array, publicKey: Uint8Array) {
    if (seed.length !== 32 || publicKey.length !== PUBLIC_KEY_LENGTH) throw new Error('an Ed25519 key is a 32-byte seed and a 32-byte public key')
    this.seed = seed
    this.publicKey = publicKey
    this.keyObject = createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', x: b64url(publicKey), d: b64url(seed) }, format: 'jwk' })
    // Refuse a seed that does not belong to the public key: a mismatched key file would sign
    // messages nobody can verify.
    const probe = new Uint8Array([1, 2, 3])
    if (!verifySignature(publicKey, probe, this.sign(probe))) throw new Error('the private key does not match the public key')
  }

  static async generate (): Promise<NodeKey> {
    return NodeKey.fromLibp2p(await generateKeyPair('Ed25519'))
  }

  static fromLibp2p (key: PrivateKey): NodeKey {
    if (key.type !== 'Ed25519') throw new Error(`node keys are Ed25519, not ${key.type}`)
    // libp2p's Ed25519 private key raw form is seed (32) || public key (32)
    const raw = key.raw
    return new NodeKey(raw.slice(0, 32), raw.slice(32, 64))
  }

  static fromProtobuf (bytes: Uint8Array): NodeKey {
    return NodeKey.fromLibp2p(privateKeyFromProtobuf(bytes))
  }

  toLibp2p (): PrivateKey {
    return privateKeyFromProtobuf(this.toProtobuf())
  }

  toProtobuf (): Uint8Array {
    // protobuf KeyType.Ed25519 = 1; Data = seed || public key
    const data = new Uint8Array(64)
    data.set(this.seed, 0)
    data.set(this.publicKey, 32)
    const out = new Uint8Array(4 + 64)
    out.set([0x08, 0x01, 0x12, 0x40], 0)
    out.set(data, 4)
    return privateKeyToProtobuf(privateKeyFromProtobuf(out))
  }

  get peerId (): string {
    return peerIdFromPrivateKey(this.toLibp2p()).toString()
  }

  sign (message: Uint8Array): Uint8Array {
    const s = cryptoSign(null, message, this.keyObject)
    return new Uint8Array(s.buffer, s.byteOffset, s.byteLength)
  }
}

export function peerIdOfPublicKey (publicKey: Uint8Array): string {
  return peerIdFromPublicKey(publicKeyFromRaw(publicKey)).toString()
}
