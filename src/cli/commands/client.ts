import { readFile } from 'node:fs/promises'
import type { Command } from 'commander'
import { MedledgerError } from '../../errors.ts'
import { action, printJson } from '../output.ts'

export interface ApiFlags { api: string, token?: string, tokenFile?: string }

export async function call (o: ApiFlags, method: string, path: string, body?: unknown): Promise<unknown> {
  const headers: Record<string, string> = {}
  let token = o.token ?? process.env.MEDLEDGER_API_TOKEN
  if (token === undefined && o.tokenFile !== undefined) token = (await readFile(o.tokenFile, 'utf8')).trim()
  if (token !== undefined) headers.authorization = `Bearer ${token}`
  if (body !== undefined) headers['content-type'] = 'application/json'
  let res: Response
  try {
    res = await fetch(new URL(path, o.api), { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
  } catch (err) {
    throw new MedledgerError('API_UNREACHABLE', `cannot reach the node API at ${o.api}: ${(err as Error & { cause?: Error }).cause?.message ?? (err as Error).message}`)
  }
  const json = await res.json().catch(() => ({})) as { error?: { code: string, message: string } }
  if (!res.ok) throw new MedledgerError(json.error?.code ?? `HTTP_${res.status}`, json.error?.message ?? `HTTP ${res.status}`)
  return json
}

export const apiOption = (c: Command): Command => c.option('--api <url>', 'node API base URL', process.env.MEDLEDGER_API ?? 'http://127.0.0.1:8080')

/** --token / --token-file for a command that needs the token of one role (README, "Security"). */
export const withToken = (c: Command, which: string): Command => c
  .option('--token <token>', `${which} token (or MEDLEDGER_API_TOKEN)`)
  .option('--token-file <file>', `file holding the ${which} token`)

export function clientCommands (program: Command): void {
  apiOption(program.command('status').description('show a node\'s chain status'))
    .action(action(async (o: ApiFlags) => { printJson(await call(o, 'GET', '/v1/status')) }))

  apiOption(program.command('submit').description('submit one record to a validator or member (the node signs it as a batch of one)'))
    .requiredOption('--type <type>', 'record type, e.g. consultation')
    .requiredOption('--subject <hex>', 'pseudonymous subject: 64 hex characters (a keyed hash, never a name)')
    .option('--content-type <type>', 'payload content type', 'application/octet-stream')
    .option('--payload <text>', 'payload as UTF-8 text')
    .option('--payload-file <file>', 'payload from a file')
    .option('--token <token>', 'submit token (or MEDLEDGER_API_TOKEN)')
    .option('--token-file <file>', 'file holding the submit token (api.token)')
    .option('--wait', 'wait until the record is final')
    .action(action(async (o: ApiFlags & { type: string, subject: string, contentType: string, payload?: string, payloadFile?: string, wait?: boolean }) => {
      const payload = o.payloadFile !== undefined ? await readFile(o.payloadFile) : Buffer.from(o.payload ?? '')
      printJson(await call(o, 'POST', `/v1/records${o.wait === true ? '?wait=final' : ''}`, { records: [{ type: o.type, subject: o.subject, contentType: o.contentType, payload: payload.toString('base64') }] }))
    }))

  withToken(apiOption(program.command('get').description('fetch a final record with its inclusion proof and certificate')), 'read (api.read.token, when the node requires it)')
    .argument('<id>', 'record id (64 hex)')
    .option('--proof', 'print the whole self-contained proof (default prints it too)')
    .action(action(async (id: string, o: ApiFlags) => { printJson(await call(o, 'GET', `/v1/records/${id}/proof`)) }))

  withToken(apiOption(program.command('block').description('show a final block (metadata only) with its certificate')), 'read (api.read.token, when the node requires it)')
    .argument('<height>', 'block height')
    .action(action(async (height: string, o: ApiFlags) => { printJson(await call(o, 'GET', `/v1/blocks/${height}`)) }))

  withToken(apiOption(program.command('evidence').description('list double-signing evidence known to a node')), 'read (api.read.token, when the node requires it)')
    .action(action(async (o: ApiFlags) => { printJson(await call(o, 'GET', '/v1/evidence')) }))
}
