import { API_ERRORS, PATIENT_ERRORS } from './api/errors.ts'
import { AUDIT_ERRORS } from './audit/errors.ts'
import { CHAIN_ERRORS, NOT_FOUND_ERRORS } from './chain/errors.ts'
import { CONFIG_ERRORS } from './config/errors.ts'
import { CONSENSUS_ERRORS } from './consensus/state-machine-types.ts'
import { TIMEOUT_ERRORS } from './consensus/timeouts.ts'
import { CODEC_ERRORS } from './encoding/cbor.ts'
import { EXIT, isMedledgerError, type ErrorSpec, type ExitCode } from './errors.ts'
import { EXPORT_ERRORS } from './export/errors.ts'
import { KEY_ERRORS } from './keys/errors.ts'
import { LIGHT_ERRORS } from './light/errors.ts'
import { MEMPOOL_ERRORS } from './mempool/errors.ts'
import { NETWORK_ERRORS } from './network/errors.ts'
import { NODE_ERRORS } from './node/errors.ts'
import { PRIVACY_ERRORS } from './privacy/errors.ts'
import { STORAGE_ERRORS } from './storage/errors.ts'

/**
 * The one place that maps an error to the HTTP status the API answers with and the exit code the
 * CLI ends with. Every domain's table is listed here once; a code belongs to exactly one table
 * (test/unit/error-registry.test.ts checks it, and that docs/errors.md is this list).
 */
export interface ErrorDomain {
  domain: string
  /** Where the codes and their table are declared. */
  source: string
  codes: Readonly<Record<string, ErrorSpec>>
}

export const ERROR_DOMAINS: readonly ErrorDomain[] = [
  { domain: 'api', source: 'src/api/errors.ts', codes: API_ERRORS },
  { domain: 'patient', source: 'src/api/errors.ts', codes: PATIENT_ERRORS },
  { domain: 'lookup', source: 'src/chain/errors.ts', codes: NOT_FOUND_ERRORS },
  { domain: 'node', source: 'src/node/errors.ts', codes: NODE_ERRORS },
  { domain: 'mempool', source: 'src/mempool/errors.ts', codes: MEMPOOL_ERRORS },
  { domain: 'chain', source: 'src/chain/errors.ts', codes: CHAIN_ERRORS },
  { domain: 'codec', source: 'src/encoding/cbor.ts', codes: CODEC_ERRORS },
  { domain: 'privacy', source: 'src/privacy/errors.ts', codes: PRIVACY_ERRORS },
  { domain: 'storage', source: 'src/storage/errors.ts', codes: STORAGE_ERRORS },
  { domain: 'network', source: 'src/network/errors.ts', codes: NETWORK_ERRORS },
  { domain: 'consensus', source: 'src/consensus/state-machine-types.ts', codes: CONSENSUS_ERRORS },
  { domain: 'consensus', source: 'src/consensus/timeouts.ts', codes: TIMEOUT_ERRORS },
  { domain: 'keys', source: 'src/keys/errors.ts', codes: KEY_ERRORS },
  { domain: 'config', source: 'src/config/errors.ts', codes: CONFIG_ERRORS },
  { domain: 'export', source: 'src/export/errors.ts', codes: EXPORT_ERRORS },
  { domain: 'light', source: 'src/light/errors.ts', codes: LIGHT_ERRORS },
  { domain: 'audit', source: 'src/audit/errors.ts', codes: AUDIT_ERRORS }
]

const BY_CODE = new Map<string, ErrorSpec>()
for (const d of ERROR_DOMAINS) {
  for (const [code, s] of Object.entries(d.codes)) {
    if (BY_CODE.has(code)) throw new Error(`error code ${code} is registered twice (second time in ${d.source})`)
    BY_CODE.set(code, s)
  }
}

/** The registered spec of a code, or undefined for a code no table holds (one a remote API sent, say). */
export function errorSpec (code: string): ErrorSpec | undefined {
  return BY_CODE.get(code)
}

/** Every registered code, in table order. */
export function registeredCodes (): string[] {
  return [...BY_CODE.keys()]
}

/**
 * The HTTP status for an error: a registered code's status; 500 for anything else (an
 * unregistered code is a bug, and so is an error without a code).
 */
export function httpStatusOf (err: unknown): number {
  if (!isMedledgerError(err)) return 500
  return BY_CODE.get(err.code)?.status ?? 500
}

/** The CLI's exit code for an error: a registered code's exit code; 1 for anything else. */
export function exitCodeOf (err: unknown): ExitCode {
  if (!isMedledgerError(err)) return EXIT.FAILURE
  return BY_CODE.get(err.code)?.exit ?? EXIT.FAILURE
}

/** The markers around the generated table in docs/errors.md. */
export const ERROR_TABLE_BEGIN = '<!-- error-table:begin (generated: node --import tsx scripts/error-docs.ts) -->'
export const ERROR_TABLE_END = '<!-- error-table:end -->'

/** docs/errors.md's table of codes, generated from the registry (the unit test compares them). */
export function errorTableMarkdown (): string {
  const rows = ['| code | HTTP | exit | domain | meaning |', '|---|---|---|---|---|']
  for (const d of ERROR_DOMAINS) {
    for (const [code, s] of Object.entries(d.codes)) rows.push(`| \`${code}\` | ${s.status} | ${s.exit} | ${d.domain} | ${s.meaning.replace(/\|/g, '\\|')} |`)
  }
  return rows.join('\n') + '\n'
}
