import { readFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { isAbsolute, join } from 'node:path'
import { parse as parseToml } from 'smol-toml'
import { MedledgerError } from '../errors.ts'
import { ConfigSchema, type Config } from './schema.ts'
import { applyMemoryBudget } from './memory-budget.ts'
import { ConfigErrorCode } from './errors.ts'

export const CONFIG_FILE = 'config.toml'

/**
 * Loads the effective configuration: defaults < config.toml < MEDLEDGER_* environment < flags.
 * Environment names are the dotted key upper-cased with dots as underscores after the prefix:
 * MEDLEDGER_API__LISTEN for api.listen (double underscore between section and key). Values are
 * parsed as TOML values when they look like one (numbers, booleans, arrays), else as strings.
 */
export async function loadConfig (home: string, overrides: Record<string, string> = {}, env: NodeJS.ProcessEnv = process.env): Promise<Config> {
  const file = join(home, CONFIG_FILE)
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    throw missing(home, file, err)
  }
  return configFromText(file, text, overrides, env)
}

/** loadConfig without waiting: for a launcher deciding a daemon's node flags (src/config/heap-limit.ts). */
export function loadConfigSync (home: string, overrides: Record<string, string> = {}, env: NodeJS.ProcessEnv = process.env): Config {
  const file = join(home, CONFIG_FILE)
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw missing(home, file, err)
  }
  return configFromText(file, text, overrides, env)
}

function missing (home: string, file: string, err: unknown): MedledgerError {
  return new MedledgerError(ConfigErrorCode.MISSING, `cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); run \`medledger init --home ${home} ...\` first`)
}

function configFromText (file: string, text: string, overrides: Record<string, string>, env: NodeJS.ProcessEnv): Config {
  let raw: Record<string, unknown>
  try {
    raw = parseToml(text) as Record<string, unknown>
  } catch (err) {
    throw new MedledgerError(ConfigErrorCode.INVALID, `${file} is not valid TOML: ${(err as Error).message}`)
  }
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('MEDLEDGER_') || value === undefined) continue
    const path = name.slice('MEDLEDGER_'.length).toLowerCase().split('__')
    if (!knownPath(path)) continue
    setPath(raw, path, parseValue(value))
  }
  for (const [key, value] of Object.entries(overrides)) setPath(raw, key.split('.'), parseValue(value))
  applyMemoryBudget(raw)
  const parsed = ConfigSchema.safeParse(raw)
  if (!parsed.success) {
    const issues = parsed.error.issues.map(i => `${i.path.join('.') || '(top)'}: ${i.message}`).join('; ')
    throw new MedledgerError(ConfigErrorCode.INVALID, `${file}: ${issues}`)
  }
  return parsed.data
}

export function resolvePath (home: string, p: string): string {
  return isAbsolute(p) ? p : join(home, p)
}

function knownPath (path: string[]): boolean {
  let shape: unknown = ConfigSchema.shape
  for (const p of path) {
    const s = shape as Record<string, { unwrap?: () => unknown, shape?: unknown, def?: { innerType?: { shape?: unknown } } }>
    if (s === undefined || !(p in s)) return false
    const field = s[p]
    shape = field.def?.innerType?.shape ?? field.shape
  }
  return true
}

function setPath (obj: Record<string, unknown>, path: string[], value: unknown): void {
  let cur = obj
  for (const p of path.slice(0, -1)) {
    if (typeof cur[p] !== 'object' || cur[p] === null) cur[p] = {}
    cur = cur[p] as Record<string, unknown>
  }
  cur[path[path.length - 1]] = value
}

function parseValue (v: string): unknown {
  try {
    return (parseToml(`v = ${v}`) as { v: unknown }).v
  } catch {
    return v
  }
}

