import { join } from 'node:path'
import type { Config } from '../config/schema.ts'
import { resolvePath } from '../config/load.ts'
import { isMedledgerError } from '../errors.ts'
import { PrivacyErrorCode } from './errors.ts'
import { readKeyMaterial } from '../keys/key-file.ts'
import { readKeyHeader } from '../keys/key-file-edit.ts'
import { promptPassphrase } from '../keys/passphrase-prompt.ts'
import { forgetOpenedKeystores, readPassphrase } from '../keys/keystore.ts'
import { readSubjectSecret, writeSubjectSecret } from './pseudonym.ts'
import { PrivacyService, type PrivacyNode } from './service.ts'

export const SUBJECT_SECRET_FILE = 'subject.secret'

/**
 * Writes, on a validator, the hospital's subject secret (the API role tokens: writeTokenFiles in
 * src/api/tokens.ts). An existing file is kept: a home set up before privacy existed gains it.
 */
export async function writePrivacyFiles (home: string, role: 'validator' | 'observer' | 'member'): Promise<void> {
  if (role === 'validator') await writeSubjectSecret(join(home, SUBJECT_SECRET_FILE)).catch(ignoreExists)
}

function ignoreExists (err: NodeJS.ErrnoException & { code?: string }): void {
  if (err.code === 'EEXIST' || err.code === PrivacyErrorCode.SECRET_EXISTS) return
  throw err
}

export async function loadSubjectSecret (home: string, config: Config): Promise<Uint8Array | undefined> {
  const file = resolvePath(home, config.privacy.subject_secret_file)
  try {
    return await readSubjectSecret(file)
  } catch (err) {
    if (isMedledgerError(err, PrivacyErrorCode.SECRET_MISSING)) return undefined
    throw err
  }
}

/**
 * The passphrase for the node's key file: key_passphrase_file, else MEDLEDGER_KEY_PASSPHRASE
 * (then removed from the environment), else, for a protected key file on a terminal, a prompt.
 */
export async function nodePassphrase (home: string, config: Config): Promise<string | undefined> {
  const p = await readPassphrase(config.key_passphrase_file === '' ? undefined : resolvePath(home, config.key_passphrase_file))
  if (p !== undefined || process.stdin.isTTY !== true) return p
  const file = resolvePath(home, config.key)
  // An unreadable key file is reported, clearly, by the read of the key that follows: no prompt for it.
  const header = await readKeyHeader(file).catch(() => undefined)
  return header === undefined ? undefined : await promptPassphrase(`Passphrase for ${file}: `)
}

/** Starts the privacy service of a started node (after node.start(), before the API). */
export async function startPrivacy (node: PrivacyNode, home: string, config: Config, passphrase: string | undefined): Promise<PrivacyService> {
  const keyFile = resolvePath(home, config.key)
  const material = await readKeyMaterial(keyFile, { passphrase })
  // The node now holds its keys: no decrypted copy of the key file stays in the keystore cache.
  forgetOpenedKeystores()
  return await PrivacyService.open(node, {
    dir: resolvePath(home, config.privacy.dir),
    keyFile,
    passphrase,
    keyFileEncryption: material.encryption,
    retireGraceMs: config.privacy.retire_grace_ms,
    auditWaitMs: config.privacy.audit_wait_ms
  })
}
