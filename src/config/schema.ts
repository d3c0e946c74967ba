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
  /** File whose first line is the key file's passphrase (docs/privacy.md); else MEDLEDGER_KEY_PASSPHRASE. */
  key_passphrase_file: z.string().default(''),
  data_dir: z.string().default('data'),
  p2p: z.object({
    listen: z.array(z.string()).default(['/ip4/127.0.0.1/tcp/26656']),
    announce: z.array(z.string()).default([]),
    bootstrap: z.array(z.string()).default([]),
    /** Optional libp2p pre-shared network key file (pnet), a second fence beside the allowlist. */
    psk_file: z.string().default(''),
    /**
     * Bytes of final blocks per sync response, asked for and served: the run a node catching up
     * decodes, verifies and writes at once. Lower bounds its memory, at some sync speed
     * (docs/benchmarks.md: 16 MiB 653 MB peak, 4 MiB 295 MB and 20% slower).
     */
    sync_response_bytes: z.number().int().min(64 * 1024).max(64 * 1024 * 1024).default(16 * 1024 * 1024)
  }).strict().prefault({}),
  api: z.object({
    listen: z.string().default('127.0.0.1:8080'),
    /** File holding the bearer token that authorises POST /v1/records. */
    token_file: z.string().default('api.token'),
    /** Bearer token for metadata reads when require_read_token is set. */
    read_token_file: z.string().default('api.read.token'),
    /** Bearer token for GET /v1/records/:id/plaintext. */
    plaintext_token_file: z.string().default('api.plaintext.token'),
    /** Gate metadata reads (records, blocks, evidence, events, privacy views) behind the read token. */
    require_read_token: z.boolean().default(false),
    max_body_bytes: z.number().int().positive().default(8 * 1024 * 1024)
  }).strict().prefault({}),
  consensus: z.object({
    propose_timeout_ms: z.number().int().positive().default(3000),
    prevote_timeout_ms: z.number().int().positive().default(1000),
    precommit_timeout_ms: z.number().int().positive().default(1000),
    timeout_delta_ms: z.number().int().nonnegative().default(500),
    rebroadcast_ms: z.number().int().positive().default(2000),
    max_block_bytes: z.number().int().positive().default(3 * 1024 * 1024),
    max_batches_per_block: z.number().int().positive().default(2000)
    // No Byzantine switch here: the test-only equivocation mode is set by the test harness alone
    // (test/helpers/test-daemon.js), so no config file, flag or MEDLEDGER_* variable reaches it.
  }).strict().prefault({}),
  privacy: z.object({
    /** Off-chain key store, privacy index snapshot and rotation state (docs/privacy.md). */
    dir: z.string().default('privacy'),
    /** The hospital's secret for pseudonymous subjects (HMAC-SHA256). */
    subject_secret_file: z.string().default('subject.secret'),
    /** A superseded delivery key is destroyed this long after its successor is final. */
    retire_grace_ms: z.number().int().nonnegative().default(30_000),
    /** A plaintext read waits this long for its access record to be final, else it is refused. */
    audit_wait_ms: z.number().int().positive().default(30_000)
  }).strict().prefault({}),
  mempool: z.object({
    max_bytes: z.number().int().positive().default(256 * 1024 * 1024),
    max_batches: z.number().int().positive().default(50_000)
  }).strict().prefault({}),
  log: z.object({
    level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info')
  }).strict().prefault({})
}).strict()

export type Config = z.infer<typeof ConfigSchema>
