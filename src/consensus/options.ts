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
  /** Messages for the next height kept until we get there (future-buffer.ts): how many, and their bytes on the wire. */
  maxFutureMessages: number
  /** Default DEFAULT_MAX_FUTURE_BYTES (config consensus.max_future_bytes). */
  maxFutureBytes?: number
  /**
   * Test-only: sign conflicting votes and proposals (the Byzantine validator of the simulation
   * tier). Never read from config or environment: only the test harness sets it
   * (test/helpers/test-daemon.js, through MedledgerNode's test hooks).
   */
  byzantine?: boolean
}

/** 16 MiB: the next height's proposal from each of four validators, with room for votes. */
export const DEFAULT_MAX_FUTURE_BYTES = 16 * 1024 * 1024