/** A documented config.toml for `medledger init`. */
export function renderConfig (c: { role: string, p2pListen: string, bootstrap: string[], apiListen: string }): string {
  return `# medledger node configuration.
# Precedence: command-line flags > MEDLEDGER_* environment variables > this file > defaults.
# Environment names: MEDLEDGER_<SECTION>__<KEY>, e.g. MEDLEDGER_API__LISTEN="127.0.0.1:9000".
# Relative paths are relative to this node's home directory.

# validator: proposes and votes. member: writes its own records, verifies everything, never votes
# (hospitals beyond the validators). observer: verifies everything, never writes or votes (regulators).
role = "${c.role}"
genesis = "genesis.json"
key = "node.key"
# Passphrase of a protected key file: a 0600 file, or set MEDLEDGER_KEY_PASSPHRASE instead.
key_passphrase_file = ""
data_dir = "data"

[node]
# MiB for what peers and clients can make this node hold: the mempool (1/2), sync runs (1/8),
# gossip waiting for validation (1/8), messages for future heights (1/8). Each share is the default
# of its key below (commented out: set one to override its share). \`medledger start\` limits V8's
# heap to 2 x budget + 128 MB (a --max-old-space-size given to node wins). 0: no budget, no limit.
memory_budget_mb = 128

[p2p]
# libp2p listen addresses (TCP; Noise encryption, Yamux multiplexing).
listen = ["${c.p2pListen}"]
announce = []
# Peers to dial at start: multiaddrs ending in /p2p/<peer id>. Only genesis members are admitted.
bootstrap = [${c.bootstrap.map(b => `"${b}"`).join(', ')}]
# Optional pre-shared network key file (libp2p pnet): a second fence beside the allowlist.
psk_file = ""
# Bytes of final blocks per sync response (64 KiB to 64 MiB): a node catching up holds about this
# much at once; 4194304 bounds an observer's memory at some sync speed (docs/benchmarks.md).
# Default: 1/8 of node.memory_budget_mb (16 MiB of 128).
# sync_response_bytes = 16777216
# Before authentication (docs/network.md): source addresses that may connect at all, e.g.
# ["10.0.0.0/8", "192.0.2.7"]; empty: any (the peer-id allowlist still applies). Firewall the port too.
inbound_allow = []
# A connection must finish its handshake within this time; few may be in the handshake at once,
# per source IP fewer still, and one IP may try only so many times a second.
inbound_upgrade_timeout_ms = 5000
max_pending_inbound = 8
max_pending_inbound_per_ip = 4
inbound_connections_per_ip_per_s = 5
# Bytes of gossip waiting for validation (one peer at most half); beyond it new messages are ignored.
# Default: 1/8 of node.memory_budget_mb.
# gossip_in_flight_bytes = 16777216
# Most peers dialled and kept; 0: every allowed peer (full mesh). A member of a large network:
# e.g. 8, the validators first, then other members (docs/network.md, "Members and topology").
max_peers = 0

[api]
# HTTP API and explorer; keep it on 127.0.0.1 unless a reverse proxy with TLS fronts it.
listen = "${c.apiListen}"
# Bearer token for POST /v1/records (created by init, mode 0600).
token_file = "api.token"
# Metadata reads, plaintext reads and administration have their own tokens (README, "Security").
read_token_file = "api.read.token"
plaintext_token_file = "api.plaintext.token"
# Grants, revocations, shreds, key rotation and pseudonym look-ups.
admin_token_file = "api.admin.token"
# Require the read token for records, blocks, evidence, events and metrics (status, health and the
# explorer's files stay open). Required, or the node refuses to start, when listen is not loopback.
require_read_token = false
# Host names clients use for this node (IP addresses and localhost are always served): any other
# Host header is refused, so a web page cannot reach the API by DNS rebinding.
allowed_hosts = []
# Origins whose web pages may call the API (CORS), e.g. ["https://portal.hospital-a.example"].
cors_origins = []
# Event-stream (GET /v1/events) clients at once; a client that stops reading is dropped.
max_sse_clients = 32
# Pseudonym look-ups (POST /v1/privacy/subjects) a minute per token.
pseudonym_lookups_per_minute = 60
max_body_bytes = 8388608
# Most batches one POST /v1/batches carries (each signed by this node on its own); more: 413.
max_batches_per_request = 1000

[consensus]
# Tendermint timeouts: timeout(r) = base + r * delta (linear in the round).
propose_timeout_ms = 3000
prevote_timeout_ms = 1000
precommit_timeout_ms = 1000
timeout_delta_ms = 500
# Re-send our messages when a round has not moved for this long (peers back from an outage).
# At least 1000: faster re-sends of one message are taken for a flood.
rebroadcast_ms = 2000
max_block_bytes = 3145728
max_batches_per_block = 2000
# A new block whose time is more than this past our clock is not prevoted (keep clocks in NTP sync).
max_clock_drift_ms = 5000
# Messages for the next height held until we get there (votes, one proposal per round and
# proposer; each validator and each peer gets a share). Default: 1/8 of node.memory_budget_mb.
# max_future_bytes = 16777216
max_future_messages = 10000

[privacy]
# Off-chain key store (delivery keys, record data keys), privacy index and rotation state.
dir = "privacy"
# The hospital's secret for pseudonymous subjects (HMAC-SHA256 of patient identifiers).
subject_secret_file = "subject.secret"
# A superseded encryption key is destroyed this long after its successor is final.
retire_grace_ms = 30000
# A plaintext read waits this long for its access record to be final, else it is refused.
audit_wait_ms = 30000

[mempool]
# Encoded bytes of batches waiting for a block; full: submit answers 503 MEMPOOL_FULL and gossiped
# batches wait with their authors. Default: half of node.memory_budget_mb (64 MiB of 128).
# max_bytes = 67108864
max_batches = 50000
# One author's share of the above: a hospital flooding the network fills only this much.
# Default: a quarter of max_bytes.
# max_bytes_per_author = 16777216
max_batches_per_author = 12500

[log]
level = "info"
`
}
