import test from 'ava'
import { createHmac } from 'node:crypto'
import { chmod, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { toHex } from '../../../src/encoding/bytes.ts'
import { isMedledgerError } from '../../../src/errors.ts'
import { readSubjectSecret, subjectPseudonym, writeSubjectSecret } from '../../../src/privacy/pseudonym.ts'

const secret = new Uint8Array(32).fill(0x42)

test('a subject is HMAC-SHA256(secret, "medledger/subject/v1" || 0x00 || id)', t => {
  const expected = createHmac('sha256', secret).update(Buffer.concat([Buffer.from('medledger/subject/v1'), Buffer.from([0]), Buffer.from('CH-756.1234.5678.97')])).digest('hex')
  t.is(toHex(subjectPseudonym(secret, 'CH-756.1234.5678.97')), expected)
  // Fixed vector, so an implementation elsewhere can check itself (docs/privacy.md).
  t.is(expected, toHex(subjectPseudonym(new Uint8Array(32).fill(0x42), ' CH-756.1234.5678.97 ')))
  t.is(expected, '83eb134036fd5b1cd58d8f83954b61b387802173a936c47fd4dd3abef2ec2aa3')
})

test('deterministic per hospital, different across hospitals, normalised', t => {
  const other = new Uint8Array(32).fill(0x43)
  t.deepEqual(subjectPseudonym(secret, 'patient-1'), subjectPseudonym(secret, 'patient-1'))
  t.notDeepEqual(subjectPseudonym(secret, 'patient-1'), subjectPseudonym(secret, 'patient-2'))
  t.notDeepEqual(subjectPseudonym(secret, 'patient-1'), subjectPseudonym(other, 'patient-1'))
  // NFC: "é" composed and decomposed are one identifier.
  t.deepEqual(subjectPseudonym(secret, 'Ren\u00e9'), subjectPseudonym(secret, 'Rene\u0301'))
  t.is(subjectPseudonym(secret, 'x').length, 32)
  t.throws(() => subjectPseudonym(secret, '   '))
  t.throws(() => subjectPseudonym(new Uint8Array(8), 'x'))
})

test('subject secrets are written 0600, never overwritten, refused when others can read them', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'medledger-secret-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const file = join(dir, 'subject.secret')
  await writeSubjectSecret(file, secret)
  t.deepEqual(await readSubjectSecret(file), secret)
  await t.throwsAsync(writeSubjectSecret(file), { message: /already exists/ })
  await chmod(file, 0o644)
  const err = await t.throwsAsync(readSubjectSecret(file))
  t.true(isMedledgerError(err, 'PRIVACY_SECRET_PERMISSIONS'))
})
