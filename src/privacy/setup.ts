import { randomBytes, timingSafeEqual } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Config } from '../config/schema.ts'
import { resolvePath } from '../config/load.ts'
import { MedledgerError } from '../errors.ts'
import { readKeyMaterial } from '../node/key-file.ts'
import { readSecretFile } from '../node/secret-file.ts'
import { readKeyHeader } from './key-file-edit.ts'
import { promptPassphrase } from './passphrase-prompt.ts'
import { forgetOpenedKeystores, readPassphrase } from './keystore.ts'
import { readSubjectSecret, writeSubjectSecret } from './pseudonym.ts'
import { PrivacyService, type PrivacyNode } from './service.ts'

/** The default file names `init` and the devnet create beside api.token (the submit token). */
export const READ_TOKEN_FILE = 'api.read.token'
export const PLAINTEXT_TOKEN_FILE = 'api.plaintext.token'
export const SUBJECT_SECRET_FILE = 'subject.secret'

export function newToken (): string {
  return randomBytes(24).toString('hex')
}

/**
 * Writes the read-metadata and read-plaintext tokens (0600) and, on a validator, the hospital's
 * subject secret. Existing files are kept: a home set up before privacy existed gains them.
 */
export async function writePrivacyFiles (home: string, role: 'validator' | 'observer', tokens: { read?: string, plaintext?: string } = {}): Promise<{ read: string, plaintext: string }> {
  const out = { read: tokens.read ?? newToken(), plaintext: tokens.plaintext ?? newToken() }
  await writeFile(join(home, READ_TOKEN_FILE), out.read + '\n', { mode: 0o600, flag: 'wx' }).catch(ignoreExists)
  await writeFile(join(home, PLAINTEXT_TOKEN_FILE), out.plaintext + '\n', { mode: 0o600, flag: 'wx' }).catch(ignoreExists)
  if (role === 'validator') await writeSubjectSecret(join(home, SUBJECT_SECRET_FILE)).catch(ignoreExists)
  return out
}

function ignoreExists (err: NodeJS.ErrnoException & { code?: string }): void {
  if (err.code === 'EEXIST' || err.code === 'PRIVACY_SECRET_EXISTS') return
  throw err
}

/** A role's bearer token (first line, trimmed); refused when others can read the file. */
export async function readToken (file: string, required = false): Promise<string | undefined> {
  const bytes = await readSecretFile(file, 'the API token file', { permissions: 'CONFIG_TOKEN_PERMISSIONS', ...(required ? { missing: 'CONFIG_INVALID' } : {}) })
  const t = bytes?.toString('utf8').trim()
  return t === undefined || t === '' ? undefined : t
}

/** Bearer tokens of the three API roles; a role whose token file is absent is simply not offered. */
export class ApiTokens {
  constructor (readonly submit: string, readonly read: string | undefined, readonly plaintext: string | undefined) {}

  static async load (home: string, config: Config, submit: string): Promise<ApiTokens> {
    const read = await readToken(resolvePath(home, config.api.read_token_file))
    const plaintext = await readToken(resolvePath(home, config.api.plaintext_token_file))
    if (config.api.require_read_token && read === undefined) throw new MedledgerError('CONFIG_INVALID', `api.require_read_token is set but ${resolvePath(home, config.api.read_token_file)} is missing`)
    return new ApiTokens(submit, read, plaintext)
  }

  /** Whether the Authorization header carries the token of one of the roles. */
  allows (header: string | undefined, roles: Array<'submit' | 'read' | 'plaintext'>): boolean {
    const h = header ?? ''
    const given = Buffer.from(h.startsWith('Bearer ') ? h.slice(7) : '')
    let ok = false
    for (const role of roles) {
      const t = this[role]
      if (t === undefined) continue
      const want = Buffer.from(t)
      // Compare against every role's token (no early exit) so timing says nothing about which matched.
      if (given.length === want.length && timingSafeEqual(given, want)) ok = true
    }
    return ok
  }
}

export async function loadSubjectSecret (home: string, config: Config): Promise<Uint8Array | undefined> {
  const file = resolvePath(home, config.privacy.subject_secret_file)
  try {
    return await readSubjectSecret(file)
  } catch (err) {
    if ((err as MedledgerError).code === 'PRIVACY_SECRET_MISSING') return undefined
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
