import type { TimeoutConfig } from './timeouts.ts'

export interface DriverOptions {
  timeouts: TimeoutConfig
  /** Heartbeat: an empty block this long after the last block while no records arrive. */
  heartbeatMs: number
  /** When a round has not moved for this long, re-send our own messages (peers may have missed them). */
  rebroadcastMs: number
  maxBlockBytes: number
  maxBatchesPerBlock: number
  /** Messages for the next height kept until we get there. */
  maxFutureMessages: number
  /**
   * Test-only: sign conflicting votes and proposals (the Byzantine validator of the simulation
   * tier). Never read from config or environment: only the test harness sets it
   * (test/helpers/test-daemon.js, through MedledgerNode's test hooks).
   */
  byzantine?: boolean
}
