import { readFile, writeFile } from 'node:fs/promises'
import { createHash } from 'node:crypto'
import type { Command } from 'commander'
import { toHex } from '../../encoding/bytes.ts'
import { MedledgerError } from '../../errors.ts'
import { DEFAULT_SCRYPT, PASSPHRASE_ENV, readPassphrase } from '../../keys/keystore.ts'
import { protectKeyFile, unprotectKeyFile } from '../../keys/key-file-edit.ts'
import { promptNewPassphrase, promptPassphrase } from '../../keys/passphrase-prompt.ts'
import { checkRecordOffline } from '../../privacy/offline-check.ts'
import { readSubjectSecret, subjectPseudonym, writeSubjectSecret } from '../../privacy/pseudonym.ts'
import { action, printJson } from '../output.ts'
import { apiOption, call, withToken, type ApiFlags } from './client.ts'
import { KeyErrorCode } from '../../keys/errors.ts'

const collect = (v: string, prev: string[]): string[] => [...prev, v]

/** The passphrase from --passphrase-file, else MEDLEDGER_KEY_PASSPHRASE, else asked on the terminal. */
async function passphraseFrom (file: string | undefined, fresh = false): Promise<string> {
  const p = await readPassphrase(file)
  if (p !== undefined) return p
  if (process.stdin.isTTY !== true) throw new MedledgerError(KeyErrorCode.PASSPHRASE, `give --passphrase-file, set ${PASSPHRASE_ENV}, or run on a terminal to be asked`)
  return fresh ? await promptNewPassphrase() : await promptPassphrase('Passphrase: ')
}

