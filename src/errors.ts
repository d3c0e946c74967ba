/**
 * Typed errors shared by every domain. Each error carries a machine-readable code (a prefixed
 * string such as `CODEC_MALFORMED`), free metadata, and for data that arrived from a peer an
 * action: IGNORE (stale, duplicate: drop silently) or REJECT (invalid: drop and penalise the peer).
 * Codes double as metric labels.
 *
 * Each domain declares its codes in its own errors file, every code with the HTTP status the API
 * answers it with and the exit code the CLI ends with (an `ErrorTable`); `src/error-registry.ts`
 * gathers the tables, and is the one place that maps an error to a status or an exit code
 * (docs/errors.md lists them all).
 */
export enum PeerAction {
  IGNORE = 'IGNORE',
  REJECT = 'REJECT'
}

/**
 * Exit codes: 0 ok, 1 failure the operator must look at, 2 bad usage or input, 3 the daemon
 * stopped on a storage fault (disk or database: docs/storage.md), 4 the daemon stopped on an
 * internal error (an unhandled rejection or exception: a bug to report, with the log).
 */
export const EXIT = { OK: 0, FAILURE: 1, USAGE: 2, STORAGE_FAULT: 3, INTERNAL: 4 } as const
export type ExitCode = typeof EXIT[keyof typeof EXIT]

/** What a code means to a caller: the HTTP status the API answers with, the CLI's exit code, one line for docs/errors.md. */
export interface ErrorSpec {
  status: number
  exit: ExitCode
  meaning: string
}

/** A domain's codes, each with its spec; written beside the codes so they cannot drift apart. */
export type ErrorTable<C extends string> = Readonly<Record<C, ErrorSpec>>

/** Shorthand for a table row. */
export function spec (status: number, exit: ExitCode, meaning: string): ErrorSpec {
  return { status, exit, meaning }
}

export class MedledgerError extends Error {
  readonly code: string
  readonly meta: Record<string, unknown>
  readonly action: PeerAction

  constructor (code: string, message: string, meta: Record<string, unknown> = {}, action = PeerAction.REJECT) {
    super(`${code}: ${message}`)
    this.name = 'MedledgerError'
    this.code = code
    this.meta = meta
    this.action = action
  }
}

export function isMedledgerError (err: unknown, code?: string): err is MedledgerError {
  return err instanceof MedledgerError && (code === undefined || err.code === code)
}
