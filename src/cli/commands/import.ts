import type { Command } from 'commander'
import { ExportReader } from '../../export/format.ts'
import { checkExportHeader, DEFAULT_RUN, importExport } from '../../export/import.ts'
import { loadHome, openStoppedStore } from '../../export/open-home.ts'
import { VerifyPool } from '../../crypto/verify-pool.ts'
import { MedledgerError } from '../../errors.ts'
import { EXIT, action, printJson } from '../output.ts'

export function importCommand (program: Command): void {
  program.command('import')
    .description('verify an export file and add its blocks to a node\'s database (resumes where it stopped; exit 0 only when every block holds)')
    .requiredOption('--home <dir>', 'node home directory, set up with `medledger init` (the node must be stopped)')
    .requiredOption('--in <file>', 'the export file (from `medledger export`)')
    .option('--json', 'print a JSON report')
    .option('--run <blocks>', 'blocks verified together and written as one commit', String(DEFAULT_RUN))
    .action(action(async (o: { home: string, in: string, json?: boolean, run: string }) => {
      const runSize = Number(o.run)
      if (!Number.isSafeInteger(runSize) || runSize < 1 || runSize > 10_000) throw new MedledgerError('USAGE', `--run takes a number of blocks from 1 to 10000, got "${o.run}"`)
      const { genesis, dataDir } = await loadHome(o.home)
      const reader = await ExportReader.open(o.in)
      try {
        // A file of another chain is refused before the database is even opened.
        checkExportHeader(reader.header, genesis, o.in)
        const store = await openStoppedStore(o.home, dataDir, genesis, 'import')
        const pool = new VerifyPool()
        const tty = process.stderr.isTTY && o.json !== true
        try {
          const report = await importExport(reader, store, genesis, pool, {
            runSize,
            progress: (done, total) => { if (tty) process.stderr.write(`\rverifying and importing ${done}/${total} blocks (${total === 0 ? 100 : Math.floor(done * 100 / total)}%)`) }
          })
          if (tty) process.stderr.write('\n')
          if (o.json === true) printJson(report)
          else if (report.ok) process.stdout.write(`ok: ${report.imported} blocks verified and imported, ${report.skipped} already present; the database now ends at block ${report.height} (${report.headHash ?? 'empty'})\n`)
          else process.stdout.write(`FAILED at block ${report.firstBadHeight}: ${report.error}\nnothing from block ${report.firstBadHeight} on was written; the database ends at block ${report.height}\n`)
          process.exitCode = report.ok ? EXIT.OK : EXIT.FAILURE
        } finally {
          await pool.close()
          await store.close()
        }
      } finally {
        await reader.close()
      }
    }))
}
