import type { Command } from 'commander'
import { exportStore } from '../../export/export.ts'
import { hasDatabase, loadHome, openStoppedStore } from '../../export/open-home.ts'
import { MedledgerError } from '../../errors.ts'
import { action, printJson } from '../output.ts'
import { ExportErrorCode } from '../../export/errors.ts'

const height = (flag: string) => (v: string): number => {
  const n = Number(v)
  if (!/^[0-9]+$/.test(v) || !Number.isSafeInteger(n) || n < 1) throw new MedledgerError('USAGE', `${flag} takes a block height (1 or more), got "${v}"`)
  return n
}

export function exportCommand (program: Command): void {
  program.command('export')
    .description('write the final blocks and their certificates to a file (docs/export-format.md); the node must be stopped')
    .requiredOption('--home <dir>', 'node home directory (the node must be stopped)')
    .requiredOption('--out <file>', 'the export file to write (never overwritten)')
    .option('--from <height>', 'first block (default 1)', height('--from'))
    .option('--to <height>', 'last block (default: the last final block)', height('--to'))
    .action(action(async (o: { home: string, out: string, from?: number, to?: number }) => {
      const { genesis, dataDir } = await loadHome(o.home)
      if (!(await hasDatabase(dataDir))) throw new MedledgerError(ExportErrorCode.EMPTY, `there is no ledger database in ${dataDir}; nothing to export`)
      const store = await openStoppedStore(o.home, dataDir, genesis, 'export')
      const tty = process.stderr.isTTY
      try {
        const result = await exportStore(store, o.out, { from: o.from, to: o.to }, (done, total) => {
          if (tty) process.stderr.write(`\rexporting ${done}/${total} blocks (${Math.floor(done * 100 / total)}%)`)
        })
        if (tty) process.stderr.write('\n')
        printJson(result)
      } finally {
        await store.close()
      }
    }))
}
