#!/usr/bin/env node
// The medledger command. Runs src/ compiled ahead of time to JavaScript (bin/compile.js: no
// TypeScript loader thread, about 45 MB less resident memory), else through tsx.
// MEDLEDGER_TSX=1 forces tsx.
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import v8 from 'node:v8'

// Node 24 LTS is what medledger supports and is tested on (package.json "engines"). Older Node
// lacks what libp2p calls (Promise.withResolvers before 22): every connection would fail obscurely.
const MIN_NODE_MAJOR = 24
if (Number(process.versions.node.split('.')[0]) < MIN_NODE_MAJOR) {
  process.stderr.write(`medledger: needs Node.js ${MIN_NODE_MAJOR} or later, this is ${process.version} (${process.execPath}).\n` +
    'The project installs Node 24 as a dev dependency: run `npx medledger ...` or `node_modules/.bin/node bin/medledger.js ...`\n' +
    'from the project directory (npm scripts use it already), or install Node.js 24 LTS.\n')
  process.exit(1)
}
const { BUNDLE, compiledSrc, enableCodeCache, keepBuild } = await import('./compile.js')
enableCodeCache()

// The daemon's heap policy (docs/benchmarks.md, item 7). V8 sizes its heap limit from the
// machine's memory (about 4 GB here) and under load lets the heap grow up to 4x what survived the
// last full collection, hundreds of MB of garbage. --heap-growing-percent caps that factor and,
// unlike the heap size limits, takes effect when set at run time. MEDLEDGER_HEAP_GROWING_PERCENT
// overrides it (0: V8's own policy); a --heap-growing-percent given to node itself wins. Hard
// limits (--max-old-space-size, --max-semi-space-size) can only be given to node at start, e.g.
// NODE_OPTIONS (docs/benchmarks.md, item 7).
const DEFAULT_HEAP_GROWING_PERCENT = 100
const command = process.argv.slice(2).find(a => !a.startsWith('-'))
if (command === 'start') {
  const given = `${process.execArgv.join(' ')} ${process.env.NODE_OPTIONS ?? ''}`
  const env = process.env.MEDLEDGER_HEAP_GROWING_PERCENT
  const percent = env === undefined || env.trim() === '' ? DEFAULT_HEAP_GROWING_PERCENT : Number(env)
  if (!Number.isInteger(percent) || percent < 0) {
    process.stderr.write(`medledger: MEDLEDGER_HEAP_GROWING_PERCENT must be a whole number >= 0 (0: V8's default), got "${env}"\n`)
    process.exit(2)
  }
  if (percent > 0 && !/--heap[-_]growing[-_]percent/.test(given)) v8.setFlagsFromString(`--heap-growing-percent=${percent}`)
}

const dir = process.env.MEDLEDGER_TSX === '1' ? undefined : compiledSrc()
if (dir === undefined) {
  const { register } = await import('tsx/esm/api')
  register()
}
/** A module of src/, compiled or through tsx. */
const load = async (name) => dir !== undefined ? await import(pathToFileURL(join(dir, ...name.split('/')) + '.js').href) : await import(`../src/${name}.ts`)

// The hard heap limit from the config's memory budget (node.memory_budget_mb; docs/benchmarks.md,
// "Memory budget"): only a flag given to node at start sets it. The project's launchers give it
// (src/devnet/daemon.ts); started any other way (systemd, by hand) `start` replaces itself (same
// pid) with node run with --max-old-space-size. One given to node wins. Not with --exit-with-fd:
// exec closes the inherited pipe, and the launchers that pass one give the flag themselves.
if (command === 'start' && dir !== undefined) keepBuild(dir)
// (config/heap-flag imports nothing: the config modules that read the budget are loaded only when
// the flag is missing, so a start from the bundle does not load a second copy of them.)
if (command === 'start' && typeof process.execve === 'function' && !process.argv.some(a => a.startsWith('--exit-with-fd')) && !(await load('config/heap-flag')).hasHeapLimit(process.execArgv, process.env)) {
  const { heapLimitFlag } = await load('config/heap-limit')
  const flag = heapLimitFlag(process.argv.slice(2), process.env)
  if (flag !== undefined) process.execve(process.execPath, [process.execPath, flag, ...process.execArgv, ...process.argv.slice(1)], process.env)
}
// The command itself from the one-file bundle when the build has it (start-up: bin/compile.js, BUNDLE).
if (dir !== undefined && existsSync(join(dir, BUNDLE))) await import(pathToFileURL(join(dir, BUNDLE)).href)
else await load('cli/main')
