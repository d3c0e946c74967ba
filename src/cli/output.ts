import { exitCodeOf } from '../error-registry.ts'
import { isMedledgerError } from '../errors.ts'

/** The exit codes (src/errors.ts); each error code's is in the error registry (docs/errors.md). */
export { EXIT } from '../errors.ts'

export function printJson (v: unknown): void {
  process.stdout.write(JSON.stringify(v, null, 2) + '\n')
}

/** Prints one clear line for a known error (no stack trace) and exits with its registered exit code. */
export function fail (err: unknown): never {
  if (isMedledgerError(err)) process.stderr.write(`medledger: ${err.message}\n`)
  else process.stderr.write(`medledger: ${(err as Error)?.stack ?? String(err)}\n`)
  process.exit(exitCodeOf(err))
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
