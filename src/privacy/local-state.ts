import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { toHex } from '../encoding/bytes.ts'
import { MedledgerError } from '../errors.ts'
import { replaceFile } from '../keys/secure-file.ts'
import type { Logger } from '../logger.ts'
import { PrivacyErrorCode } from './errors.ts'
import { PrivacyIndex, type IndexSnapshot } from './ledger-index.ts'

/** Node-local state of key rotation and key releases (not derived from the chain): state.json. */
export interface LocalState {
  /** Delivery public keys (hex) that must stop being current: a shred or a rotation asked for it. */
  retiring: string[]
  /** A rotation was asked while this node had no published key. */
  wantKey: boolean
  /** The new delivery key waiting for its announcement to be final. */
  pendingKey?: string
  announcedAt?: number
  /** Local time at which this node's current delivery key last changed on the chain. */
  currentSince?: number
  /**
   * Key releases this node (as custodian) still owes: "<subject hex>/<grantee hex>" pairs whose
   * grant became final here; each is cleared once every record it covers is released.
   */
  releases?: string[]
  /** The one-time sweep of data keys held without a grant has run (sweepUngrantedKeys). */
  ungrantedSwept?: boolean
}

/**
 * The privacy directory's two JSON files: `state.json` (LocalState: what this node still owes
 * or must rotate; lost, it cannot be rebuilt, so a corrupt one is refused with a clear error) and
 * `index.json` (a snapshot of the privacy index at one height; derived from the chain, so a
 * missing, older-format or unreadable one is rebuilt by replaying the chain, the last with a
 * warning). Both are written by replaceFile (flushed temporary file renamed over the old one).
 */
export class PrivacyFiles {
  private savedAt = 0
  savedHeight = 0

  constructor (private readonly dir: string, private readonly log: Logger) {}

  private get statePath (): string { return join(this.dir, 'state.json') }
  private get indexPath (): string { return join(this.dir, 'index.json') }

  /** state.json, or the defaults when there is none yet. */
  async loadState (): Promise<LocalState> {
    const text = await readOptional(this.statePath)
    if (text === undefined) return { retiring: [], wantKey: false }
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch (err) {
      throw corrupt(this.statePath, (err as Error).message)
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw corrupt(this.statePath, 'not a JSON object')
    const state = { retiring: [], wantKey: false, ...parsed as Partial<LocalState> }
    if (!Array.isArray(state.retiring) || typeof state.wantKey !== 'boolean' || (state.releases !== undefined && !Array.isArray(state.releases))) throw corrupt(this.statePath, 'retiring, wantKey or releases has the wrong type')
    return state
  }

  async saveState (state: LocalState): Promise<void> {
    await replaceFile(this.statePath, JSON.stringify(state, null, 2) + '\n')
  }

  /**
   * The index snapshot if it is of this genesis and not above the chain's head; otherwise the
   * index at genesis (the caller replays the chain from there).
   */
  async loadIndex (genesisHash: Uint8Array, headHeight: number, members: ReadonlyArray<{ publicKey: Uint8Array, encryptionKey?: Uint8Array }>): Promise<PrivacyIndex> {
    const fresh = (): PrivacyIndex => PrivacyIndex.fromGenesis(genesisHash, members)
    const text = await readOptional(this.indexPath)
    if (text === undefined) return fresh()
    let snap: IndexSnapshot
    try {
      snap = JSON.parse(text) as IndexSnapshot
    } catch (err) {
      this.log.warn({ file: this.indexPath, err: (err as Error).message }, 'the privacy index snapshot is unreadable; rebuilding it from the chain')
      return fresh()
    }
    if (typeof snap !== 'object' || snap === null) {
      this.log.warn({ file: this.indexPath }, 'the privacy index snapshot is not a JSON object; rebuilding it from the chain')
      return fresh()
    }
    if (snap.genesisHash !== toHex(genesisHash) || snap.height > headHeight) return fresh()
    // Version 1 snapshots lack the patient views: replay the chain instead.
    if (snap.version !== 2) {
      this.log.info({ file: this.indexPath, version: snap.version }, 'the privacy index snapshot is of an older format; rebuilding it from the chain')
      return fresh()
    }
    try {
      const index = PrivacyIndex.fromJson(snap)
      this.savedHeight = index.height
      return index
    } catch (err) {
      this.log.warn({ file: this.indexPath, err: (err as Error).message }, 'the privacy index snapshot is malformed; rebuilding it from the chain')
      return fresh()
    }
  }

  /**
   * The snapshot is the whole index at one height, so replaying from an older one after a crash
   * reaches the same state: unforced, at most one write a second.
   */
  async saveIndex (index: PrivacyIndex, force = true): Promise<void> {
    if (!force && Date.now() - this.savedAt < 1000) return
    await replaceFile(this.indexPath, JSON.stringify(index.toJson()))
    this.savedAt = Date.now()
    this.savedHeight = index.height
  }
}

async function readOptional (file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new MedledgerError(PrivacyErrorCode.STORE_CORRUPT, `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
}

function corrupt (file: string, why: string): MedledgerError {
  return new MedledgerError(PrivacyErrorCode.STORE_CORRUPT, `${file} is corrupt (${why}): it records the delivery keys this node must retire and the key releases it owes, which the chain cannot rebuild; restore it from a backup, or move it away to start afresh (then run \`medledger privacy rotate\`)`)
}
