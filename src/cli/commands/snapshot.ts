import { readFile } from 'node:fs/promises'
import type { Command } from 'commander'
import { loadConfig, resolvePath } from '../../config/load.ts'
import { Genesis } from '../../chain/genesis.ts'
import { MedledgerError } from '../../errors.ts'
import { takeSnapshot } from '../../backup/take.ts'
import { restoreSnapshot } from '../../backup/restore.ts'
import { parseHostPort } from './start.ts'
import { action, printJson } from '../output.ts'

/** The API of the node a home describes, reached from this machine (a wildcard listen address is reached on loopback). */
function localApi (listen: string): string {
  const { host, port } = parseHostPort(listen)
  const h = host === '0.0.0.0' || host === '' ? '127.0.0.1' : host === '::' || host === '[::]' ? '[::1]' : host
  return `http://${h}:${port}`
}

export function snapshotCommands (program: Command): void {
  program.command('snapshot')
    .description('copy a running node\'s database, consistent as of one moment, into a new directory (the node keeps running; uses its admin token)')
    .option('--home <dir>', 'the node\'s home directory (its config, genesis and api.admin.token)')
    .option('--dir <dir>', 'the same as --home')
    .requiredOption('--out <dir>', 'a new (or empty) directory for the snapshot: data/, genesis.json, snapshot.json')
    .option('--api <url>', 'the node\'s API, if not the api.listen of its config')
    .option('--json', 'print the manifest as JSON')
    .action(action(async (o: { home?: string, dir?: string, out: string, api?: string, json?: boolean }) => {
      const home = o.home ?? o.dir
      if (home === undefined) throw new MedledgerError('USAGE', 'snapshot needs the node\'s home: --home <dir> (or --dir <dir>)')
      const config = await loadConfig(home)
      const genesisFile = resolvePath(home, config.genesis)
      const tokenFile = resolvePath(home, config.api.admin_token_file)
      const adminToken = (await readFile(tokenFile, 'utf8').catch((err: Error) => { throw new MedledgerError('USAGE', `cannot read the admin token ${tokenFile}: ${err.message} (snapshot runs as the node's operator)`) })).trim()
      const tty = process.stderr.isTTY && o.json !== true
      const manifest = await takeSnapshot({
        api: o.api ?? localApi(config.api.listen),
        adminToken,
        genesisFile,
        genesis: await Genesis.load(genesisFile),
        out: o.out,
        onProgress: entries => { if (tty) process.stderr.write(`\rcopied ${entries} entries`) }
      })
      if (tty) process.stderr.write('\n')
      if (o.json === true) printJson(manifest)
      else process.stdout.write(`snapshot of ${manifest.chainId} at height ${manifest.height} (${manifest.records} records, ${manifest.entries} entries, ${manifest.bytes} bytes, sha256 ${manifest.sha256}) in ${o.out}\n`)
    }))

  program.command('restore')
    .description('put a snapshot in place of a stopped node\'s database, after re-verifying it from genesis (the database it replaces is kept aside)')
    .requiredOption('--home <dir>', 'the node\'s home directory (the node must be stopped)')
    .requiredOption('--from <dir>', 'a snapshot directory written by `medledger snapshot`')
    .option('--json', 'print a JSON report')
    .action(action(async (o: { home: string, from: string, json?: boolean }) => {
      const tty = process.stderr.isTTY && o.json !== true
      const report = await restoreSnapshot(o.home, o.from, (done, total) => { if (tty) process.stderr.write(`\rverifying ${done}/${total} blocks`) })
      if (tty) process.stderr.write('\n')
      if (o.json === true) { printJson(report); return }
      process.stdout.write(`restored ${o.from} into ${o.home}: height ${report.audit.height}, ${report.audit.records} records, ${report.audit.signatures} signatures verified from genesis\n`)
      if (report.migrated.length > 0) process.stdout.write(`migrated the copy: ${report.migrated.join('; ')}\n`)
      if (report.previous !== undefined) process.stdout.write(`the previous database is kept in ${report.previous}\n`)
      process.stdout.write({
        home: 'double-sign guard: this node\'s own, carried over from the database it replaces\n',
        snapshot: 'double-sign guard: the snapshot\'s, as of when it was taken: see docs/operations.md, "Restore a validator", before starting it\n',
        none: 'double-sign guard: none (the snapshot is of another node): see docs/operations.md, "Restore a validator", before starting a validator\n'
      }[report.consensusState])
    }))
}
