import { readFile } from 'node:fs/promises'
import { peerIdFromString } from '@libp2p/peer-id'
import { encodeCbor } from '../encoding/cbor.ts'
import { fromHex, toHex } from '../encoding/bytes.ts'
import { sha256 } from '../crypto/hash.ts'
import { peerIdOfPublicKey } from '../crypto/ed25519.ts'
import { MedledgerError } from '../errors.ts'
import { DOMAIN } from './hashing.ts'
import { LIMITS } from './limits.ts'
import { ValidatorSet, type Member } from './validator-set.ts'
import { MemberSet } from './member-set.ts'
import { ConfigErrorCode } from '../config/errors.ts'

/**
 * The genesis file: the one thing a verifier must trust. JSON for people; its hash is taken over
 * a canonical CBOR form, so whitespace or key order in the file never changes it.
 */
export interface GenesisParams {
  /** Milliseconds between heartbeat blocks while no records arrive. */
  heartbeatMs: number
  /** A governance change included at height h takes effect at h + governanceDelay. */
  governanceDelay: number
}

export const DEFAULT_PARAMS: GenesisParams = { heartbeatMs: 10_000, governanceDelay: 2 }

/** `encryptionKey`: optional X25519 public key (hex) records are encrypted to (docs/privacy.md). */
export interface GenesisMemberJson { name: string, peerId: string, publicKey: string, encryptionKey?: string }
export interface GenesisJson {
  chainId: string
  genesisTime: string
  validators: GenesisMemberJson[]
  observers: GenesisMemberJson[]
  /** Hospitals that write without voting (docs/protocol.md, "Members"); omitted when none. */
  members?: GenesisMemberJson[]
  params: GenesisParams
}

export class Genesis {
  readonly chainId: string
  readonly genesisTime: number
  readonly validators: ValidatorSet
  readonly observers: readonly Member[]
  /** The members in force from height 1 (governance adds and removes more). */
  readonly members: MemberSet
  readonly params: GenesisParams
  readonly hash: Uint8Array

  constructor (g: { chainId: string, genesisTime: number, validators: Member[], observers: Member[], members?: Member[], params: GenesisParams }) {
    if (!/^[a-zA-Z0-9._-]{1,64}$/.test(g.chainId) || g.chainId.length > LIMITS.chainIdChars) throw genesisError('chainId must be 1-64 letters, digits, dot, dash or underscore')
    this.chainId = g.chainId
    this.genesisTime = g.genesisTime
    this.validators = new ValidatorSet(g.validators)
    this.observers = [...g.observers]
    if ((g.members ?? []).length > LIMITS.members) throw genesisError(`at most ${LIMITS.members} members`)
    try {
      this.members = new MemberSet(g.members ?? [])
    } catch (err) {
      throw genesisError((err as Error).message)
    }
    // An observer is listed once and is not also a validator: a peer has one role.
    const seen = new Set<string>()
    for (const o of this.observers) {
      const id = toHex(o.publicKey)
      if (this.validators.has(o.publicKey)) throw genesisError(`observer ${o.name} is also a validator: a peer has one role`)
      if (seen.has(id)) throw genesisError(`observer ${o.name}: the key is listed twice`)
      seen.add(id)
    }
    // A member is a member only: not also a validator or an observer.
    for (const m of this.members.members) {
      if (this.validators.has(m.publicKey)) throw genesisError(`member ${m.name} is also a validator: a peer has one role`)
      if (this.observers.some(o => toHex(o.publicKey) === toHex(m.publicKey))) throw genesisError(`member ${m.name} is also an observer: a peer has one role`)
    }
    this.params = g.params
    // Members enter the hash only when there are some, so genesis files without members keep their hash.
    this.hash = sha256(encodeCbor([
      DOMAIN.genesis, g.chainId, g.genesisTime,
      this.validators.members.map(memberHashItem),
      this.observers.map(memberHashItem),
      [g.params.heartbeatMs, g.params.governanceDelay],
      ...(this.members.size === 0 ? [] : [this.members.members.map(memberHashItem)])
    ]))
  }

  static fromJson (json: unknown): Genesis {
    const j = json as Partial<GenesisJson>
    if (typeof j !== 'object' || j === null) throw genesisError('the genesis file is not a JSON object')
    if (typeof j.chainId !== 'string') throw genesisError('chainId is missing')
    const time = parseGenesisTime(j.genesisTime)
    if (time === undefined) throw genesisError('genesisTime must be a UTC date and time such as 2026-01-31T12:00:00.000Z (RFC 3339, Z, at most 3 fraction digits)')
    if (!Array.isArray(j.validators) || j.validators.length === 0) throw genesisError('validators must be a non-empty list')
    const params = { ...DEFAULT_PARAMS, ...(j.params ?? {}) }
    if (!Number.isSafeInteger(params.heartbeatMs) || params.heartbeatMs < 100) throw genesisError('params.heartbeatMs must be an integer >= 100')
    if (!Number.isSafeInteger(params.governanceDelay) || params.governanceDelay < 1) throw genesisError('params.governanceDelay must be an integer >= 1')
    return new Genesis({
      chainId: j.chainId,
      genesisTime: time,
      validators: j.validators.map((m, i) => memberFromJson(m, `validators[${i}]`)),
      observers: (j.observers ?? []).map((m, i) => memberFromJson(m, `observers[${i}]`)),
      members: membersFromJson(j.members),
      params
    })
  }

