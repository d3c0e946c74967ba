import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import Fastify from 'fastify'

/** The JSON Schemas of docs/schemas, by file name without `.schema.json`. */
export type SchemaName = 'proof' | 'genesis' | 'block' | 'evidence'
const NAMES: SchemaName[] = ['proof', 'genesis', 'block', 'evidence']

export const readSchema = (name: SchemaName): Record<string, unknown> =>
  JSON.parse(readFileSync(fileURLToPath(new URL(`../../docs/schemas/${name}.schema.json`, import.meta.url)), 'utf8'))

/**
 * Validates documents against docs/schemas with fastify's own schema validator (Ajv, no type
 * coercion, no defaults, nothing removed); the schemas refer to each other by `$id`. Resolves to
 * the validator's message, or undefined when the document is valid.
 */
export function schemaChecker (): (name: SchemaName, doc: unknown) => Promise<string | undefined> {
  const app = Fastify({ ajv: { customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false } } })
  for (const n of NAMES) app.addSchema(readSchema(n))
  for (const n of NAMES) app.post(`/${n}`, { schema: { body: { $ref: `${readSchema(n).$id as string}#` } } }, async () => ({ ok: true }))
  return async (name, doc) => {
    const res = await app.inject({ method: 'POST', url: `/${name}`, payload: doc as object })
    return res.statusCode === 200 ? undefined : res.body
  }
}
