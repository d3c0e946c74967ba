import { randomBytes, timingSafeEqual } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Config } from '../config/schema.ts'
import { resolvePath } from '../config/load.ts'
import { MedledgerError } from '../errors.ts'
import { readSecretFile } from '../keys/secret-file.ts'
import { ConfigErrorCode } from '../config/errors.ts'

/** The roles a bearer token can carry (docs/privacy.md, "API roles"); `public` needs none. */
export const TOKEN_ROLES = ['read', 'submit', 'plaintext', 'admin'] as const
export type TokenRole = typeof TOKEN_ROLES[number]

/** The default file of each role's token, as `init` and the devnet write them (mode 0600). */
export const TOKEN_FILES: Record<TokenRole, string> = {
  submit: 'api.token',
  read: 'api.read.token',
  plaintext: 'api.plaintext.token',
  admin: 'api.admin.token'
}

/** The config key naming each role's token file. */
export const TOKEN_FILE_KEYS = {
  submit: 'token_file',
  read: 'read_token_file',
  plaintext: 'plaintext_token_file',
  admin: 'admin_token_file'
} as const satisfies Record<TokenRole, keyof Config['api']>

export function newToken (): string {
  return randomBytes(24).toString('hex')
}

/**
 * Writes each role's token file (0600) under its default name; a file that exists is kept, so a
 * home set up by an older version gains the new roles' files. `given` fixes some tokens (the devnet).
 */
export async function writeTokenFiles (home: string, given: Partial<Record<TokenRole, string>> = {}): Promise<Record<TokenRole, string>> {
  const out = {} as Record<TokenRole, string>
  for (const role of TOKEN_ROLES) {
    out[role] = given[role] ?? newToken()
    await writeFile(join(home, TOKEN_FILES[role]), out[role] + '\n', { mode: 0o600, flag: 'wx' }).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err
    })
  }
  return out
}

/**
 * A role's bearer token (the file's first line, trimmed), or undefined when an optional file is
 * absent or empty; refused when other users can read the file (CONFIG_TOKEN_PERMISSIONS).
 */
export async function readToken (file: string, required = false): Promise<string | undefined> {
  const bytes = await readSecretFile(file, 'the API token file', { permissions: ConfigErrorCode.TOKEN_PERMISSIONS, ...(required ? { missing: ConfigErrorCode.INVALID } : {}) })
  const t = bytes?.toString('utf8').trim()
  return t === undefined || t === '' ? undefined : t
}

/**
 * The bearer tokens of the API roles. A role whose token file is absent is not offered (its routes
 * answer 503). Each token names exactly one role: two roles with the same token are refused.
 */
export class ApiTokens {
  readonly #tokens: Array<{ role: TokenRole, bytes: Buffer }>

  constructor (tokens: Partial<Record<TokenRole, string>>) {
    this.#tokens = TOKEN_ROLES.flatMap(role => tokens[role] === undefined ? [] : [{ role, bytes: Buffer.from(tokens[role]) }])
    for (const [i, a] of this.#tokens.entries()) {
      const same = this.#tokens.slice(i + 1).find(b => b.bytes.equals(a.bytes))
      if (same !== undefined) throw new MedledgerError(ConfigErrorCode.INVALID, `the ${a.role} and ${same.role} tokens are the same: each role needs its own token file`)
    }
  }

  static async load (home: string, config: Config): Promise<ApiTokens> {
    const found: Partial<Record<TokenRole, string>> = {}
    for (const role of TOKEN_ROLES) {
      const file = resolvePath(home, config.api[TOKEN_FILE_KEYS[role]])
      const t = await readToken(file, role === 'submit')
      if (t !== undefined) found[role] = t
      else if (role === 'submit') throw new MedledgerError(ConfigErrorCode.INVALID, `the API token file ${file} is empty`)
      else if (role === 'read' && config.api.require_read_token) throw new MedledgerError(ConfigErrorCode.INVALID, `api.require_read_token is set but ${file} is missing`)
    }
    return new ApiTokens(found)
  }

  has (role: TokenRole): boolean {
    return this.#tokens.some(t => t.role === role)
  }

  /**
   * The role of the bearer token in an Authorization header, or undefined. Every configured token
   * is compared (in constant time, no early exit), so timing says nothing about which one matched.
   */
  roleOf (header: string | undefined): TokenRole | undefined {
    const h = header ?? ''
    const given = Buffer.from(h.startsWith('Bearer ') ? h.slice(7) : '')
    let found: TokenRole | undefined
    for (const t of this.#tokens) {
      if (given.length === t.bytes.length && timingSafeEqual(given, t.bytes)) found = t.role
    }
    return found
  }
}
