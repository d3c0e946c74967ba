import type { FastifyInstance } from 'fastify'
import { pageFiles } from '../static-page.ts'
import { SRC_ROOT } from '../../src-root.ts'

/**
 * The patient page every validator serves at GET /patient (docs/patient.md): plain files beside
 * this one, no build step: index.html, app.js (the page) and crypto.js (the patient's keys,
 * signatures and decryption with WebCrypto, also run by the tests under Node). It verifies proofs
 * with the explorer's verify.js (/explorer/verify.js). Public files: what the page shows comes
 * from the patient API, behind a session the patient's key signs for.
 */
const FILES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'crypto.js': 'text/javascript; charset=utf-8'
}

const send = pageFiles(new URL('api/patient/', SRC_ROOT), FILES)

export function registerPatientPage (app: FastifyInstance): void {
  const PUBLIC = { config: { role: 'public' as const } }
  app.get('/patient', PUBLIC, send('index.html'))
  for (const file of Object.keys(FILES)) app.get(`/patient/${file}`, PUBLIC, send(file))
}
