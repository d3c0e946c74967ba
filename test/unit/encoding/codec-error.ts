import type { ExecutionContext } from 'ava'
import { CodecError, CodecErrorCode } from '../../../src/encoding/cbor.ts'

/**
 * Shared assertions for decoders: they throw CodecError with one of its codes, and never any
 * other exception (a TypeError or RangeError escaping a decoder would crash a peer's handler).
 */

const CODES = new Set<string>(Object.values(CodecErrorCode))

/** Asserts `fn` throws a CodecError with exactly `code`. */
export function throwsCodec (t: ExecutionContext, fn: () => unknown, code: CodecErrorCode, message?: string): void {
  const err = t.throws(fn, { instanceOf: CodecError }, message)
  if (err !== undefined) t.is((err as CodecError).code, code, message)
}

/**
 * Runs a decoder on untrusted bytes. Returns the value, or undefined when it threw a CodecError
 * with a known code; rethrows anything else so the property fails with the real exception.
 */
export function decodeOrCodecError<T> (decode: (b: Uint8Array) => T, bytes: Uint8Array): T | undefined {
  try {
    return decode(bytes)
  } catch (err) {
    if (err instanceof CodecError && CODES.has(err.code)) return undefined
    throw err
  }
}
