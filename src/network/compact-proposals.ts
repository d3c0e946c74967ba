import { encodeCompactProposalMessage, type CompactProposal } from '../chain/codec.ts'
import { batchId } from '../chain/hashing.ts'
import type { Proposal, RecordBatch } from '../chain/types.ts'
import { bytesEqual, toHex } from '../encoding/bytes.ts'
import type { Logger } from '../logger.ts'
import { merkleRoot } from '../merkle/rfc6962.ts'
import { NetworkError, NetworkErrorCode } from './errors.ts'

/** Proposals whose batches this node serves (its own and the ones it accepted), newest kept. */
export const SERVED_PROPOSALS = 4
/** Fetches of missing batches running at once; a compact proposal beyond them is ignored. */
export const MAX_CONCURRENT_FETCHES = 4

export interface AssemblyModules {
  logger: Logger
  /** A batch this node holds (its mempool), by hex id. */
  heldBatch: (id: string) => RecordBatch | undefined
  /** Asks a peer for batches by id: one item per id, null where it had none; throws when the peer misbehaved. */
  fetch: (peer: string, ids: Uint8Array[]) => Promise<Array<RecordBatch | null>>
}

export interface AssemblyStats {
  /** Compact proposals made whole. */
  assembled: number
  /** Of them, how many needed batches from a peer, and how many batches in all. */
  fetches: number
  batchesFetched: number
  /** Compact proposals given up on: a peer without the batches, a timeout, or too many fetches at once. */
  failed: number
}

/**
 * Compact proposals (docs/protocol.md, section 3.10). A proposal travels as its block with every
 * batch replaced by the batch's id: the batches reached every node already on their own topic, so
 * a proposal of 3 MB is about 3 KB on the wire and in every relay's message cache. A receiver
 * fills the batches from its mempool and asks the peer that sent it the proposal for the rest;
 * that peer accepted the proposal, so it assembled it and still holds them (SERVED_PROPOSALS).
 * The ids must hash to the header's recordsRoot before anything is fetched, and each fetched batch
 * must have its id, so the block assembled is exactly the one the proposer signed.
 */
export class ProposalAssembler {
  readonly stats: AssemblyStats = { assembled: 0, fetches: 0, batchesFetched: 0, failed: 0 }
  private readonly served: ServedBatches = new ServedBatches(SERVED_PROPOSALS)
  private fetching = 0

  constructor (private readonly m: AssemblyModules) {}

  /** Our own proposal's compact encoding; its batches are served to peers from now on. */
  encode (p: Proposal): Uint8Array {
    this.serve(p)
    return encodeCompactProposalMessage(p, p.block.body.batches.map(batchId))
  }

  /** A proposal this node accepted: peers that got it from us may ask us for its batches. */
  serve (p: Proposal): void {
    this.served.add(`${p.header.height}/${p.header.round}/${toHex(p.header.proposer)}`, p.block.body.batches)
  }

  /** A batch we can give a peer: one of a served proposal, or one waiting in our mempool. */
  batch (id: string): RecordBatch | undefined {
    return this.served.get(id) ?? this.m.heldBatch(id)
  }

  /**
   * The whole proposal, or undefined when its missing batches could not be had (the caller ignores
   * the message: no penalty, the round's timeout covers it). Throws a REJECT error when the ids do
   * not give the header's recordsRoot: no honest node sends or forwards such a message.
   */
  async assemble (c: CompactProposal, from: string): Promise<Proposal | undefined> {
    if (!bytesEqual(merkleRoot(c.batchIds), c.blockHeader.recordsRoot)) {
      throw new NetworkError(NetworkErrorCode.BAD_RESPONSE, 'compact proposal: its batch ids do not give the header\'s recordsRoot', { height: c.header.height, round: c.header.round })
    }
    const batches = new Array<RecordBatch>(c.batchIds.length)
    const missing: number[] = []
    for (let i = 0; i < c.batchIds.length; i++) {
      const b = this.batch(toHex(c.batchIds[i]))
      if (b === undefined) missing.push(i)
      else batches[i] = b
    }
    if (missing.length > 0 && !(await this.fill(batches, missing, c, from))) return undefined
    this.stats.assembled++
    return { header: c.header, block: { header: c.blockHeader, body: { batches, lastCommit: c.lastCommit, evidence: c.evidence } } }
  }

  private async fill (batches: RecordBatch[], missing: number[], c: CompactProposal, from: string): Promise<boolean> {
    if (this.fetching >= MAX_CONCURRENT_FETCHES) {
      this.stats.failed++
      return false
    }
    this.fetching++
    this.stats.fetches++
    try {
      const got = await this.m.fetch(from, missing.map(i => c.batchIds[i]))
      for (let k = 0; k < missing.length; k++) {
        const b = got[k]
        if (b === null) {
          this.stats.failed++
          this.m.logger.debug({ peer: from, height: c.header.height, round: c.header.round, missing: missing.length }, 'compact proposal: the peer that sent it lacks some of its batches')
          return false
        }
        batches[missing[k]] = b
      }
      this.stats.batchesFetched += missing.length
      return true
    } catch (err) {
      if (err instanceof NetworkError && err.code === NetworkErrorCode.BAD_RESPONSE) throw err
      this.stats.failed++
      this.m.logger.debug({ peer: from, height: c.header.height, err: (err as Error).message }, 'compact proposal: fetching its batches failed')
      return false
    } finally {
      this.fetching--
    }
  }
}

/** The batches of the last `max` proposals, by hex batch id; a proposal key holds one body. */
class ServedBatches {
  private readonly order: Array<{ key: string, ids: string[] }> = []
  private readonly byId = new Map<string, { batch: RecordBatch, refs: number }>()

  constructor (private readonly max: number) {}

  add (key: string, batches: RecordBatch[]): void {
    if (this.order.some(e => e.key === key)) return
    const ids = batches.map(b => toHex(batchId(b)))
    batches.forEach((batch, i) => {
      const e = this.byId.get(ids[i])
      if (e === undefined) this.byId.set(ids[i], { batch, refs: 1 })
      else e.refs++
    })
    this.order.push({ key, ids })
    while (this.order.length > this.max) {
      for (const id of this.order.shift()!.ids) {
        const e = this.byId.get(id)!
        if (--e.refs === 0) this.byId.delete(id)
      }
    }
  }

  get (id: string): RecordBatch | undefined {
    return this.byId.get(id)?.batch
  }
}
