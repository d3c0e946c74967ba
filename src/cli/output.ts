import { isMedledgerError } from '../errors.ts'

/**
 * Exit codes: 0 ok, 1 failure the operator must look at, 2 bad usage or input, 3 the daemon
 * stopped on a storage fault (disk or database: docs/storage.md), 4 the daemon stopped on an
 * internal error (an unhandled rejection or exception: a bug to report, with the log).
 */
export const EXIT = { OK: 0, FAILURE: 1, USAGE: 2, STORAGE_FAULT: 3, INTERNAL: 4 } as const

export function printJson (v: unknown): void {
  process.stdout.write(JSON.stringify(v, null, 2) + '\n')
}

/** Prints one clear line for a known error (no stack trace) and exits non-zero. */
export function fail (err: unknown): never {
  if (isMedledgerError(err)) {
    process.stderr.write(`medledger: ${err.message}\n`)
    process.exit(err.code.startsWith('CONFIG') || err.code.startsWith('GENESIS') || err.code.startsWith('KEY') || err.code === 'USAGE' ? EXIT.USAGE : EXIT.FAILURE)
  }
  process.stderr.write(`medledger: ${(err as Error)?.stack ?? String(err)}\n`)
  process.exit(EXIT.FAILURE)
}

export function action<A extends unknown[]> (fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args)
    } catch (err) {
      fail(err)
    }
  }
}
