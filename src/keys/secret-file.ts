import { readFile, stat } from 'node:fs/promises'
import { MedledgerError } from '../errors.ts'
import { ConfigErrorCode } from '../config/errors.ts'

/**
 * Reads a file that holds a secret (key file, API token, passphrase, pnet swarm key): refused
 * when its group or others have any access, with the command that fixes it (docs/privacy.md:
 * "key files, token files and secrets are 0600 and refused when others can read them").
 * `missing` is the error code for a file that cannot be read; undefined lets ENOENT through as
 * `undefined` for optional files.
 */
export async function readSecretFile (file: string, what: string, codes: { permissions: string, missing?: string }): Promise<Buffer | undefined> {
  let s
  try {
    s = await stat(file)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT' && codes.missing === undefined) return undefined
    throw new MedledgerError(codes.missing ?? ConfigErrorCode.INVALID, `cannot read ${what} ${file}: ${code ?? (err as Error).message}`)
  }
  assertPrivateMode(file, what, s.mode, codes.permissions)
  try {
    return await readFile(file)
  } catch (err) {
    throw new MedledgerError(codes.missing ?? ConfigErrorCode.INVALID, `cannot read ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
}

/** Throws when a secret file's mode lets its group or others read, write or run it. */
export function assertPrivateMode (file: string, what: string, mode: number, code: string): void {
  if ((mode & 0o077) !== 0) throw new MedledgerError(code, `${what} ${file} can be read by other users (mode ${(mode & 0o777).toString(8)}); run \`chmod 600 ${file}\``)
}
