import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Daemon } from '../devnet/daemon.ts'
import type { DevnetNode } from '../devnet/setup.ts'
import type { TokenRole } from '../api/tokens.ts'
import { waitFor } from './wait.ts'

/** What GET /v1/status answers (the fields tests use most; the rest is there too). */
export interface NodeStatus { height: number, headHash: string | null, peers: number, round: number, mempool?: { batches: number, records: number }, [k: string]: unknown }

/** A record as POST /v1/records takes it; `payload` is base64. */
export interface RecordInput { type: string, subject: string, contentType: string, payload: string, timestamp?: number, [k: string]: unknown }

export interface SubmitOptions {
  /** 'final' (default): resolve once the records are final on this node; 'none': once accepted into its mempool. */
  wait?: 'final' | 'none'
  timeoutMs?: number
}

export interface SubmitResult { ids: string[], height?: number, [k: string]: unknown }

/** An API answer that was not what the call needed: names the node, the route and the error code. */
export class NodeRequestError extends Error {
  override name = 'NodeRequestError'
  constructor (message: string, readonly status: number, readonly code: string | undefined, readonly body: unknown) { super(message) }
}

/** Where a node's role stands: a standby is a genesis observer running as a validator until governance adds it. */
export type NodeRole = 'validator' | 'observer' | 'member' | 'standby' | 'removed'

const LOG_TAIL_LINES = 15

/** One daemon of a devnet: a real `medledger start` process with its home, API and tokens. */
export class TestNode {
  readonly daemon: Daemon
  /** Set by the devnet: stopped or killed through the testkit (waits skip it until it starts again). */
  down = true

  constructor (readonly info: DevnetNode, public role: NodeRole, extraArgs: string[], lifeline: boolean, private readonly startTimeoutMs: number, entry?: string[]) {
    this.daemon = new Daemon(info, extraArgs, { lifeline, entry })
  }

  get name (): string { return this.info.name }
  get home (): string { return this.info.home }
  get peerId (): string { return this.info.peerId }
  get p2pPort (): number { return this.info.p2pPort }
  get apiPort (): number { return this.info.apiPort }
  /** The API base URL, e.g. http://127.0.0.1:40123. */
  get api (): string { return this.daemon.api }
  /** The submit role's token (api.token). */
  get token (): string { return this.info.token }
  /** Every API role's token: submit, read, plaintext, admin. */
  get tokens (): Record<TokenRole, string> { return this.info.tokens ?? { submit: this.info.token, read: '', plaintext: '', admin: '' } }
  get running (): boolean { return this.daemon.running }
  get pid (): number | undefined { return this.running ? this.daemon.proc?.pid : undefined }
  get logFile (): string { return join(this.home, 'node.log') }

  /** Starts the daemon and resolves once its API answers; rejects (with its last log lines) if it exits first. */
  async start ({ wait = true }: { wait?: boolean } = {}): Promise<void> {
    if (this.running) throw new Error(`${this.name} is already running (pid ${this.pid})`)
    this.daemon.start()
    this.down = false
    if (wait) await this.waitApi()
  }

  /** Resolves once the API answers /v1/status. */
  async waitApi (timeoutMs = this.startTimeoutMs): Promise<NodeStatus> {
    return await waitFor(`${this.name}'s API at ${this.api}`, async () => {
      if (!this.running) throw new Error(`${this.name} exited before its API answered (${this.exitDescription()})\n${await this.logTail()}`)
      return await this.tryStatus()
    }, { timeoutMs, everyMs: 100, describe: async () => `its log ends:\n${await this.logTail()}` })
  }

  /** SIGTERM: a clean shutdown; resolves with the exit code (0 when clean). */
  async stop (): Promise<number | null> {
    this.down = true
    return await this.daemon.stop('SIGTERM')
  }

  /** SIGKILL: a crash; resolves once the process is gone. */
  async kill (): Promise<void> {
    this.down = true
    await this.daemon.stop('SIGKILL')
  }

  /** SIGSTOP: the process and its sockets stay, but it answers nothing until `resume`. */
  pause (): void {
    this.down = true
    this.daemon.proc?.kill('SIGSTOP')
  }

  resume (): void {
    this.daemon.proc?.kill('SIGCONT')
    this.down = false
  }

  /** GET /v1/status; throws a message naming the node (and why it is down) when it does not answer. */
  async status (): Promise<NodeStatus> {
    const s = await this.tryStatus()
    if (s === undefined) throw new Error(`${this.name} does not answer at ${this.api}/v1/status (${this.running ? 'process running' : this.exitDescription()})`)
    return s
  }

