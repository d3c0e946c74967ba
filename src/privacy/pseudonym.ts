import { createHmac, randomBytes } from 'node:crypto'
import { readFile, stat, writeFile } from 'node:fs/promises'
import { fromHex, toHex } from '../encoding/bytes.ts'
import { MedledgerError } from '../errors.ts'
import { PrivacyErrorCode } from './errors.ts'

/**
 * Pseudonymous subjects: HMAC-SHA256(hospital secret, domain || 0x00 || patient identifier).
 * Without the secret nobody can test a guessed identifier (national ID numbers are guessable; a
 * plain hash of one is not a pseudonym). docs/privacy.md, "Who can link what".
 */
export const SUBJECT_DOMAIN = 'medledger/subject/v1'
export const SUBJECT_SECRET_BYTES = 32
const MIN_SECRET_BYTES = 16

/** Unicode NFC and no surrounding spaces, so the same identifier typed twice gives one subject. */
export function normalizePatientId (id: string): string {
  return id.normalize('NFC').trim()
}

export function subjectPseudonym (secret: Uint8Array, patientId: string): Uint8Array {
  if (secret.length < MIN_SECRET_BYTES) throw new MedledgerError(PrivacyErrorCode.SECRET_INVALID, `a subject secret has at least ${MIN_SECRET_BYTES} bytes`)
  const id = normalizePatientId(patientId)
  if (id.length === 0) throw new MedledgerError('USAGE', 'the patient identifier is empty')
  const h = createHmac('sha256', secret).update(SUBJECT_DOMAIN).update(new Uint8Array([0])).update(id, 'utf8').digest()
  return new Uint8Array(h.buffer, h.byteOffset, h.byteLength)
}

export function generateSubjectSecret (): Uint8Array {
  return new Uint8Array(randomBytes(SUBJECT_SECRET_BYTES))
}

/** Writes a new secret as hex, mode 0600; refuses to overwrite (a new secret re-keys every pseudonym). */
export async function writeSubjectSecret (file: string, secret = generateSubjectSecret()): Promise<void> {
  try {
    await writeFile(file, toHex(secret) + '\n', { mode: 0o600, flag: 'wx' })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new MedledgerError(PrivacyErrorCode.SECRET_EXISTS, `${file} already exists; a new subject secret would give every patient a new pseudonym`)
    throw new MedledgerError(PrivacyErrorCode.SECRET_WRITE, `cannot write ${file}: ${(err as Error).message}`)
  }
}

export async function readSubjectSecret (file: string): Promise<Uint8Array> {
  let text: string
  try {
    const s = await stat(file)
    if ((s.mode & 0o077) !== 0) throw new MedledgerError(PrivacyErrorCode.SECRET_PERMISSIONS, `${file} can be read by other users (mode ${(s.mode & 0o777).toString(8)}); run \`chmod 600 ${file}\``)
    text = (await readFile(file, 'utf8')).trim()
  } catch (err) {
    if (err instanceof MedledgerError) throw err
    throw new MedledgerError(PrivacyErrorCode.SECRET_MISSING, `cannot read the subject secret ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
  let secret: Uint8Array
  try {
    secret = fromHex(text)
  } catch {
    throw new MedledgerError(PrivacyErrorCode.SECRET_INVALID, `${file} must hold the secret as hex`)
  }
  if (secret.length < MIN_SECRET_BYTES) throw new MedledgerError(PrivacyErrorCode.SECRET_INVALID, `${file} holds ${secret.length} bytes; a subject secret has at least ${MIN_SECRET_BYTES}`)
  return secret
}
