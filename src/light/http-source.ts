import { MedledgerError } from '../errors.ts'
import type { HeaderSource } from './client.ts'
import { LightErrorCode } from './errors.ts'
import { ApiErrorCode } from '../api/errors.ts'

/** Largest header page read from a node: 100 headers with 256-signature certificates and governance links fit well within. */
export const MAX_PAGE_BYTES = 16 * 1024 * 1024

/** GET /v1/headers of a node over HTTP; `token` for nodes that gate their read routes. */
export function httpHeaderSource (baseUrl: string, token?: string): HeaderSource {
  const get = async (path: string): Promise<unknown> => {
    const url = new URL(path, baseUrl)
    const res = await fetch(url, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(60_000) })
      .catch((err: Error) => { throw new MedledgerError(ApiErrorCode.UNREACHABLE, `cannot reach ${baseUrl}: ${err.message}`) })
    const length = Number(res.headers.get('content-length') ?? 0)
    if (length > MAX_PAGE_BYTES) throw new MedledgerError(LightErrorCode.PAGE_TOO_LARGE, `${url.href} answers ${length} bytes, more than ${MAX_PAGE_BYTES}`)
    const text = await res.text()
    if (text.length > MAX_PAGE_BYTES) throw new MedledgerError(LightErrorCode.PAGE_TOO_LARGE, `${url.href} answered more than ${MAX_PAGE_BYTES} bytes`)
    let body: any
    try { body = JSON.parse(text) } catch { throw new MedledgerError(LightErrorCode.INVALID, `${url.href} did not answer JSON`) }
    if (!res.ok) throw new MedledgerError(body?.error?.code ?? `HTTP_${res.status}`, `${url.href}: ${body?.error?.message ?? res.statusText}`)
    return body
  }
  return {
    name: baseUrl,
    headers: async (from, limit) => await get(`/v1/headers?from=${from}&limit=${limit}`)
  }
}

/** The node's own account of its validator set (GET /v1/validators): only for a checkpoint start, checked against the trusted header. */
export async function fetchValidators (baseUrl: string, token?: string): Promise<unknown> {
  const res = await fetch(new URL('/v1/validators', baseUrl), { headers: token === undefined ? {} : { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(60_000) })
    .catch((err: Error) => { throw new MedledgerError(ApiErrorCode.UNREACHABLE, `cannot reach ${baseUrl}: ${err.message}`) })
  if (!res.ok) throw new MedledgerError(`HTTP_${res.status}`, `${baseUrl}/v1/validators answered ${res.status}`)
  return await res.json()
}
