import type { FastifyInstance } from 'fastify'
import type { Config } from '../config/schema.ts'
import type { PrivacyService } from '../privacy/service.ts'
import { loadSubjectSecret } from '../privacy/setup.ts'
import type { ApiNode } from './api-node.ts'
import { privacyRoutes, type PrivacyRouteDeps } from './privacy-routes.ts'
import { patientRoutes, type PatientRouteDeps } from './patient-routes.ts'
import { createApi } from './server.ts'
import { ApiTokens } from './tokens.ts'

/** Starts a node's whole HTTP API as its config describes: role tokens, access policy, privacy routes. */
/** What the whole API needs of a node: the built-in routes', the privacy routes' and the patient routes' narrow views. */
export type OpenApiNode = ApiNode & PrivacyRouteDeps['node'] & PatientRouteDeps['node']

export async function openApi (node: OpenApiNode, privacy: PrivacyService, home: string, config: Config, listen: { host: string, port: number }): Promise<FastifyInstance> {
  const tokens = await ApiTokens.load(home, config)
  const privacyApi = privacyRoutes({ node, privacy, subjectSecret: await loadSubjectSecret(home, config), pseudonymLookupsPerMinute: config.api.pseudonym_lookups_per_minute })
  const patientApi = patientRoutes({ node, privacy })
  const extend = async (app: FastifyInstance, ctx: Parameters<typeof privacyApi>[1]): Promise<void> => { await privacyApi(app, ctx); await patientApi(app, ctx) }
  return await createApi(node, {
    ...listen,
    tokens,
    requireReadToken: config.api.require_read_token,
    allowedHosts: config.api.allowed_hosts,
    corsOrigins: config.api.cors_origins,
    maxSseClients: config.api.max_sse_clients,
    maxBodyBytes: config.api.max_body_bytes,
    maxBatchesPerRequest: config.api.max_batches_per_request,
    extend
  })
}
