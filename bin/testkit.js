// The `medledger/testkit` entry for test suites (docs/testkit.md). Plain JavaScript, so that a
// consumer needs no TypeScript loader: it loads the compiled copy of src/ that the
// daemons run (bin/compile.js builds it on first use, under node_modules/.cache/medledger), and
// falls back to tsx (a dependency) when that cannot be had. MEDLEDGER_TSX=1 forces tsx.
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { compiledSrc } from './compile.js'

const dir = process.env.MEDLEDGER_TSX === '1' ? undefined : compiledSrc({ quiet: true })
let kit
if (dir !== undefined) {
  kit = await import(pathToFileURL(join(dir, 'testkit', 'index.js')).href)
} else {
  const { register } = await import('tsx/esm/api')
  register()
  kit = await import('../src/testkit/index.ts')
}

export const { Devnet, FAST_CONSENSUS, VALIDATOR_NAMES, TestNode, NodeRequestError, Link, LinkMesh, waitFor, TestkitTimeoutError, sampleRecord } = kit
