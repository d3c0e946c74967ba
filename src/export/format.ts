import { open, type FileHandle } from 'node:fs/promises'
import { fromHex, toHex } from '../encoding/bytes.ts'
import { decodeFinalized, encodeFinalized } from '../chain/codec.ts'
import { LIMITS } from '../chain/limits.ts'
import type { FinalizedBlock } from '../chain/types.ts'
import { MedledgerError } from '../errors.ts'
import { ExportErrorCode } from './errors.ts'

/**
 * The export file (docs/export-format.md): one ASCII header line naming the format version, the
 * chain id, the genesis hash and the height range, then one frame per block in height order: a
 * 4-byte big-endian length and the canonical CBOR encoding of the finalized block
 * `[block, certificate]` (docs/protocol.md 3.4). Nothing follows the last frame.
 */
export const EXPORT_MAGIC = 'medledger-export'
export const EXPORT_VERSION = 1
/** The header line is short: magic, version, a 64-character chain id, 64 hex, two heights. */
export const MAX_HEADER_BYTES = 256
/** A frame holds one block (at most blockBytes) and one certificate, plus the array head. */
export const MAX_FRAME_BYTES = LIMITS.blockBytes + LIMITS.validators * 128 + 128 + 16

export interface ExportHeader {
  version: number
  chainId: string
  genesisHash: Uint8Array
  from: number
  to: number
}

const UINT = '(0|[1-9][0-9]{0,15})'
const HEADER_RE = new RegExp(`^${EXPORT_MAGIC} ${UINT} chain=([a-zA-Z0-9._-]{1,64}) genesis=([0-9a-f]{64}) from=${UINT} to=${UINT}$`)

export function encodeExportHeader (h: Omit<ExportHeader, 'version'>): Uint8Array {
  return new TextEncoder().encode(`${EXPORT_MAGIC} ${EXPORT_VERSION} chain=${h.chainId} genesis=${toHex(h.genesisHash)} from=${h.from} to=${h.to}\n`)
}

/** Parses the header line (without its newline). Throws EXPORT_FORMAT / EXPORT_VERSION. */
export function parseExportHeader (line: string): ExportHeader {
  if (!line.startsWith(EXPORT_MAGIC + ' ')) throw formatError('this is not a medledger export file (its first line does not start with "medledger-export")')
  const m = HEADER_RE.exec(line)
  if (m === null) throw formatError(`the export header line is malformed: "${line.slice(0, 200)}"`)
  const version = Number(m[1])
  if (version !== EXPORT_VERSION) throw new MedledgerError(ExportErrorCode.VERSION, `the export file has format version ${version}; this medledger reads version ${EXPORT_VERSION}`)
  const from = Number(m[4])
  const to = Number(m[5])
  if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to) || from < 1 || to < from) throw formatError(`the export header names an impossible range from=${m[4]} to=${m[5]}`)
  return { version, chainId: m[2], genesisHash: fromHex(m[3], 32), from, to }
}

/** One frame's bytes: the length prefix and the canonical finalized-block encoding. */
export function encodeFrame (fb: FinalizedBlock): Uint8Array {
  const body = encodeFinalized(fb)
  const out = new Uint8Array(4 + body.length)
  new DataView(out.buffer).setUint32(0, body.length)
  out.set(body, 4)
  return out
}

export class ExportFormatError extends MedledgerError {
  constructor (message: string, readonly height?: number) {
    super(ExportErrorCode.FORMAT, message, height === undefined ? {} : { height })
    this.name = 'ExportFormatError'
  }
}

function formatError (message: string, height?: number): ExportFormatError {
  return new ExportFormatError(message, height)
}

/** A frame as read: its height (from + index), the decoded finalized block and its raw bytes. */
export interface ExportFrame { height: number, fb: FinalizedBlock, bytes: Uint8Array }

const CHUNK = 1 << 20

/**
 * Reads an export file front to back with a bounded buffer. `frames()` yields every block of the
 * header's range in order and throws ExportFormatError, naming the height, at the first frame
 * that is missing, cut short, oversized, not canonical CBOR, or for another height, and when
 * bytes follow the last frame.
 */
