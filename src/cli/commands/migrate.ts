import type { Command } from 'commander'
import { hasDatabase, loadHome } from '../../export/open-home.ts'
import { MedledgerError } from '../../errors.ts'
import { isStorageError, StorageErrorCode } from '../../storage/index.ts'
import { migrateDatabase } from '../../storage/migrations.ts'
import { action, printJson } from '../output.ts'

export function migrateCommand (program: Command): void {
  program.command('migrate')
    .description('bring a stopped node\'s database to the layout this medledger writes (`start` refuses an older one and says so); safe to run again')
    .requiredOption('--home <dir>', 'node home directory (the node must be stopped)')
    .option('--json', 'print a JSON report')
    .action(action(async (o: { home: string, json?: boolean }) => {
      const { dataDir } = await loadHome(o.home)
      if (!(await hasDatabase(dataDir))) throw new MedledgerError(StorageErrorCode.NO_DATABASE, `there is no ledger database in ${dataDir}: nothing to migrate (\`start\` creates one in the current layout)`)
      const tty = process.stderr.isTTY && o.json !== true
      let report
      try {
        report = await migrateDatabase(dataDir, o.home, (step, done) => { if (tty) process.stderr.write(`\r${step}: ${done} entries read`) })
      } catch (err) {
        if (isStorageError(err, StorageErrorCode.LOCKED)) {
          throw new MedledgerError('NODE_RUNNING', `the node of ${o.home} is running (its database ${dataDir} is locked). Stop it first: migrate works on a stopped node's database`)
        }
        throw err
      }
      if (tty) process.stderr.write('\n')
      if (o.json === true) printJson(report)
      else if (report.steps.length === 0) process.stdout.write(`database schema v${report.to}: nothing to do\n`)
      else process.stdout.write(`migrated ${dataDir} from schema v${report.from} to v${report.to}:\n${report.steps.map(s => `  ${s}\n`).join('')}`)
    }))
}