  /** GET /v1/status, or undefined when the node does not answer (for polling). */
  async tryStatus (): Promise<NodeStatus | undefined> {
    return await this.daemon.status() as NodeStatus | undefined
  }

  /**
   * POST /v1/records with the submit token. Resolves with the record ids (and the block height
   * when waiting for finality); throws a NodeRequestError naming the node, status and error code.
   */
  async submit (records: RecordInput[], opts: SubmitOptions = {}): Promise<SubmitResult> {
    const wait = opts.wait ?? 'final'
    const { status, body } = await this.request('POST', `/v1/records${wait === 'final' ? '?wait=final' : ''}`, { role: 'submit', body: { records }, timeoutMs: opts.timeoutMs ?? 60_000 })
    if (status !== 200 && status !== 202) throw this.requestError('POST /v1/records', status, body)
    return body as SubmitResult
  }

  /** GET /v1/records/:id/proof: the record with its block header, Merkle path and certificate. */
  async proof (id: string): Promise<unknown> {
    const { status, body } = await this.request('GET', `/v1/records/${encodeURIComponent(id)}/proof`)
    if (status !== 200) throw this.requestError(`GET /v1/records/${id}/proof`, status, body)
    return body
  }

  /** GET /v1/records/:id. */
  async record (id: string): Promise<Record<string, unknown>> {
    const { status, body } = await this.request('GET', `/v1/records/${encodeURIComponent(id)}`)
    if (status !== 200) throw this.requestError(`GET /v1/records/${id}`, status, body)
    return body as Record<string, unknown>
  }

  /** GET /v1/validators: the set in force for the next block, its quorum and every governance change. */
  async validators (): Promise<{ height: number, quorum: number, validators: Array<{ name: string, publicKey: string, peerId: string }>, changes: Array<{ includedAt: number, effective: number, action: string, name: string, publicKey: string }> }> {
    const { status, body } = await this.request('GET', '/v1/validators')
    if (status !== 200) throw this.requestError('GET /v1/validators', status, body)
    return body as Awaited<ReturnType<TestNode['validators']>>
  }

  /**
   * Any API call, with the token of `role` (default: read for GET, submit otherwise; 'none' sends
   * no token). Resolves with the status and the parsed body whatever the status.
   */
  async request (method: string, path: string, opts: { role?: TokenRole | 'none', body?: unknown, timeoutMs?: number } = {}): Promise<{ status: number, body: unknown }> {
    const role = opts.role ?? (method === 'GET' ? 'read' : 'submit')
    const headers: Record<string, string> = {}
    if (role !== 'none') headers.authorization = `Bearer ${this.tokens[role]}`
    if (opts.body !== undefined) headers['content-type'] = 'application/json'
    let res: Response
    try {
      res = await fetch(`${this.api}${path}`, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body), signal: AbortSignal.timeout(opts.timeoutMs ?? 30_000) })
    } catch (err) {
      const e = err as Error & { cause?: { code?: string } }
      throw new NodeRequestError(`${this.name}: ${method} ${path} failed: ${e.name === 'TimeoutError' ? `no answer within ${opts.timeoutMs ?? 30_000} ms` : (e.cause?.code ?? e.message)} (${this.running ? 'process running' : this.exitDescription()})`, 0, undefined, undefined)
    }
    const text = await res.text()
    let body: unknown = text
    try { body = JSON.parse(text) } catch {}
    return { status: res.status, body }
  }

  /** The last lines of the node's log (its JSON log lines and anything it printed). */
  async logTail (lines = LOG_TAIL_LINES): Promise<string> {
    const text = await readFile(this.logFile, 'utf8').catch(() => '')
    return text.trimEnd().split('\n').slice(-lines).map(l => `  ${this.name}| ${l}`).join('\n')
  }

  /** "exited with code 1" / "killed by SIGKILL" / "never started". */
  exitDescription (): string {
    const p = this.daemon.proc
    if (p === undefined) return 'never started'
    if (p.signalCode !== null) return `killed by ${p.signalCode}`
    if (p.exitCode !== null) return `exited with code ${p.exitCode}; log: ${this.logFile}`
    return 'running'
  }

  private requestError (what: string, status: number, body: unknown): NodeRequestError {
    const err = (body as { error?: { code?: string, message?: string } } | undefined)?.error
    return new NodeRequestError(`${this.name}: ${what} answered HTTP ${status}${err?.code !== undefined ? ` ${err.code}` : ''}${err?.message !== undefined ? `: ${err.message}` : ''}`, status, err?.code, body)
  }
}
