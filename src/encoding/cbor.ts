import { encode as cborEncode, decode as cborDecode } from 'cborg'
import { EXIT, MedledgerError, spec, type ErrorTable } from '../errors.ts'
import { bytesEqual } from './bytes.ts'

/**
 * The one canonical encoding: deterministic CBOR (RFC 8949 core deterministic encoding) of
 * positional arrays. Every medledger value is an array of fixed arity, so an unknown field is an
 * arity mismatch. Decoding is strict: indefinite lengths, undefined, NaN/Infinity, floats,
 * duplicate map keys, non-minimal integers, trailing bytes and oversize inputs are refused, and the
 * decoded value must re-encode to exactly the input bytes (the canonical check).
 */
export enum CodecErrorCode {
  MALFORMED = 'CODEC_MALFORMED',
  NOT_CANONICAL = 'CODEC_NOT_CANONICAL',
  OVERSIZE = 'CODEC_OVERSIZE',
  SCHEMA = 'CODEC_SCHEMA'
}

export const CODEC_ERRORS: ErrorTable<CodecErrorCode> = {
  [CodecErrorCode.MALFORMED]: spec(400, EXIT.FAILURE, 'bytes are not well-formed CBOR'),
  [CodecErrorCode.NOT_CANONICAL]: spec(400, EXIT.FAILURE, 'CBOR that is not in its one canonical form'),
  [CodecErrorCode.OVERSIZE]: spec(413, EXIT.FAILURE, 'an encoded value is over its size limit'),
  [CodecErrorCode.SCHEMA]: spec(400, EXIT.FAILURE, 'a value does not fit its schema (arity, type, range)')
}

export class CodecError extends MedledgerError {
  constructor (code: CodecErrorCode, message: string, meta: Record<string, unknown> = {}) {
    super(code, message, meta)
    this.name = 'CodecError'
  }
}

export type Cbor = null | boolean | number | string | Uint8Array | Cbor[]

const DECODE_OPTIONS = {
  strict: true,
  allowIndefinite: false,
  allowUndefined: false,
  allowNaN: false,
  allowInfinity: false,
  allowBigInt: false,
  rejectDuplicateMapKeys: true,
  useMaps: true
}

export function encodeCbor (value: Cbor): Uint8Array {
  return cborEncode(value)
}

/** Bytes of a CBOR head (major type and argument) in the shortest form (RFC 8949 4.2.1). */
export function headSize (n: number): number {
  return n < 24 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : n < 0x100000000 ? 5 : 9
}

/** Writes a CBOR head in the shortest form at `at`; returns the position after it. */
export function writeHead (out: Buffer, at: number, major: number, n: number): number {
  const m = major << 5
  if (n < 24) { out[at] = m | n; return at + 1 }
  if (n < 0x100) { out[at] = m | 24; out[at + 1] = n; return at + 2 }
  if (n < 0x10000) { out[at] = m | 25; out.writeUInt16BE(n, at + 1); return at + 3 }
  if (n < 0x100000000) { out[at] = m | 26; out.writeUInt32BE(n, at + 1); return at + 5 }
  out[at] = m | 27
  out.writeUInt32BE(Math.floor(n / 0x100000000), at + 1)
  out.writeUInt32BE(n >>> 0, at + 5)
  return at + 9
}

/** The head of a CBOR item (array and string lengths: at most 2^32 - 1). */
export function cborHead (major: number, n: number): Uint8Array {
  if (n >= 0x100000000) throw new RangeError('CBOR head argument too large')
  const out = Buffer.alloc(headSize(n))
  writeHead(out, 0, major, n)
  return new Uint8Array(out.buffer, out.byteOffset, out.length)
}

/**
 * The canonical encoding of an array whose items are already encoded: lets a block reuse the
 * exact bytes of batches it received instead of encoding them again.
 */
export function encodeArrayOfEncoded (items: Uint8Array[]): Uint8Array {
  return concatBytes([cborHead(4, items.length), ...items])
}

