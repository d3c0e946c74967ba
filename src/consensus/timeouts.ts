import { EXIT, MedledgerError, spec, type ErrorTable } from '../errors.ts'

/**
 * Consensus timeouts (Algorithm 1 of Buchman, Kwon, Milosevic 2018, "The latest gossip on BFT
 * consensus"). The paper grows every timeout linearly with the round and resets it at each new
 * height: timeoutX(r) = initTimeoutX + r * timeoutDelta. Linear growth is what lets the honest
 * processes catch up with an unknown message delay after GST; doubling would make a long outage
 * cost hours per round, and a fixed cap lower than the real delay would make rounds storm forever.
 */
export type TimeoutKind = 'propose' | 'prevote' | 'precommit'

export interface TimeoutConfig {
  /** timeoutPropose(0): how long a non-proposer waits for the round's proposal. */
  proposeMs: number
  /** timeoutPrevote(0): wait after 2f+1 prevotes of any value before precommitting nil. */
  prevoteMs: number
  /** timeoutPrecommit(0): wait after 2f+1 precommits of any value before the next round. */
  precommitMs: number
  /** timeoutDelta: added to every timeout per round. */
  deltaMs: number
}

export const DEFAULT_TIMEOUTS: Readonly<TimeoutConfig> = Object.freeze({
  proposeMs: 3000,
  prevoteMs: 1000,
  precommitMs: 1000,
  deltaMs: 500
})

export const TimeoutErrorCode = {
  INVALID_CONFIG: 'CONSENSUS_TIMEOUT_INVALID_CONFIG'
} as const

export const TIMEOUT_ERRORS: ErrorTable<typeof TimeoutErrorCode[keyof typeof TimeoutErrorCode]> = {
  [TimeoutErrorCode.INVALID_CONFIG]: spec(500, EXIT.FAILURE, 'a consensus timeout in the configuration is not a positive number')
}

/** Throws unless every field is a finite number, the bases positive and the delta non-negative. */
export function validateTimeouts (config: TimeoutConfig): TimeoutConfig {
  for (const key of ['proposeMs', 'prevoteMs', 'precommitMs'] as const) {
    const v = config[key]
    if (!Number.isFinite(v) || v <= 0) throw new MedledgerError(TimeoutErrorCode.INVALID_CONFIG, `${key} must be a positive number of milliseconds`, { key, value: v })
  }
  if (!Number.isFinite(config.deltaMs) || config.deltaMs < 0) {
    throw new MedledgerError(TimeoutErrorCode.INVALID_CONFIG, 'deltaMs must be a non-negative number of milliseconds', { key: 'deltaMs', value: config.deltaMs })
  }
  return config
}

/** timeoutX(round) = base + round * delta: linear, reset per height, never capped. */
export function duration (kind: TimeoutKind, round: number, config: TimeoutConfig = DEFAULT_TIMEOUTS): number {
  const base = kind === 'propose' ? config.proposeMs : kind === 'prevote' ? config.prevoteMs : config.precommitMs
  return base + round * config.deltaMs
}
