import { EXIT, spec, type ErrorTable } from '../errors.ts'

/** Key files, keystores and passphrases (src/keys). All are the operator's to fix: exit 2. */
export enum KeyErrorCode {
  MISSING = 'KEY_MISSING',
  INVALID = 'KEY_INVALID',
  EXISTS = 'KEY_EXISTS',
  WRITE = 'KEY_WRITE',
  PERMISSIONS = 'KEY_PERMISSIONS',
  LOCKED = 'KEY_LOCKED',
  PASSPHRASE = 'KEY_PASSPHRASE',
  PASSPHRASE_WEAK = 'KEY_PASSPHRASE_WEAK',
  PROTECTED = 'KEY_PROTECTED',
  NOT_PROTECTED = 'KEY_NOT_PROTECTED'
}

export const KEY_ERRORS: ErrorTable<KeyErrorCode> = {
  [KeyErrorCode.MISSING]: spec(500, EXIT.USAGE, 'the key file cannot be read'),
  [KeyErrorCode.INVALID]: spec(500, EXIT.USAGE, 'the file is not a medledger key file or keystore'),
  [KeyErrorCode.EXISTS]: spec(500, EXIT.USAGE, 'a key file exists already; it is never overwritten'),
  [KeyErrorCode.WRITE]: spec(500, EXIT.USAGE, 'the key file cannot be written'),
  [KeyErrorCode.PERMISSIONS]: spec(500, EXIT.USAGE, 'a key or passphrase file can be read by other users (chmod 600)'),
  [KeyErrorCode.LOCKED]: spec(500, EXIT.USAGE, 'the key file is passphrase-protected and no passphrase was given'),
  [KeyErrorCode.PASSPHRASE]: spec(500, EXIT.USAGE, 'the passphrase is wrong, empty or could not be read'),
  [KeyErrorCode.PASSPHRASE_WEAK]: spec(500, EXIT.USAGE, 'the new passphrase is too weak'),
  [KeyErrorCode.PROTECTED]: spec(500, EXIT.USAGE, 'the key file is protected already'),
  [KeyErrorCode.NOT_PROTECTED]: spec(500, EXIT.USAGE, 'the key file is not protected')
}
