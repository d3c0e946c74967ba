import type { SignatureCheck } from '../crypto/verify-pool.ts'
import type { Evidence, FinalizedBlock, Proposal } from '../chain/types.ts'
import type { RecordLookup } from '../chain/verifier.ts'
import type { LastSigned } from '../storage/index.ts'

/**
 * The consensus driver's ports: everything it touches outside its own memory goes through one of
 * these narrow interfaces, so the deterministic simulation (test/unit/consensus/sim/) can run the
 * real driver on a virtual clock, a simulated network and an in-memory store that models exactly
 * what reached the disk. Production wires the real ones (src/node/node.ts): the system clock and
 * timers, the VerifyPool, the libp2p network and the ChainStore.
 */

/** The clock and the timers: a virtual clock in the simulation. */
export interface Clock {
  now: () => number
  /** `background`: the timer does not keep the process alive (the stall rebroadcast). */
  setTimeout: (fn: () => void, ms: number, background?: boolean) => unknown
  clearTimeout: (handle: unknown) => void
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms, background) => {
    const t = setTimeout(fn, ms)
    if (background === true) t.unref()
    return t
  },
  clearTimeout: (handle) => { clearTimeout(handle as NodeJS.Timeout) }
}

/** Signature checks: the VerifyPool's verifyEvery in production. */
export interface SignatureVerifier {
  verifyEvery: (checks: SignatureCheck[]) => Promise<boolean>
}

/** What the driver needs from the network: publish and ask for catch-up. */
export interface ConsensusNetwork {
  /** A vote (an encoded consensus message). */
  publishConsensus: (bytes: Uint8Array) => void
  /** Our proposal: the network chooses its wire form (compact in production). */
  publishProposal: (proposal: Proposal) => void
  requestSync: () => void
}

/**
 * The consensus state that must survive a crash: the double-sign guard with the bytes signed at
 * it, our own votes of the current height, the state machine's snapshot (locks) and evidence not
 * yet in a block. Every write resolves only once it is on disk (synced).
 */
export interface ConsensusPersistence {
  getLastSigned: () => Promise<LastSigned | undefined>
  /** The bytes signed at the guard's (height, round, step), if they were recorded with it. */
  getLastSignedBytes: () => Promise<Uint8Array | undefined>
  /**
   * Moves the guard to `ls` with the exact bytes about to be signed and, when given, replaces our
   * kept own messages, in ONE synced write: a signed vote and the guard that allowed it reach the
   * disk together or not at all (docs/simulation.md, Finding 9).
   */
  putSigned: (ls: LastSigned, signBytes: Uint8Array, ownMessages?: Uint8Array) => Promise<void>
  /** Our own messages as last written by putSigned (opaque to the store). */
  getOwnMessages: () => Promise<Uint8Array | undefined>
  getConsensusSnapshot: () => Promise<Uint8Array | undefined>
  /**
   * The state machine's snapshot and, when given, the blocks its lock and valid value name (opaque),
   * in one synced write: a node locked on a block must still hold it after a crash (Finding 11).
   */
  putConsensusSnapshot: (bytes: Uint8Array, heldBlocks?: Uint8Array) => Promise<void>
  /** The blocks last written with the snapshot. */
  getHeldBlocks: () => Promise<Uint8Array | undefined>
  putPendingEvidence: (e: Evidence) => Promise<void>
  listPendingEvidence: () => Promise<Evidence[]>
  removePendingEvidence: (hash: Uint8Array) => Promise<void>
}

/** The chain as consensus sees it: the head, the final blocks, and the records already final. */
export interface ConsensusChain extends RecordLookup {
  readonly head: { height: number, hash: Uint8Array } | null
  commit: (block: FinalizedBlock) => Promise<void>
  commitMany: (blocks: FinalizedBlock[]) => Promise<void>
  getFinalized: (height: number) => Promise<FinalizedBlock | undefined>
}

/** The driver's store: the ChainStore in production. */
export type ConsensusStore = ConsensusPersistence & ConsensusChain
