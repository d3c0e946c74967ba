import type { ConsensusMessage, KnownBatches } from '../chain/codec.ts'
import type { FinalizedBlock, RecordBatch } from '../chain/types.ts'

/** What the application says of a gossiped message: forward it, drop it, or drop it and penalise the sender. */
export type Verdict = 'accept' | 'ignore' | 'reject'

/** A node's view of its chain, exchanged by the status protocol. */
export interface ChainStatus {
  chainId: string
  genesisHash: Uint8Array
  height: number
  headHash: Uint8Array
}

/** What the network needs from the rest of the node. `from` is always a peer id string. */
export interface NetworkHandlers {
  /**
   * Called with the batches of one message once it decoded (one author published them together);
   * 'reject' penalises the peer that sent it.
   */
  onBatches: (batches: RecordBatch[], from: string) => Promise<Verdict>
  /** `size`: the bytes the message holds once decoded (a compact proposal's: its whole block's). */
  onConsensus: (msg: ConsensusMessage, size: number, from: string) => Promise<Verdict>
  /** A batch already verified and waiting, by signature: proposals carrying it reuse it undecoded. */
  knownBatch?: KnownBatches
  /** A batch waiting in the mempool, by hex id: compact proposals are filled from these. */
  heldBatch: (id: string) => RecordBatch | undefined
  localStatus: () => ChainStatus
  /**
   * Encoded finalized blocks (`encodeFinalized(fb)`) for consecutive heights starting
   * at `from`, at most up to `to`; stops early once `maxBytes` would be exceeded.
   */
  readBlocks: (from: number, to: number, maxBytes: number) => Promise<Uint8Array[]>
  /** Verifies and commits; throws MedledgerError, whose action REJECT means the peer served bad data. */
  applyBlocks: (blocks: FinalizedBlock[], from: string) => Promise<void>
}

export interface SyncedDetail {
  /** The peer the blocks came from. */
  peer: string
  /** First and last height applied by this step. */
  from: number
  to: number
}

export interface NetworkEvents {
  'peer:connect': CustomEvent<string>
  'peer:disconnect': CustomEvent<string>
  /** A status exchange succeeded; detail has the peer's status. */
  'peer:status': CustomEvent<{ peer: string, status: ChainStatus }>
  /** Sync applied a range of blocks. */
  synced: CustomEvent<SyncedDetail>
}
