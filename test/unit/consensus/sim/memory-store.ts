import { blockHash, evidenceHash, recordId } from '../../../../src/chain/hashing.ts'
import type { Evidence, FinalizedBlock } from '../../../../src/chain/types.ts'
import type { ConsensusStore } from '../../../../src/consensus/ports.ts'
import { bytesEqual, toHex } from '../../../../src/encoding/bytes.ts'
import type { LastSigned } from '../../../../src/storage/index.ts'

/**
 * What one simulated node has on disk: exactly what its store port wrote (every consensus write
 * of the ChainStore is synced, so what the port wrote is what a crash keeps). It outlives the
 * node's incarnations; a restart opens a new MemoryConsensusStore over it.
 */
export class SimDisk {
  readonly blocks: FinalizedBlock[] = []
  readonly records = new Set<string>()
  lastSigned: LastSigned | undefined
  lastSignedBytes: Uint8Array | undefined
  ownMessages: Uint8Array | undefined
  snapshot: Uint8Array | undefined
  heldBlocks: Uint8Array | undefined
  readonly pendingEvidence = new Map<string, Evidence>()
  readonly committedEvidence = new Set<string>()

  get height (): number { return this.blocks.length }
}

/** A crash armed at the `countdown`-th call of the port from now; a write is applied first when `applied`. */
export interface ArmedCrash { countdown: number, applied: boolean }

const never = new Promise<never>(() => {})

/**
 * The driver's ConsensusStore over a SimDisk, in memory, with the ChainStore's refusals (a commit
 * must extend the head, the guard never moves back: each is reported as a violation too). Every
 * call is an await point where an armed crash can strike: the write applied or not, then the node
 * is gone and the call never returns (the driver's in-memory state is lost with it).
 */
export class MemoryConsensusStore implements ConsensusStore {
  armed: ArmedCrash | undefined

  constructor (
    private readonly disk: SimDisk,
    private readonly alive: () => boolean,
    private readonly crash: () => void,
    private readonly violation: (what: string) => void
  ) {}

  get head (): { height: number, hash: Uint8Array } | null {
    const last = this.disk.blocks.at(-1)
    return last === undefined ? null : { height: last.block.header.height, hash: blockHash(last.block.header) }
  }

  async commit (block: FinalizedBlock): Promise<void> { await this.commitMany([block]) }

  async commitMany (blocks: FinalizedBlock[]): Promise<void> {
    await this.at(true, () => {
      let head = this.head
      for (const fb of blocks) {
        const h = fb.block.header
        if (h.height !== (head?.height ?? 0) + 1 || (head !== null && !bytesEqual(h.parentHash, head.hash))) {
          const what = `STORE: block ${h.height} does not extend head ${head?.height ?? 0}`
          this.violation(what)
          throw new Error(what)
        }
        head = { height: h.height, hash: blockHash(h) }
      }
      for (const fb of blocks) {
        this.disk.blocks.push(fb)
        for (const b of fb.block.body.batches) for (const r of b.records) this.disk.records.add(toHex(recordId(r)))
        for (const e of fb.block.body.evidence) this.disk.committedEvidence.add(toHex(evidenceHash(e)))
      }
    })
  }

  async getFinalized (height: number): Promise<FinalizedBlock | undefined> {
    return await this.at(false, () => this.disk.blocks[height - 1])
  }

  async hasRecords (ids: Uint8Array[]): Promise<boolean[]> {
    return await this.at(false, () => ids.map(id => this.disk.records.has(toHex(id))))
  }

  async getLastSigned (): Promise<LastSigned | undefined> {
    return await this.at(false, () => this.disk.lastSigned === undefined ? undefined : { ...this.disk.lastSigned })
  }

  async getLastSignedBytes (): Promise<Uint8Array | undefined> {
    return await this.at(false, () => this.disk.lastSignedBytes)
  }

  async putSigned (ls: LastSigned, signBytes: Uint8Array, ownMessages?: Uint8Array): Promise<void> {
    await this.at(true, () => {
      const s = this.disk.lastSigned
      if (s !== undefined && (ls.height < s.height || (ls.height === s.height && (ls.round < s.round || (ls.round === s.round && ls.step < s.step))))) {
        const what = `GUARD: moved back from ${s.height}/${s.round}/${s.step} to ${ls.height}/${ls.round}/${ls.step}`
        this.violation(what)
        throw new Error(what)
      }
      this.disk.lastSigned = { ...ls }
      this.disk.lastSignedBytes = signBytes
      if (ownMessages !== undefined) this.disk.ownMessages = ownMessages
    })
  }

  async getOwnMessages (): Promise<Uint8Array | undefined> {
    return await this.at(false, () => this.disk.ownMessages)
  }

  async getConsensusSnapshot (): Promise<Uint8Array | undefined> {
    return await this.at(false, () => this.disk.snapshot)
  }

  async putConsensusSnapshot (bytes: Uint8Array, heldBlocks?: Uint8Array): Promise<void> {
    await this.at(true, () => {
      this.disk.snapshot = bytes
      if (heldBlocks !== undefined) this.disk.heldBlocks = heldBlocks
    })
  }

  async getHeldBlocks (): Promise<Uint8Array | undefined> {
    return await this.at(false, () => this.disk.heldBlocks)
  }

  async putPendingEvidence (e: Evidence): Promise<void> {
    // Like the ChainStore: evidence already in a block is not kept again.
    await this.at(true, () => {
      const hash = toHex(evidenceHash(e))
      if (!this.disk.committedEvidence.has(hash)) this.disk.pendingEvidence.set(hash, e)
    })
  }

  async listPendingEvidence (): Promise<Evidence[]> {
    return await this.at(false, () => [...this.disk.pendingEvidence.values()])
  }

  async removePendingEvidence (hash: Uint8Array): Promise<void> {
    await this.at(true, () => { this.disk.pendingEvidence.delete(toHex(hash)) })
  }

  /** One await point of the driver: runs `fn` (the disk access) unless a crash strikes here. */
  private async at<T> (write: boolean, fn: () => T): Promise<T> {
    if (!this.alive()) return await never
    const armed = this.armed
    if (armed !== undefined && --armed.countdown <= 0) {
      this.armed = undefined
      if (write && armed.applied) fn()
      this.crash()
      return await never
    }
    return fn()
  }
}
