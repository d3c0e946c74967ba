import { isIP } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { MedledgerError } from '../errors.ts'
import type { ApiTokens, TokenRole } from './tokens.ts'
import { sendError } from './error-reply.ts'
import { ApiErrorCode } from './errors.ts'
import { ConfigErrorCode } from '../config/errors.ts'

/**
 * Who may call a route, declared on the route itself: `app.get(path, { config: { role } }, handler)`.
 * - public: anyone (health, status, the explorer's static files);
 * - read: chain and privacy metadata: the read, plaintext or admin token when the node requires
 *   read tokens, anyone otherwise;
 * - submit: write records (the submit token only);
 * - plaintext: decrypt a record, audited on the chain (the plaintext token only);
 * - admin: grants, revocations, shreds, key rotation, pseudonym look-ups (the admin token only);
 * - patient: the patient API (/v1/patient/...): no token; a session opened by a challenge signed
 *   with the patient's key, checked by the patient routes' own hook (src/api/patient-routes.ts).
 */
export type Role = 'public' | 'patient' | TokenRole

declare module 'fastify' {
  interface FastifyContextConfig { role?: Role }
}

/** The tokens that carry each role: the read routes also take the plaintext and admin tokens. */
const ACCEPTS: Record<TokenRole, readonly TokenRole[]> = {
  read: ['read', 'plaintext', 'admin'],
  submit: ['submit'],
  plaintext: ['plaintext'],
  admin: ['admin']
}

/** Whether an Authorization header carries a token that may read metadata (read, plaintext or admin). */
export function mayReadMetadata (tokens: ApiTokens, header: string | undefined): boolean {
  const role = tokens.roleOf(header)
  return role !== undefined && ACCEPTS.read.includes(role)
}

export interface AccessPolicy {
  tokens: ApiTokens
  /** Gate `read` routes behind a token. */
  requireReadToken: boolean
  /** The API's listen host: requests naming it in Host are served. */
  listenHost: string
  /** More host names clients use for this node (a DNS name in front of it). */
  allowedHosts: readonly string[]
  /** Origins (scheme://host[:port]) allowed to call the API from another site's page (CORS). */
  corsOrigins: readonly string[]
}

export interface DeclaredRoute { method: string, url: string, role: Role | undefined }
const ROUTES = new WeakMap<FastifyInstance, DeclaredRoute[]>()

/** Every route registered on an app since installAccessControl, with the role it declares (HEAD routes included). */
export function declaredRoutes (app: FastifyInstance): readonly DeclaredRoute[] {
  return ROUTES.get(app) ?? []
}

/** Refuses to serve an app with a route that declares no role (the access check would refuse its every call). */
export function assertEveryRouteHasRole (app: FastifyInstance): void {
  const missing = declaredRoutes(app).filter(r => r.role === undefined)
  if (missing.length > 0) throw new MedledgerError(ApiErrorCode.ROUTE_WITHOUT_ROLE, `API routes without a declared role: ${missing.map(r => `${r.method} ${r.url}`).join(', ')}`)
}

export function isLoopback (host: string): boolean {
  const h = host.replace(/^\[(.*)\]$/, '$1').toLowerCase()
  return h === 'localhost' || h === '::1' || (isIP(h) === 4 && h.startsWith('127.'))
}

/**
 * Metadata (subjects' pseudonyms, record types, who wrote when) must not be open to a network:
 * an API that listens beyond loopback without read tokens is refused at start.
 */
export function checkExposure (listenHost: string, requireReadToken: boolean): void {
  if (isLoopback(listenHost) || requireReadToken) return
  throw new MedledgerError(ConfigErrorCode.INVALID, `api.listen ${listenHost} is reachable beyond this machine, which would open every record's metadata to the network: set api.require_read_token = true (clients then send the token of api.read_token_file), or listen on 127.0.0.1`)
}

