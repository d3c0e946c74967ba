import type { TimeoutConfig } from './timeouts.ts'

/** consensus.max_clock_drift_ms's default: how far past our clock a new block's time may be. */
export const DEFAULT_MAX_CLOCK_DRIFT_MS = 5000

export interface DriverOptions {
  timeouts: TimeoutConfig
  /** Heartbeat: an empty block this long after the last block while no records arrive. */
  heartbeatMs: number
  /** When a round has not moved for this long, re-send our own messages (peers may have missed them). */
  rebroadcastMs: number
  maxBlockBytes: number
  maxBatchesPerBlock: number
  /** A new proposal's block time may be at most this far past our clock (docs/protocol.md, "Time"). */
  maxClockDriftMs?: number
  /** Messages for the next height kept until we get there. */
  maxFutureMessages: number
  /** Test-only: sign conflicting votes and proposals (the Byzantine validator of the simulation tier). */
  byzantine: boolean
}