export class ExportReader {
  readonly header: ExportHeader
  readonly file: string
  readonly #fh: FileHandle
  #buf: Buffer
  #pos: number
  #eof = false

  private constructor (file: string, fh: FileHandle, header: ExportHeader, rest: Buffer, pos: number) {
    this.file = file
    this.#fh = fh
    this.header = header
    this.#buf = rest
    this.#pos = pos
  }

  static async open (file: string): Promise<ExportReader> {
    let fh: FileHandle
    try {
      fh = await open(file, 'r')
    } catch (err) {
      throw new MedledgerError(ExportErrorCode.UNREADABLE, `cannot open ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
    }
    try {
      const first = Buffer.alloc(CHUNK)
      const { bytesRead } = await fh.read(first, 0, CHUNK, 0)
      const got = first.subarray(0, bytesRead)
      const nl = got.subarray(0, MAX_HEADER_BYTES).indexOf(0x0a)
      if (nl < 0) {
        if (!got.subarray(0, EXPORT_MAGIC.length).equals(Buffer.from(EXPORT_MAGIC))) throw formatError('this is not a medledger export file (its first line does not start with "medledger-export")')
        throw formatError(`the export header line is missing or longer than ${MAX_HEADER_BYTES} bytes`)
      }
      const line = got.subarray(0, nl)
      if (line.some(b => b < 0x20 || b > 0x7e)) throw formatError('the export header line holds bytes that are not printable ASCII')
      const header = parseExportHeader(line.toString('ascii'))
      return new ExportReader(file, fh, header, Buffer.from(got.subarray(nl + 1)), bytesRead)
    } catch (err) {
      await fh.close()
      throw err
    }
  }

  async close (): Promise<void> {
    await this.#fh.close()
  }

  /** Ensures `n` bytes are buffered; false when the file ends first. */
  async #need (n: number): Promise<boolean> {
    while (this.#buf.length < n && !this.#eof) {
      const chunk = Buffer.alloc(Math.max(CHUNK, n - this.#buf.length))
      const { bytesRead } = await this.#fh.read(chunk, 0, chunk.length, this.#pos)
      if (bytesRead === 0) { this.#eof = true; break }
      this.#pos += bytesRead
      this.#buf = this.#buf.length === 0 ? chunk.subarray(0, bytesRead) : Buffer.concat([this.#buf, chunk.subarray(0, bytesRead)])
    }
    return this.#buf.length >= n
  }

  #take (n: number): Uint8Array {
    const out = this.#buf.subarray(0, n)
    this.#buf = this.#buf.subarray(n)
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength)
  }

  async * frames (): AsyncGenerator<ExportFrame> {
    const { from, to } = this.header
    for (let height = from; height <= to; height++) {
      if (!(await this.#need(4))) {
        throw formatError(this.#buf.length === 0
          ? `the file ends after block ${height - 1}, but its header promises blocks up to ${to} (a cut-short copy?)`
          : `the file ends inside the length of block ${height} (a cut-short copy?)`, height)
      }
      const len = this.#buf.readUInt32BE(0)
      if (len === 0 || len > MAX_FRAME_BYTES) throw formatError(`block ${height}: a frame of ${len} bytes is outside 1..${MAX_FRAME_BYTES}`, height)
      this.#take(4)
      if (!(await this.#need(len))) throw formatError(`the file ends inside block ${height} (a cut-short copy?)`, height)
      // Copy: the frame outlives the read buffer it was sliced from.
      const bytes = new Uint8Array(this.#take(len))
      let fb: FinalizedBlock
      try {
        fb = decodeFinalized(bytes, MAX_FRAME_BYTES)
      } catch (err) {
        throw formatError(`block ${height} does not decode: ${(err as Error).message}`, height)
      }
      if (fb.block.header.height !== height) throw formatError(`the frame for block ${height} holds block ${fb.block.header.height}`, height)
      yield { height, fb, bytes }
    }
    if (await this.#need(1)) throw formatError(`bytes follow the last block (${to}) named by the header`, to + 1)
  }
}
