import type { Genesis } from '../chain/genesis.ts'
import type { FinalizedBlock, MedRecord } from '../chain/types.ts'
import type { ValidatorSet } from '../chain/validator-set.ts'
import type { NodeKey } from '../crypto/ed25519.ts'
import type { X25519KeyPair } from '../crypto/x25519.ts'
import { bytesEqual, fromHex, toHex } from '../encoding/bytes.ts'
import type { Logger } from '../logger.ts'
import type { StoredRecord } from '../storage/index.ts'
import type { EnvelopeContext } from './envelope.ts'
import type { GrantEntry, PrivacyIndex, Position } from './ledger-index.ts'
import type { LocalState, PrivacyFiles } from './local-state.ts'
import type { LocalKeyStore } from './local-store.ts'
import { EMERGENCY_WINDOW_MS } from './patient-records.ts'

export type Unsigned = Omit<MedRecord, 'author'>

/** What the privacy service needs of the node: a narrow view of MedledgerNode. */
export interface PrivacyNode {
  readonly genesis: Genesis
  readonly key: NodeKey
  readonly role: 'validator' | 'observer' | 'member'
  readonly isValidator: boolean
  readonly log: Logger
  readonly schedule: { latest: () => ValidatorSet }
  readonly store: {
    readonly head: { height: number } | null
    getRecord: (id: Uint8Array) => Promise<StoredRecord | undefined>
    iterateFinalized: (from: number, to: number) => AsyncGenerator<FinalizedBlock>
  }
  /** Async: it looks the records up on the chain first (a final record is refused). Always await it. */
  submitRecords: (records: Unsigned[]) => Promise<{ ids: string[] }>
  waitFinal: (ids: string[], timeoutMs: number) => Promise<number>
  on: (event: 'finalized', fn: (fb: FinalizedBlock) => void) => unknown
  off: (event: 'finalized', fn: (fb: FinalizedBlock) => void) => unknown
}

export interface PrivacyOptions {
  /** The privacy directory (off-chain key store, index snapshot, local state). */
  dir: string
  /** The node's key file: its X25519 key is the genesis-published delivery key. */
  keyFile: string
  /** The key file's passphrase, kept to rewrite it when that key is retired. */
  passphrase?: string
  /** Encryption key pair read from the key file, if any. */
  keyFileEncryption?: X25519KeyPair
  /** How long a superseded delivery key is kept after its successor is final (records in flight). */
  retireGraceMs: number
  /** How long a plaintext read waits for its access record to be final before refusing. */
  auditWaitMs: number
  /** How often key rotation and retirement are checked. */
  maintainEveryMs?: number
}

/** A delivery private key this node holds, and where it lives. */
export interface HeldKey { pair: X25519KeyPair, source: 'keyfile' | 'store' }

/** How long to wait before announcing a key again, or paying the next key releases. */
export const ANNOUNCE_RETRY_MS = 10_000

/**
 * What the parts of one node's privacy service share (src/privacy/service.ts wires them): the
 * node, the index of the chain's privacy records, the local state, the delivery keys held and the
 * off-chain key store. Every change to them runs on the service's one queue.
 */
export class PrivacyContext {
  index!: PrivacyIndex
  state: LocalState = { retiring: [], wantKey: false }
  /** Delivery keys held, by public key hex. */
  readonly held = new Map<string, HeldKey>()
  readonly me: Uint8Array
  readonly meHex: string
  readonly log: Logger

  constructor (readonly node: PrivacyNode, readonly keys: LocalKeyStore, readonly files: PrivacyFiles, readonly o: PrivacyOptions, log: Logger) {
    this.me = node.key.publicKey
    this.meHex = toHex(this.me)
    this.log = log
  }

  async saveState (): Promise<void> {
    await this.files.saveState(this.state)
  }

  /** The associated data of a record's envelope. */
  envelopeContext (r: { type: string, subject: Uint8Array, author: Uint8Array }): EnvelopeContext {
    return { chainId: this.node.genesis.chainId, type: r.type, subject: r.subject, author: r.author }
  }

  /** A node's name (validators, members, observers), or its key in hex. */
  nameOf (node: Uint8Array | string): string {
    const hex = typeof node === 'string' ? node : toHex(node)
    const m = [...this.node.schedule.latest().members, ...this.node.genesis.validators.members, ...this.node.genesis.observers].find(x => toHex(x.publicKey) === hex)
    return m?.name ?? hex
  }

  /** This node's grants in force for a subject that cover a record type. */
  grantsInForce (subject: Uint8Array, type: string): GrantEntry[] {
    const now = Date.now()
    return this.index.grantList({ custodian: this.meHex, subject: toHex(subject) })
      .filter(g => this.index.grantInForce(this.me, subject, fromHex(g.grantee), type, now) !== undefined)
  }

  /** This node's own record, a grant in force from its custodian, or this node's emergency read of it in force. */
  mayHold (id: string, r: MedRecord): boolean {
    return bytesEqual(r.author, this.me) || this.index.grantInForce(r.author, r.subject, this.me, r.type, Date.now()) !== undefined ||
      this.index.emergencyInForce(id, this.meHex, Date.now(), EMERGENCY_WINDOW_MS) !== undefined
  }
}

/** Whether a stored record is final strictly before the chain position `pos`. */
export function finalBefore (stored: StoredRecord, pos: Position): boolean {
  const l = stored.location
  if (l === undefined) return false
  return l.height < pos.height || (l.height === pos.height && (l.batchIndex < pos.batch || (l.batchIndex === pos.batch && l.recordIndex < pos.index)))
}