/** The host name of a Host header (no port, lower case, IPv6 without brackets), or undefined. */
export function hostName (host: string | undefined): string | undefined {
  if (host === undefined || host === '' || /[/?#@\s\\]/.test(host)) return undefined
  try {
    return new URL(`http://${host}`).hostname.replace(/^\[(.*)\]$/, '$1')
  } catch {
    return undefined
  }
}

/**
 * Installs the one access check of the API, before any route's own hooks. In order:
 * 1. Host: a name a browser could have been tricked into (DNS rebinding) is refused: only IP
 *    literals, localhost, the listen host and api.allowed_hosts are served.
 * 2. Origin: a page of another site may not call the API unless api.cors_origins lists it.
 * 3. Role: the role declared on the matched route (request.routeOptions.config.role, whatever the
 *    URL's spelling or the method, HEAD included) against the bearer token's role. A route that
 *    declares none is refused (deny by default).
 * Must be called before any route is registered.
 */
export function installAccessControl (app: FastifyInstance, policy: AccessPolicy): void {
  const table: DeclaredRoute[] = []
  ROUTES.set(app, table)
  app.addHook('onRoute', (r) => {
    for (const method of [r.method].flat()) table.push({ method, url: r.url, role: r.config?.role })
  })
  const hosts = new Set(['localhost', ...[policy.listenHost, ...policy.allowedHosts].map(h => hostName(h) ?? h.toLowerCase())])
  const cors = new Set(policy.corsOrigins)

  app.addHook('onRequest', async (req, reply) => {
    const host = hostName(req.headers.host)
    if (host === undefined || (isIP(host) === 0 && !hosts.has(host))) {
      return sendError(reply, ApiErrorCode.HOST_NOT_ALLOWED, `this node does not serve the host name ${JSON.stringify(req.headers.host ?? '')}; add it to api.allowed_hosts`)
    }
    const origin = req.headers.origin
    if (origin !== undefined) {
      if (cors.has(origin)) {
        void reply.header('access-control-allow-origin', origin).header('vary', 'origin')
      } else if (!sameOrigin(origin, req.headers.host)) {
        return sendError(reply, ApiErrorCode.ORIGIN_NOT_ALLOWED, `requests from pages of ${origin} are refused; add it to api.cors_origins`)
      }
    }
    if (req.is404) return // the not-found handler answers, naming no data
    const role = req.routeOptions.config.role
    if (role === undefined) return sendError(reply, ApiErrorCode.ROUTE_WITHOUT_ROLE, `the route ${req.method} ${req.routeOptions.url ?? ''} declares no role; refused`)
    // Patient routes carry no API token: patientRoutes' hook checks the patient's session on every one.
    if (role === 'public' || role === 'patient' || (role === 'read' && !policy.requireReadToken)) return
    const wanted = ACCEPTS[role]
    if (!wanted.some(r => policy.tokens.has(r))) return sendError(reply, ApiErrorCode.ROLE_NOT_CONFIGURED, `this node has no ${role} token file (api.${role === 'submit' ? 'token_file' : `${role}_token_file`}; create it with mode 0600, e.g. \`openssl rand -hex 24\`, and restart), so no one may call ${req.method} ${req.routeOptions.url ?? ''}`)
    const given = policy.tokens.roleOf(req.headers.authorization)
    if (given === undefined || !wanted.includes(given)) return sendError(reply, ApiErrorCode.UNAUTHORISED, `${req.method} ${req.routeOptions.url ?? ''} needs the ${role} token${role === 'read' ? ' (or the plaintext or admin token)' : ''}`)
  })

  if (cors.size > 0) {
    // Preflight of a listed origin (the Origin check above refused any other).
    app.options('/*', { config: { role: 'public' } }, async (_req, reply) => reply
      .header('access-control-allow-methods', 'GET, HEAD, POST')
      .header('access-control-allow-headers', 'authorization, content-type, x-medledger-reader')
      .header('access-control-max-age', '600')
      .code(204).send())
  }
}

function sameOrigin (origin: string, host: string | undefined): boolean {
  try {
    const u = new URL(origin)
    return (u.protocol === 'http:' || u.protocol === 'https:') && host !== undefined && u.host === new URL(`http://${host}`).host
  } catch {
    return false
  }
}
