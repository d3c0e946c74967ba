import type { Command } from 'commander'
import { loadConfig, resolvePath } from '../../config/load.ts'
import { Genesis } from '../../chain/genesis.ts'
import { ChainStore } from '../../storage/index.ts'
import { auditStore } from '../../audit/audit.ts'
import { VerifyPool } from '../../crypto/verify-pool.ts'
import { EXIT, action, printJson } from '../output.ts'

export function verifyCommand (program: Command): void {
  program.command('verify')
    .description('re-verify a whole database offline, as an auditor would (exit 0 only when everything holds)')
    .requiredOption('--home <dir>', 'node home directory (the node must be stopped)')
    .option('--json', 'print a JSON report')
    .action(action(async (o: { home: string, json?: boolean }) => {
      const config = await loadConfig(o.home)
      const genesis = await Genesis.load(resolvePath(o.home, config.genesis))
      const store = await ChainStore.open(resolvePath(o.home, config.data_dir), { chainId: genesis.chainId, genesisHash: genesis.hash, home: o.home })
      const pool = new VerifyPool()
      const tty = process.stderr.isTTY && o.json !== true
      try {
        const report = await auditStore(store, genesis, pool, (done, total) => {
          if (tty) process.stderr.write(`\rverifying ${done}/${total} blocks (${total === 0 ? 100 : Math.floor(done * 100 / total)}%)`)
        })
        if (tty) process.stderr.write('\n')
        if (o.json === true) printJson(report)
        else if (report.ok) process.stdout.write(`ok: ${report.blocks} blocks, ${report.records} records, ${report.signatures} signatures verified up to height ${report.height} in ${report.ms} ms\n`)
        else process.stdout.write(`FAILED at height ${report.firstBrokenHeight}: ${report.error}\n`)
        process.exitCode = report.ok ? EXIT.OK : EXIT.FAILURE
      } finally {
        await pool.close()
        await store.close()
      }
    }))
}
