import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Command } from 'commander'
import { Genesis } from '../../chain/genesis.ts'
import { toHex } from '../../encoding/bytes.ts'
import { MedledgerError } from '../../errors.ts'
import { checkRecordProof, fetchValidators, httpHeaderSource, LightClient, LightForkError, LightStore, setAt, stateFromCheckpoint, stateFromGenesis } from '../../light/index.ts'
import { action, printJson } from '../output.ts'
import { AuditErrorCode } from '../../audit/errors.ts'

const readToken = async (file?: string): Promise<string | undefined> => file === undefined ? undefined : (await readFile(file, 'utf8')).trim()
const collect = (v: string, all: string[]): string[] => [...all, v]

function summary (store: LightStore): Record<string, unknown> {
  const s = store.state
  const set = setAt(s, s.height + 1)
  return {
    chainId: s.chainId,
    genesisHash: s.genesisHash === null ? null : toHex(s.genesisHash),
    trustedFrom: { height: s.base.height, hash: toHex(s.base.hash) },
    height: s.height,
    hash: toHex(s.hash),
    validators: set.members.map(m => ({ name: m.name, publicKey: toHex(m.publicKey) })),
    changes: s.changes.map(c => ({ includedAt: c.includedAt, effective: c.effective, action: c.action, name: c.name, publicKey: toHex(c.publicKey) }))
  }
}

export function lightCommand (program: Command): void {
  const light = program.command('light').description('a light client for regulators: follows headers and certificates from a trusted checkpoint, checks record proofs against them')
  light.command('init')
    .description('start a light client in a directory from a genesis file, or from a trusted height and header hash')
    .requiredOption('--dir <dir>', 'the light client\'s directory (state and verified header hashes)')
    .option('--genesis <file>', 'trust this genesis file')
    .option('--height <h>', 'trust the header at this height ...')
    .option('--hash <hex>', '... with this hash')
    .option('--node <url>', 'a node to fetch the checkpoint header and its validator list from (with --height)')
    .option('--governance-delay <n>', 'the chain\'s governanceDelay genesis parameter (with --height)', '2')
    .option('--token-file <file>', 'read token for nodes that require one')
    .action(action(async (o: { dir: string, genesis?: string, height?: string, hash?: string, node?: string, governanceDelay: string, tokenFile?: string }) => {
      let state
      if (o.genesis !== undefined) {
        state = stateFromGenesis(await Genesis.load(o.genesis))
      } else {
        const height = Number(o.height)
        if (!Number.isSafeInteger(height) || height < 1 || o.hash === undefined || o.node === undefined) throw new MedledgerError('USAGE', 'give --genesis, or --height, --hash and --node')
        const token = await readToken(o.tokenFile)
        state = await stateFromCheckpoint({ height, hash: o.hash, governanceDelay: Number(o.governanceDelay), source: httpHeaderSource(o.node, token), validators: await fetchValidators(o.node, token) })
      }
      printJson(summary(await LightStore.create(o.dir, state)))
    }))
  light.command('sync')
    .description('verify headers forward to the node\'s head; exit non-zero with evidence on two certified headers at one height')
    .requiredOption('--dir <dir>', 'the light client\'s directory')
    .requiredOption('--node <url>', 'the node to follow (any node: its word is verified)')
    .option('--witness <url>', 'another node asked for the same headers (repeatable)', collect, [])
    .option('--until <height>', 'stop at this height')
    .option('--token-file <file>', 'read token for nodes that require one')
    .action(action(async (o: { dir: string, node: string, witness: string[], until?: string, tokenFile?: string }) => {
      const store = await LightStore.open(o.dir)
      const token = await readToken(o.tokenFile)
      const client = new LightClient(store, httpHeaderSource(o.node, token), o.witness.map(w => httpHeaderSource(w, token)))
      const tty = process.stderr.isTTY
      try {
        const r = await client.sync({ until: o.until === undefined ? undefined : Number(o.until), onProgress: (h, head) => { if (tty) process.stderr.write(`\rverified ${h}/${head}`) } })
        if (tty) process.stderr.write('\n')
        printJson({ ...summary(store), verified: r.verified, witnessErrors: r.witnessErrors })
      } catch (err) {
        if (err instanceof LightForkError) {
          const file = join(o.dir, `fork-${err.evidence.height}.json`)
          await writeFile(file, JSON.stringify(err.evidence, null, 2) + '\n')
          printJson({ fork: err.evidence, evidenceFile: file })
        }
        throw err
      }
    }))
  light.command('verify')
    .description('check a record proof against this client\'s own verified header at its height (exit 0 only if it holds)')
    .requiredOption('--dir <dir>', 'the light client\'s directory')
    .argument('<proof>', 'proof JSON file (GET /v1/records/:id/proof)')
    .action(action(async (file: string, o: { dir: string }) => {
      const store = await LightStore.open(o.dir)
      let json: unknown
      try {
        json = JSON.parse(await readFile(file, 'utf8'))
      } catch (err) {
        throw new MedledgerError(AuditErrorCode.PROOF_INVALID, `cannot read ${file} as JSON: ${(err as Error).message}`)
      }
      printJson({ valid: true, ...await checkRecordProof(store, json) })
    }))
  light.command('status')
    .description('what this light client trusts and has verified')
    .requiredOption('--dir <dir>', 'the light client\'s directory')
    .action(action(async (o: { dir: string }) => { printJson(summary(await LightStore.open(o.dir))) }))
}
