import { Command } from 'commander'
import { SOFTWARE_VERSION } from '../network/protocol-version.ts'
import { keysCommand } from './commands/keys.ts'
import { genesisCommand } from './commands/genesis.ts'
import { initCommand } from './commands/init.ts'
import { startCommand } from './commands/start.ts'
import { clientCommands } from './commands/client.ts'
import { verifyCommand } from './commands/verify.ts'
import { proofCommand } from './commands/proof.ts'
import { exportCommand } from './commands/export.ts'
import { importCommand } from './commands/import.ts'
import { governanceCommand } from './commands/governance.ts'
import { privacyCommands } from './commands/privacy.ts'
import { lightCommand } from './commands/light.ts'
import { devnetCommand } from './commands/devnet.ts'
import { migrateCommand } from './commands/migrate.ts'
import { snapshotCommands } from './commands/snapshot.ts'

const program = new Command('medledger')
  .description('medledger: a permissioned, verifiable ledger for hospital and health-ministry records')
  .version(SOFTWARE_VERSION)
  .showHelpAfterError()
  .exitOverride((err) => { process.exit(err.exitCode === 0 ? 0 : 2) })

keysCommand(program)
genesisCommand(program)
initCommand(program)
startCommand(program)
clientCommands(program)
verifyCommand(program)
proofCommand(program)
exportCommand(program)
importCommand(program)
governanceCommand(program)
privacyCommands(program)
lightCommand(program)
devnetCommand(program)
migrateCommand(program)
snapshotCommands(program)

await program.parseAsync(process.argv)