/** `medledger privacy ...`: client commands over the privacy API, and offline helpers. */
export function privacyCommands (program: Command): void {
  const p = program.command('privacy').description('encrypted records, pseudonymous subjects, access grants, reads and crypto-shredding (docs/privacy.md)')

  p.command('secret')
    .description('write a new hospital subject secret (hex, mode 0600); refuses to overwrite')
    .requiredOption('--out <file>', 'where to write it')
    .action(action(async (o: { out: string }) => {
      await writeSubjectSecret(o.out)
      printJson({ file: o.out })
    }))

  p.command('subject')
    .description('the pseudonymous subject of a patient identifier: HMAC-SHA256(secret, id), computed here so the identifier never leaves this machine')
    .requiredOption('--secret-file <file>', 'the hospital subject secret (a node home has subject.secret)')
    .requiredOption('--patient-id <id>', 'the patient identifier')
    .action(action(async (o: { secretFile: string, patientId: string }) => {
      printJson({ subject: toHex(subjectPseudonym(await readSubjectSecret(o.secretFile), o.patientId)) })
    }))

  withToken(apiOption(p.command('submit').description('submit a record encrypted by the node to itself (the custodian) and the hospitals it granted access')), 'submit')
    .requiredOption('--type <type>', 'record type, e.g. consultation')
    .requiredOption('--subject <hex>', 'pseudonymous subject (see privacy subject)')
    .option('--content-type <type>', 'content type of the plaintext (kept inside the ciphertext)', 'application/octet-stream')
    .option('--plaintext <text>', 'content as UTF-8 text')
    .option('--plaintext-file <file>', 'content from a file')
    .option('--recipient <name>', 'a validator that must be able to read it: it needs a grant in force from this node (name, peer id or public key; repeatable)', collect, [])
    .option('--wait', 'wait until the record is final')
    .action(action(async (o: ApiFlags & { type: string, subject: string, contentType: string, plaintext?: string, plaintextFile?: string, recipient: string[], wait?: boolean }) => {
      const body = o.plaintextFile !== undefined ? await readFile(o.plaintextFile) : Buffer.from(o.plaintext ?? '')
      printJson(await call(o, 'POST', `/v1/records${o.wait === true ? '?wait=final' : ''}`, { records: [{ type: o.type, subject: o.subject, contentType: o.contentType, plaintext: body.toString('base64'), recipients: o.recipient }] }))
    }))

  withToken(apiOption(p.command('read').description('decrypt a record this node authored or was granted (writes an access.read record first)')), 'read-plaintext')
    .argument('<id>', 'record id')
    .option('--out <file>', 'write the plaintext bytes to a file instead of printing JSON')
    .action(action(async (id: string, o: ApiFlags & { out?: string }) => {
      const res = await call(o, 'GET', `/v1/records/${id}/plaintext`) as { plaintext: string }
      if (o.out !== undefined) {
        await writeFile(o.out, Buffer.from(res.plaintext, 'base64'), { mode: 0o600 })
        printJson({ ...res, plaintext: undefined, file: o.out })
      } else {
        printJson({ ...res, text: Buffer.from(res.plaintext, 'base64').toString('utf8') })
      }
    }))

  withToken(apiOption(p.command('grant').description('grant a hospital access to this node\'s records of a subject (the patient\'s consent)')), 'admin')
    .requiredOption('--subject <hex>', 'pseudonymous subject')
    .requiredOption('--grantee <name>', 'the hospital (validator name, peer id or public key)')
    .option('--type <type>', 'record type covered (repeatable; default all)', collect, [])
    .option('--not-after <iso>', 'the grant lapses at this time')
    .option('--consent-file <file>', 'the consent document: its SHA-256 goes on the chain, the document does not')
    .option('--wait', 'wait until the grant is final')
    .action(action(async (o: ApiFlags & { subject: string, grantee: string, type: string[], notAfter?: string, consentFile?: string, wait?: boolean }) => {
      const notAfter = o.notAfter === undefined ? 0 : Date.parse(o.notAfter)
      if (!Number.isFinite(notAfter)) throw new MedledgerError('USAGE', `--not-after must be an ISO 8601 time, got ${o.notAfter}`)
      const consentHash = o.consentFile === undefined ? undefined : createHash('sha256').update(await readFile(o.consentFile)).digest('hex')
      printJson(await call(o, 'POST', `/v1/privacy/grants${o.wait === true ? '?wait=final' : ''}`, { subject: o.subject, grantee: o.grantee, types: o.type, notAfter, consentHash }))
    }))

  withToken(apiOption(p.command('revoke').description('revoke a hospital\'s access to this node\'s records of a subject')), 'admin')
    .requiredOption('--subject <hex>', 'pseudonymous subject')
    .requiredOption('--grantee <name>', 'the hospital')
    .option('--wait', 'wait until the revocation is final')
    .action(action(async (o: ApiFlags & { subject: string, grantee: string, wait?: boolean }) => {
      printJson(await call(o, 'POST', `/v1/privacy/revocations${o.wait === true ? '?wait=final' : ''}`, { subject: o.subject, grantee: o.grantee }))
    }))

  withToken(apiOption(p.command('shred').description('crypto-shred an encrypted record: every holder destroys its keys; the chain still verifies')), 'admin')
    .argument('<id>', 'record id')
    .option('--reason <text>', 'why (kept on the chain; no patient data)', '')
    .option('--wait', 'wait until the shred is final')
    .action(action(async (id: string, o: ApiFlags & { reason: string, wait?: boolean }) => {
      printJson(await call(o, 'POST', `/v1/privacy/shreds${o.wait === true ? '?wait=final' : ''}`, { recordId: id, reason: o.reason }))
    }))

  withToken(apiOption(p.command('rotate').description('publish a new encryption key; the old one is destroyed after the grace period')), 'admin')
    .action(action(async (o: ApiFlags) => { printJson(await call(o, 'POST', '/v1/privacy/rotate')) }))

  withToken(apiOption(p.command('status').description('what a node knows of an encrypted record: recipients, shred, keys held')), 'read')
    .argument('<id>', 'record id')
    .action(action(async (id: string, o: ApiFlags) => { printJson(await call(o, 'GET', `/v1/privacy/records/${id}`)) }))

  withToken(apiOption(p.command('access').description('the access log: who read which record when (no content)')), 'read')
    .option('--record <id>', 'only reads of this record')
    .option('--subject <hex>', 'only reads of this subject\'s records')
    .option('--after <n>', 'the next page: the `next` of the previous answer (100 reads a page)')
    .action(action(async (o: ApiFlags & { record?: string, subject?: string, after?: string }) => {
      const q = new URLSearchParams({ ...(o.record === undefined ? {} : { record: o.record }), ...(o.subject === undefined ? {} : { subject: o.subject }), ...(o.after === undefined ? {} : { after: o.after }) })
      printJson(await call(o, 'GET', `/v1/privacy/access?${q.toString()}`))
    }))

  withToken(apiOption(p.command('grants').description('grants and revocations on the chain')), 'read')
    .option('--subject <hex>', 'only this subject')
    .option('--after <n>', 'the next page: the `next` of the previous answer (100 grants a page)')
    .action(action(async (o: ApiFlags & { subject?: string, after?: string }) => {
      const q = new URLSearchParams({ ...(o.subject === undefined ? {} : { subject: o.subject }), ...(o.after === undefined ? {} : { after: o.after }) })
      printJson(await call(o, 'GET', `/v1/privacy/grants?${q.toString()}`))
    }))

  p.command('check')
    .description('offline: try every key this (stopped) node holds against an encrypted record; after a completed shred nothing opens it')
    .requiredOption('--home <dir>', 'node home directory (the node must be stopped)')
    .argument('<id>', 'record id')
    .action(action(async (id: string, o: { home: string }) => { printJson(await checkRecordOffline(o.home, id)) }))

  // Passphrase protection of key files sits with the other key commands.
  const keys = program.commands.find(c => c.name() === 'keys') ?? program.command('keys')
  keys.command('protect')
    .description('encrypt a key file with a passphrase (scrypt + AES-256-GCM, docs/privacy.md); the node then needs the passphrase to start. The passphrase: --passphrase-file, else MEDLEDGER_KEY_PASSPHRASE, else asked twice on the terminal; at least 12 characters, 6 different, about 50 bits')
    .argument('<file>', 'key file')
    .option('--passphrase-file <file>', `file whose first line is the passphrase (mode 0600), else ${PASSPHRASE_ENV}, else a prompt`)
    .option('--scrypt-n <n>', 'scrypt cost N (a power of two)', String(DEFAULT_SCRYPT.N))
    .action(action(async (file: string, o: { passphraseFile?: string, scryptN: string }) => {
      const ks = await protectKeyFile(file, await passphraseFrom(o.passphraseFile, true), { ...DEFAULT_SCRYPT, N: Number(o.scryptN) })
      printJson({ file, protected: true, peerId: ks.peerId, kdf: { ...ks.kdf, salt: undefined } })
    }))
  keys.command('unprotect')
    .description('remove the passphrase protection of a key file')
    .argument('<file>', 'key file')
    .option('--passphrase-file <file>', `file whose first line is the passphrase (mode 0600), else ${PASSPHRASE_ENV}, else a prompt`)
    .action(action(async (file: string, o: { passphraseFile?: string }) => {
      await unprotectKeyFile(file, await passphraseFrom(o.passphraseFile))
      printJson({ file, protected: false })
    }))
}