export function concatBytes (parts: Uint8Array[]): Uint8Array {
  let size = 0
  for (const p of parts) size += p.length
  const out = new Uint8Array(size)
  let at = 0
  for (const p of parts) { out.set(p, at); at += p.length }
  return out
}

/** Strict, canonical decode of at most `maxBytes`; throws CodecError and never anything else. */
export function decodeCbor (bytes: Uint8Array, maxBytes: number): Cbor {
  if (!(bytes instanceof Uint8Array)) throw new CodecError(CodecErrorCode.MALFORMED, 'input is not bytes')
  if (bytes.length > maxBytes) throw new CodecError(CodecErrorCode.OVERSIZE, `${bytes.length} bytes exceeds the limit of ${maxBytes}`, { size: bytes.length, maxBytes })
  let value: unknown
  try {
    value = cborDecode(bytes, DECODE_OPTIONS)
  } catch (err) {
    throw new CodecError(CodecErrorCode.MALFORMED, (err as Error).message)
  }
  assertPlain(value, 0)
  let again: Uint8Array
  try {
    again = cborEncode(value)
  } catch (err) {
    throw new CodecError(CodecErrorCode.MALFORMED, (err as Error).message)
  }
  if (!bytesEqual(again, bytes)) throw new CodecError(CodecErrorCode.NOT_CANONICAL, 'bytes are not the canonical encoding of their value')
  return value as Cbor
}

const MAX_DEPTH = 16

// Only the types the schemas use may appear anywhere: no maps, no floats, no tags.
function assertPlain (v: unknown, depth: number): void {
  if (depth > MAX_DEPTH) throw new CodecError(CodecErrorCode.SCHEMA, 'nesting too deep')
  if (v === null || typeof v === 'boolean' || typeof v === 'string' || v instanceof Uint8Array) return
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) throw new CodecError(CodecErrorCode.SCHEMA, 'numbers must be safe integers')
    return
  }
  if (Array.isArray(v)) {
    for (const x of v) assertPlain(x, depth + 1)
    return
  }
  throw new CodecError(CodecErrorCode.SCHEMA, `unsupported CBOR item (${Object.prototype.toString.call(v)})`)
}

// ---- schema readers: each names the field it reads so errors say what was wrong ----

export function schemaError (what: string, expected: string): CodecError {
  return new CodecError(CodecErrorCode.SCHEMA, `${what}: expected ${expected}`, { field: what })
}

export function readTuple (v: Cbor, arity: number, what: string): Cbor[] {
  if (!Array.isArray(v) || v.length !== arity) throw schemaError(what, `an array of ${arity} items`)
  return v
}

export function readList (v: Cbor, max: number, what: string): Cbor[] {
  if (!Array.isArray(v)) throw schemaError(what, 'an array')
  if (v.length > max) throw schemaError(what, `at most ${max} items`)
  return v
}

export function readUint (v: Cbor, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw schemaError(what, 'an unsigned integer')
  return v
}

export function readInt (v: Cbor, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw schemaError(what, 'an integer')
  return v
}

export function readBytes (v: Cbor, what: string, opts: { length?: number, max?: number } = {}): Uint8Array {
  if (!(v instanceof Uint8Array)) throw schemaError(what, 'a byte string')
  if (opts.length !== undefined && v.length !== opts.length) throw schemaError(what, `${opts.length} bytes`)
  if (opts.max !== undefined && v.length > opts.max) throw schemaError(what, `at most ${opts.max} bytes`)
  return v
}

export function readNullableBytes (v: Cbor, what: string, length: number): Uint8Array | null {
  return v === null ? null : readBytes(v, what, { length })
}

export function readText (v: Cbor, what: string, max: number): string {
  if (typeof v !== 'string') throw schemaError(what, 'a text string')
  if (v.length > max) throw schemaError(what, `at most ${max} characters`)
  return v
}
