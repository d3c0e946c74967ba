import { readFile, writeFile } from 'node:fs/promises'
import type { Command } from 'commander'
import { Genesis, publicKeyOfPeerId } from '../../chain/genesis.ts'
import { fromHex, toHex, toBase64 } from '../../encoding/bytes.ts'
import { approveChange, encodeChange, GOVERNANCE_ACTIONS, GOVERNANCE_CONTENT_TYPE, GOVERNANCE_RECORD_TYPE, type GovernanceAction, type ValidatorSetChange } from '../../governance/change.ts'
import { loadConfig, resolvePath } from '../../config/load.ts'
import { readKeyFile } from '../../keys/key-file.ts'
import { MedledgerError } from '../../errors.ts'
import { action, printJson } from '../output.ts'

/** The change file passed between validators: JSON, keys and signatures in hex. */
interface ChangeJson { chainId: string, action: GovernanceAction, name: string, publicKey: string, nonce: number, approvals: Array<{ validator: string, signature: string }> }

function toJson (chainId: string, c: ValidatorSetChange): ChangeJson {
  return { chainId, action: c.action, name: c.name, publicKey: toHex(c.publicKey), nonce: c.nonce, approvals: c.approvals.map(a => ({ validator: toHex(a.validator), signature: toHex(a.signature) })) }
}

async function readChange (file: string): Promise<{ chainId: string, change: ValidatorSetChange }> {
  try {
    const j = JSON.parse(await readFile(file, 'utf8')) as ChangeJson
    if (!GOVERNANCE_ACTIONS.includes(j.action)) throw new Error(`action must be one of ${GOVERNANCE_ACTIONS.join(', ')}`)
    return { chainId: j.chainId, change: { action: j.action, name: j.name, publicKey: fromHex(j.publicKey, 32), nonce: j.nonce, approvals: (j.approvals ?? []).map(a => ({ validator: fromHex(a.validator, 32), signature: fromHex(a.signature, 64) })) } }
  } catch (err) {
    throw new MedledgerError('USAGE', `${file} is not a governance change file: ${(err as Error).message}`)
  }
}

export function governanceCommand (program: Command): void {
  const g = program.command('governance').description('validator-set and member-set changes: propose, approve (a quorum of validators), submit')
  g.command('propose')
    .description('write an unapproved change file')
    .requiredOption('--genesis <file>', 'the chain\'s genesis file')
    .requiredOption('--action <add|remove|add-member|remove-member>', 'add or remove one validator (add, remove) or one member (add-member, remove-member)')
    .requiredOption('--name <name>', 'the validator\'s or member\'s name')
    .requiredOption('--peer-id <peerId>', 'the validator\'s or member\'s peer id')
    .option('--nonce <n>', 'distinguishes repeats of the same change', '0')
    .requiredOption('--out <file>', 'change file to write')
    .action(action(async (o: { genesis: string, action: string, name: string, peerId: string, nonce: string, out: string }) => {
      const act = GOVERNANCE_ACTIONS.find(a => a === o.action)
      if (act === undefined) throw new MedledgerError('USAGE', `--action must be one of ${GOVERNANCE_ACTIONS.join(', ')}`)
      const genesis = await Genesis.load(o.genesis)
      const change: ValidatorSetChange = { action: act, name: o.name, publicKey: publicKeyOfPeerId(o.peerId), nonce: Number(o.nonce), approvals: [] }
      await writeFile(o.out, JSON.stringify(toJson(genesis.chainId, change), null, 2) + '\n', { flag: 'wx' })
      printJson({ file: o.out, quorumNeeded: genesis.validators.quorum })
    }))
  g.command('approve')
    .description('add this node\'s approval (signature) to a change file, in place')
    .requiredOption('--home <dir>', 'a validator\'s home (its key signs)')
    .argument('<file>', 'change file')
    .action(action(async (file: string, o: { home: string }) => {
      const config = await loadConfig(o.home)
      const key = await readKeyFile(resolvePath(o.home, config.key))
      const { chainId, change } = await readChange(file)
      const approved = approveChange(chainId, change, key)
      await writeFile(file, JSON.stringify(toJson(chainId, approved), null, 2) + '\n')
      printJson({ file, approvals: approved.approvals.length })
    }))
  g.command('submit')
    .description('submit an approved change to a validator; it takes effect governanceDelay blocks after inclusion')
    .option('--api <url>', 'node API base URL', process.env.MEDLEDGER_API ?? 'http://127.0.0.1:8080')
    .requiredOption('--token-file <file>', 'file holding the API token')
    .option('--subject <hex>', 'subject field of the record (no patient involved: zeros)', '00'.repeat(32))
    .argument('<file>', 'approved change file')
    .action(action(async (file: string, o: { api: string, tokenFile: string, subject: string }) => {
      const { change } = await readChange(file)
      const token = (await readFile(o.tokenFile, 'utf8')).trim()
      const res = await fetch(new URL('/v1/records?wait=final', o.api), {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ records: [{ type: GOVERNANCE_RECORD_TYPE, subject: o.subject, contentType: GOVERNANCE_CONTENT_TYPE, payload: toBase64(encodeChange(change)) }] })
      }).catch((err: Error) => { throw new MedledgerError('API_UNREACHABLE', `cannot reach ${o.api}: ${err.message}`) })
      const body = await res.json() as { error?: { code: string, message: string } }
      if (!res.ok) throw new MedledgerError(body.error?.code ?? `HTTP_${res.status}`, body.error?.message ?? `HTTP ${res.status}`)
      printJson(body)
    }))
}
