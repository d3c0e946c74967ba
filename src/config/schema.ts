import { z } from 'zod'
import { parseCidr } from '../network/cidr.ts'
import { DEFAULT_MEMORY_BUDGET_MB, MAX_MEMORY_BUDGET_MB, MIN_MEMORY_BUDGET_MB } from './memory-budget.ts'

/**
 * The node's configuration: one TOML file per node (config.toml in the home directory).
 * Precedence: command-line flags > MEDLEDGER_* environment variables > the file > these defaults.
 * Paths are relative to the home directory.
 */
export const ConfigSchema = z.object({
  role: z.enum(['validator', 'observer', 'member']).default('validator'),
  genesis: z.string().default('genesis.json'),
  key: z.string().default('node.key'),
  /** File whose first line is the key file's passphrase (docs/privacy.md); else MEDLEDGER_KEY_PASSPHRASE. */
  key_passphrase_file: z.string().default(''),
  data_dir: z.string().default('data'),
  node: z.object({
    /**
     * MiB for what peers and clients can make this node hold, split among the mempool (1/2), sync
     * runs (1/8), gossip waiting for validation (1/8) and messages for future heights (1/8); each
     * share is the default of its key (src/config/memory-budget.ts). `medledger start` sets V8's
     * heap limit to 2 x budget + 128 MB. 0: no budget, no heap limit, each key its own default.
     */
    memory_budget_mb: z.number().int().refine(v => v === 0 || (v >= MIN_MEMORY_BUDGET_MB && v <= MAX_MEMORY_BUDGET_MB), `0 (none) or ${MIN_MEMORY_BUDGET_MB} to ${MAX_MEMORY_BUDGET_MB}`).default(DEFAULT_MEMORY_BUDGET_MB)
  }).strict().prefault({}),
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
    sync_response_bytes: z.number().int().min(64 * 1024).max(64 * 1024 * 1024).default(16 * 1024 * 1024),
    /**
     * Source addresses that may open a p2p connection at all (CIDR ranges or single IPs, e.g.
     * "10.0.0.0/8", "192.0.2.7"), checked before the handshake; empty: any address. The peer-id
     * allowlist (genesis and governance) applies after the handshake either way.
     */
    inbound_allow: z.array(z.string().superRefine((v, ctx) => {
      try { parseCidr(v) } catch (err) { ctx.addIssue({ code: 'custom', message: (err as Error).message }) }
    })).default([]),
    /** An inbound connection must finish its handshake (Noise, Yamux) within this time. */
    inbound_upgrade_timeout_ms: z.number().int().min(500).max(60_000).default(5_000),
    /** Inbound connections in the handshake at once, from all addresses. */
    max_pending_inbound: z.number().int().min(1).max(1_024).default(8),
    /** Inbound connections in the handshake at once from one IP address (members behind one NAT share it). */
    max_pending_inbound_per_ip: z.number().int().min(1).max(1_024).default(4),
    /** Inbound connection attempts per second from one IP address; more are refused. */
    inbound_connections_per_ip_per_s: z.number().int().min(1).max(1_000).default(5),
    /**
     * Bytes of gossip messages handed to the application and not yet judged (all peers; one peer
     * at most half). Beyond it new messages are ignored (not forwarded, no penalty).
     */
    gossip_in_flight_bytes: z.number().int().min(8 * 1024 * 1024).max(1024 * 1024 * 1024).default(16 * 1024 * 1024),
    /**
     * Most peers this node dials and keeps; 0: every allowed peer (a full mesh, the default).
     * For a member of a large network, e.g. 8: the validators first, then other members.
     */
    max_peers: z.number().int().min(0).max(10_000).default(0)
  }).strict().prefault({}),
  api: z.object({
    listen: z.string().default('127.0.0.1:8080'),
    /** File holding the bearer token that authorises POST /v1/records. */
    token_file: z.string().default('api.token'),
    /** Bearer token for metadata reads when require_read_token is set. */
    read_token_file: z.string().default('api.read.token'),
    /** Bearer token for GET /v1/records/:id/plaintext. */
    plaintext_token_file: z.string().default('api.plaintext.token'),
    /** Bearer token for grants, revocations, shreds, key rotation and pseudonym look-ups. */
    admin_token_file: z.string().default('api.admin.token'),
    /**
     * Gate metadata reads (records, blocks, evidence, events, privacy views, metrics) behind the
     * read token. The node refuses to start with an api.listen beyond loopback unless this is set.
     */
    require_read_token: z.boolean().default(false),
    /** Host names clients use for this API besides IP addresses and localhost (DNS rebinding guard). */
    allowed_hosts: z.array(z.string().min(1)).default([]),
    /** Origins (scheme://host[:port]) whose pages may call the API (CORS); none by default. */
    cors_origins: z.array(z.string().url()).default([]),
    /** Most GET /v1/events clients at once; one more is answered 503. */
    max_sse_clients: z.number().int().positive().max(10_000).default(32),
    /** POST /v1/privacy/subjects calls a minute per token (a token bucket; beyond: 429). */
    pseudonym_lookups_per_minute: z.number().int().positive().default(60),
    max_body_bytes: z.number().int().positive().default(8 * 1024 * 1024),
    /** Most batches one POST /v1/batches carries (docs/api.md); more are refused with 413. */
    max_batches_per_request: z.number().int().positive().max(100_000).default(1000)
  }).strict().prefault({}),
  consensus: z.object({
    propose_timeout_ms: z.number().int().positive().default(3000),
    prevote_timeout_ms: z.number().int().positive().default(1000),
    precommit_timeout_ms: z.number().int().positive().default(1000),
    timeout_delta_ms: z.number().int().nonnegative().default(500),
    /**
     * At least 1000: a peer re-sending one signed message in fresh envelopes faster than about
     * once every 800 ms is taken for a flood (src/consensus/resend-guard.ts).
     */
    rebroadcast_ms: z.number().int().min(1000).default(2000),
    max_block_bytes: z.number().int().positive().default(3 * 1024 * 1024),
    max_batches_per_block: z.number().int().positive().default(2000),
    /**
     * A new proposal whose block time is more than this past the local clock is not prevoted
     * (docs/protocol.md, "Time"): bounds how far one proposer can move chain time ahead.
     */
    max_clock_drift_ms: z.number().int().nonnegative().default(5000),
    /**
     * Messages for the next height held until this node gets there: votes and one proposal per
     * (height, round, proposer), each validator and each peer a share (docs/network.md, bounds).
     */
    max_future_bytes: z.number().int().min(1024 * 1024).max(1024 * 1024 * 1024).default(16 * 1024 * 1024),
    max_future_messages: z.number().int().min(64).max(1_000_000).default(10_000)
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
    /** Default: half of node.memory_budget_mb (64 MiB of the default 128). */
    max_bytes: z.number().int().positive().default(64 * 1024 * 1024),
    max_batches: z.number().int().positive().default(50_000),
    /** One author's share (capped at the totals above): a flooding hospital fills only this. Default: a quarter of max_bytes. */
    max_bytes_per_author: z.number().int().positive().default(16 * 1024 * 1024),
    max_batches_per_author: z.number().int().positive().default(12_500)
  }).strict().prefault({}),
  log: z.object({
    level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info')
  }).strict().prefault({})
}).strict()

export type Config = z.infer<typeof ConfigSchema>
