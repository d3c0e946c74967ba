import { CodecError, CodecErrorCode, schemaError } from './cbor.ts'

/**
 * A strict, schema-driven reader of canonical CBOR: the hot-path decoder for chain messages.
 * The caller says what it expects next (a tuple of n items, an unsigned integer, a byte string
 * ...) and the reader refuses anything else, so no intermediate value tree is built and the
 * canonical check is made while reading instead of by re-encoding:
 * - every head uses the shortest form (RFC 8949 4.2.1) and a definite length;
 * - integers are safe integers; text is valid UTF-8 (refused otherwise, never replaced);
 * - only the items a schema names appear (no maps, tags, floats or undefined), and nothing
 *   follows the top-level item.
 * Those rules leave exactly one encoding per value, the one `encodeCbor` writes, so a byte range
 * the reader accepted can be hashed or stored as the value's encoding. Byte strings are returned
 * as views into the input, which must therefore not be changed afterwards.
 */
export class CborReader {
  pos = 0
  private major = 0

  readonly input: Uint8Array

  constructor (bytes: Uint8Array, maxBytes: number) {
    if (!(bytes instanceof Uint8Array)) throw new CodecError(CodecErrorCode.MALFORMED, 'input is not bytes')
    if (bytes.length > maxBytes) throw new CodecError(CodecErrorCode.OVERSIZE, `${bytes.length} bytes exceeds the limit of ${maxBytes}`, { size: bytes.length, maxBytes })
    // Views of a Buffer would be Buffers: values are plain Uint8Arrays whatever the input was.
    this.input = Buffer.isBuffer(bytes) ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) : bytes
  }

  /** Reads a head; sets `major` and returns the argument. */
  private head (): number {
    const b = this.input
    if (this.pos >= b.length) throw malformed('unexpected end of input')
    const first = b[this.pos++]
    this.major = first >> 5
    const info = first & 0x1f
    if (info < 24) return info
    let n: number
    switch (info) {
      case 24: this.need(1); n = b[this.pos]; this.pos += 1; if (n < 24) throw nonMinimal(); return n
      case 25: this.need(2); n = (b[this.pos] << 8) | b[this.pos + 1]; this.pos += 2; if (n < 0x100) throw nonMinimal(); return n
      case 26: this.need(4); n = ((b[this.pos] << 24) >>> 0) + ((b[this.pos + 1] << 16) | (b[this.pos + 2] << 8) | b[this.pos + 3]); this.pos += 4; if (n < 0x10000) throw nonMinimal(); return n
      case 27: {
        this.need(8)
        const hi = ((b[this.pos] << 24) >>> 0) + ((b[this.pos + 1] << 16) | (b[this.pos + 2] << 8) | b[this.pos + 3])
        const lo = ((b[this.pos + 4] << 24) >>> 0) + ((b[this.pos + 5] << 16) | (b[this.pos + 6] << 8) | b[this.pos + 7])
        this.pos += 8
        if (hi === 0) throw nonMinimal()
        if (hi > 0x1fffff) throw malformed('integer beyond 2^53 - 1')
        return hi * 0x100000000 + lo
      }
      default: throw malformed(info === 31 ? 'indefinite lengths are not allowed' : `reserved additional information ${info}`)
    }
  }

  private need (n: number): void {
    if (this.pos + n > this.input.length) throw malformed('unexpected end of input')
  }

  private expect (major: number, what: string, expected: string): number {
    const start = this.pos
    const n = this.head()
    if (this.major !== major) { this.pos = start; throw schemaError(what, expected) }
    return n
  }

  /** An array of exactly `arity` items. */
  tuple (arity: number, what: string): void {
    const start = this.pos
    if (this.expect(4, what, `an array of ${arity} items`) !== arity) { this.pos = start; throw schemaError(what, `an array of ${arity} items`) }
  }

  /** An array of at most `max` items; returns its length. */
  list (max: number, what: string): number {
    const n = this.expect(4, what, 'an array')
    if (n > max) throw schemaError(what, `at most ${max} items`)
    return n
  }

  uint (what: string): number {
    return this.expect(0, what, 'an unsigned integer')
  }

  int (what: string): number {
    const start = this.pos
    const n = this.head()
    if (this.major === 0) return n
    if (this.major === 1) {
      if (n >= Number.MAX_SAFE_INTEGER) throw malformed('integer beyond -(2^53 - 1)')
      return -1 - n
    }
    this.pos = start
    throw schemaError(what, 'an integer')
  }

  bytes (what: string, opts: { length?: number, max?: number } = {}): Uint8Array {
    const n = this.expect(2, what, 'a byte string')
    if (opts.length !== undefined && n !== opts.length) throw schemaError(what, `${opts.length} bytes`)
    if (opts.max !== undefined && n > opts.max) throw schemaError(what, `at most ${opts.max} bytes`)
    this.need(n)
    const v = this.input.subarray(this.pos, this.pos + n)
    this.pos += n
    return v
  }

  text (what: string, maxChars: number): string {
    const n = this.expect(3, what, 'a text string')
    this.need(n)
    const raw = this.input.subarray(this.pos, this.pos + n)
    this.pos += n
    let s: string
    if (isAscii(raw)) {
      // Record types, content types and chain ids are ASCII: no decoder call for them.
      s = String.fromCharCode.apply(null, raw as unknown as number[])
    } else {
      try {
        s = UTF8.decode(raw)
      } catch {
        throw new CodecError(CodecErrorCode.NOT_CANONICAL, `${what}: text is not valid UTF-8`, { field: what })
      }
    }
    if (s.length > maxChars) throw schemaError(what, `at most ${maxChars} characters`)
    return s
  }

  /** Consumes a null (0xf6) if one is next. */
  null (): boolean {
    if (this.input[this.pos] !== 0xf6) return false
    this.pos++
    return true
  }

  nullableBytes (what: string, length: number): Uint8Array | null {
    return this.null() ? null : this.bytes(what, { length })
  }

  /** True when the next `known.length` bytes are exactly `known` (which must be one whole item). */
  startsWith (known: Uint8Array): boolean {
    const b = this.input
    if (this.pos + known.length > b.length) return false
    return Buffer.compare(known, b.subarray(this.pos, this.pos + known.length)) === 0
  }

  skipBytes (n: number): void {
    this.need(n)
    this.pos += n
  }

  /** The input from `start` to the current position (a view). */
  span (start: number): Uint8Array {
    return this.input.subarray(start, this.pos)
  }

  /** Nothing may follow the top-level item. */
  end (): void {
    if (this.pos !== this.input.length) throw malformed(`${this.input.length - this.pos} bytes after the end of the item`)
  }
}

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

function isAscii (b: Uint8Array): boolean {
  if (b.length > 256) return false
  for (let i = 0; i < b.length; i++) if (b[i] > 0x7f) return false
  return true
}

function malformed (why: string): CodecError {
  return new CodecError(CodecErrorCode.MALFORMED, why)
}

function nonMinimal (): CodecError {
  return new CodecError(CodecErrorCode.MALFORMED, 'integer or length not in its shortest form')
}

/** Decodes all of `bytes` with `read`, refusing trailing bytes. */
export function readAll<T> (bytes: Uint8Array, maxBytes: number, read: (r: CborReader) => T): T {
  const r = new CborReader(bytes, maxBytes)
  const v = read(r)
  r.end()
  return v
}