  static async load (file: string): Promise<Genesis> {
    let text: string
    try {
      text = await readFile(file, 'utf8')
    } catch (err) {
      throw genesisError(`cannot read genesis file ${file}: ${(err as Error).message}`)
    }
    let json: unknown
    try {
      json = JSON.parse(text)
    } catch (err) {
      throw genesisError(`genesis file ${file} is not valid JSON: ${(err as Error).message}`)
    }
    return Genesis.fromJson(json)
  }

  toJson (): GenesisJson {
    const member = (m: Member): GenesisMemberJson => ({ name: m.name, peerId: peerIdOfPublicKey(m.publicKey), publicKey: toHex(m.publicKey), ...(m.encryptionKey === undefined ? {} : { encryptionKey: toHex(m.encryptionKey) }) })
    return {
      chainId: this.chainId,
      genesisTime: new Date(this.genesisTime).toISOString(),
      validators: this.validators.members.map(member),
      observers: this.observers.map(member),
      ...(this.members.size === 0 ? {} : { members: this.members.members.map(member) }),
      params: this.params
    }
  }
}

export function publicKeyOfPeerId (peerId: string): Uint8Array {
  let pk: Uint8Array | undefined
  try {
    const id = peerIdFromString(peerId)
    if (id.type === 'Ed25519') pk = id.publicKey.raw
  } catch {}
  if (pk === undefined) throw genesisError(`${peerId} is not an Ed25519 peer id`)
  return pk
}

function membersFromJson (list: unknown): Member[] {
  if (list === undefined) return []
  if (!Array.isArray(list)) throw genesisError('members must be a list')
  if (list.length > LIMITS.members) throw genesisError(`at most ${LIMITS.members} members`)
  return list.map((m, i) => memberFromJson(m, `members[${i}]`))
}

const GENESIS_TIME = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,3}))?Z$/

/**
 * The genesis time of a genesis file in ms since the epoch, or undefined. Only RFC 3339 UTC
 * (`Z`) with at most millisecond precision that names a real date and time: Date.parse alone
 * would also take local-time forms ("Nov 14 2023"), whose value, and so the genesis hash, depends
 * on the reader's time zone, and roll 2023-02-30 over into March (docs/protocol.md section 15).
 */
export function parseGenesisTime (text: unknown): number | undefined {
  const m = typeof text === 'string' ? GENESIS_TIME.exec(text) : null
  if (m === null) return undefined
  const time = Date.parse(text as string)
  if (!Number.isFinite(time) || new Date(time).toISOString() !== `${m[1]}.${(m[2] ?? '').padEnd(3, '0')}Z`) return undefined
  return time
}

function memberFromJson (m: unknown, where: string): Member {
  const x = m as Partial<GenesisMemberJson>
  if (typeof x !== 'object' || x === null || typeof x.name !== 'string' || x.name.length === 0 || x.name.length > 64) throw genesisError(`${where}.name must be a non-empty string of at most 64 characters`)
  let publicKey: Uint8Array | undefined
  if (typeof x.publicKey === 'string') {
    try { publicKey = fromHex(x.publicKey, 32) } catch { throw genesisError(`${where}.publicKey must be 64 hex characters`) }
  }
  if (typeof x.peerId === 'string') {
    const fromPeer = publicKeyOfPeerId(x.peerId)
    if (publicKey !== undefined && toHex(publicKey) !== toHex(fromPeer)) throw genesisError(`${where}: peerId and publicKey disagree`)
    publicKey = fromPeer
  }
  if (publicKey === undefined) throw genesisError(`${where} needs a peerId or a publicKey`)
  if (x.encryptionKey === undefined) return { name: x.name, publicKey }
  let encryptionKey: Uint8Array
  try { encryptionKey = fromHex(String(x.encryptionKey), 32) } catch { throw genesisError(`${where}.encryptionKey must be 64 hex characters (an X25519 public key)`) }
  return { name: x.name, publicKey, encryptionKey }
}

// A member's encryption key enters the hash only when present, so genesis files without one keep
// their hash (docs/protocol.md section 5).
function memberHashItem (m: Member): Array<string | Uint8Array> {
  return m.encryptionKey === undefined ? [m.name, m.publicKey] : [m.name, m.publicKey, m.encryptionKey]
}

function genesisError (message: string): MedledgerError {
  return new MedledgerError(ConfigErrorCode.GENESIS_INVALID, message)
}
