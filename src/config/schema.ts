import { z } from 'zod'

/**
 * The node's configuration: one TOML file per node (config.toml in the home directory).
 * Precedence: command-line flags > MEDLEDGER_* environment variables > the file > these defaults.
 * Paths are relative to the home directory.
 */
export const ConfigSchema = z.object({
  role: z.enum(['validator', 'observer']).default('validator'),
  genesis: z.string().default('genesis.json'),
  key: z.string().default('node.key'),
  data_dir: z.string().default('data'),
  p2p: z.object({
    listen: z.array(z.string()).default(['/ip4/127.0.0.1/tcp/26656']),
    announce: z.array(z.string()).default([]),
    bootstrap: z.array(z.string()).default([]),
    /** Optional libp2p pre-shared network key file (pnet), a second fence beside the allowlist. */
    psk_file: z.string().default('')
  }).strict().default({} as never),
  api: z.object({
    listen: z.string().default('127.0.0.1:8080'),
    /** File holding the bearer token that authorises POST /v1/records. */
    token_file: z.string().default('api.token'),
    max_body_bytes: z.number().int().positive().default(8 * 1024 * 1024)
  }).strict().default({} as never),
  consensus: z.object({
    propose_timeout_ms: z.number().int().positive().default(3000),
    prevote_timeout_ms: z.number().int().positive().default(1000),
    precommit_timeout_ms: z.number().int().positive().default(1000),
    timeout_delta_ms: z.number().int().nonnegative().default(500),
    rebroadcast_ms: z.number().int().positive().default(2000),
    max_block_bytes: z.number().int().positive().default(3 * 1024 * 1024),
    max_batches_per_block: z.number().int().positive().default(2000),
    /** Test-only: this validator signs conflicting messages (the simulation's Byzantine node). */
    byzantine: z.boolean().default(false)
  }).strict().default({} as never),
  mempool: z.object({
    max_bytes: z.number().int().positive().default(256 * 1024 * 1024),
    max_batches: z.number().int().positive().default(50_000)
  }).strict().default({} as never),
  log: z.object({
    level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info')
  }).strict().default({} as never)
}).strict()

export type Config = z.infer<typeof ConfigSchema>
