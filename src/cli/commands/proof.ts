import { readFile } from 'node:fs/promises'
import type { Command } from 'commander'
import { Genesis } from '../../chain/genesis.ts'
import { verifyRecordProof } from '../../audit/proof-verify.ts'
import { verifyPatientExport } from '../../audit/patient-export.ts'
import { MedledgerError } from '../../errors.ts'
import { action, printJson } from '../output.ts'
import { AuditErrorCode } from '../../audit/errors.ts'

async function readJson (file: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(file, 'utf8'))
  } catch (err) {
    throw new MedledgerError(AuditErrorCode.PROOF_INVALID, `cannot read ${file} as JSON: ${(err as Error).message}`)
  }
}

export function proofCommand (program: Command): void {
  const proof = program.command('proof').description('record proofs')
  proof.command('verify')
    .description('check a record proof offline against a genesis file (exit 0 only if it holds)')
    .requiredOption('--genesis <file>', 'the genesis file you trust')
    .argument('<proof>', 'proof JSON file (from `medledger get` or GET /v1/records/:id/proof)')
    .action(action(async (file: string, o: { genesis: string }) => {
      const genesis = await Genesis.load(o.genesis)
      printJson({ valid: true, ...verifyRecordProof(await readJson(file), genesis) })
    }))

  proof.command('verify-export')
    .description('check a patient\'s export file (the patient page\'s "Export") offline: every record\'s proof against a genesis file (exit 0 only if all hold)')
    .requiredOption('--genesis <file>', 'the genesis file you trust')
    .argument('<export>', 'the export JSON file')
    .action(action(async (file: string, o: { genesis: string }) => {
      const genesis = await Genesis.load(o.genesis)
      printJson({ valid: true, ...verifyPatientExport(await readJson(file), genesis) })
    }))
}
