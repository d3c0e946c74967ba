// Ahead-of-time JavaScript for the daemon, so it needs no TypeScript loader while it runs.
//
// Loading src/ through tsx costs about 45 MB of resident memory for the whole life of a process:
// on Node 20 module hooks run in a separate loader thread with its own V8 isolate (tsx, esbuild's
// API and every transformed module), and tsx turns on source maps, so the main thread keeps one
// for each module. bin/medledger.js therefore runs a compiled copy of src/ when it can:
//
//   node_modules/.cache/medledger/build-<hash>/   one JavaScript file per source file, and
//     medledger.bundle.js                          the command and its packages in one file
//
// The command runs from the bundle (BUNDLE below: a daemon starts in about half the CPU); the
// per-file copy serves the launcher's own imports and the test harness (test/helpers/test-daemon.js).
//
// <hash> covers every file under src/, tsconfig.json, the installed packages (package-lock.json,
// node_modules/.package-lock.json, patches/), the esbuild version and this file's build format, so
// an edited source or a changed install is never run stale: a new hash is built (esbuild, about 1 s, in a
// child process so the daemon never loads esbuild) before the command runs. Concurrent starts may
// build the same hash at once; each writes a private directory and renames it into place.
//
// Falls back to tsx when the cache cannot be written or esbuild fails; MEDLEDGER_TSX=1 forces
// tsx (TypeScript line numbers in stack traces). `node bin/compile.js` builds and prints the
// directory (for packaging or a read-only install: build once, as the owner of the install).
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs'
import module, { createRequire } from 'node:module'
import { dirname, join, relative, resolve, sep } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

/** The package root (the repository, or node_modules/medledger when installed). */
export const ROOT = fileURLToPath(new URL('..', import.meta.url))
const SRC = join(ROOT, 'src')
const CACHE = join(ROOT, 'node_modules', '.cache', 'medledger')
/** Bump when the build options below change, so older builds are not reused. */
const FORMAT = 4
/**
 * The command in one file (src/cli/main and every package it imports), at the build's root (so
 * src/src-root.ts finds the pages and the verify worker beside it, as from the per-file copy).
 * Node resolves, reads and compiles about 1,200 modules to start a daemon from the per-file copy:
 * about 1 s of CPU before the first line runs, 17 s of CPU for a network of 16 validators and an
 * observer starting together. From one file (with V8's code cache) a daemon reaches its API in
 * 0.75 s instead of 1.8 s (docs/benchmarks.md, "Start").
 */
export const BUNDLE = 'medledger.bundle.js'
/**
 * Packages left out of the bundle: native addons (classic-level loads its binary from its own
 * directory). bin/compile.js itself is imported by file URL (ROOT) and stays out too.
 */
const NOT_BUNDLED = ['classic-level']
/**
 * Other builds are removed, when a new one is made, once unused for this long: a start from a
 * build and every running daemon (every 30 minutes, see keepBuild) renew its build.json's time.
 */
const PRUNE_AFTER_MS = 2 * 3600 * 1000
const KEEP_EVERY_MS = 30 * 60 * 1000

function sourceFiles (dir = SRC, out = []) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (e.isDirectory()) sourceFiles(p, out)
    else if (e.isFile()) out.push(p)
  }
  return out
}

function esbuildPath () {
  // esbuild comes with tsx (a dependency); resolve it from there, as tsx does.
  const fromTsx = createRequire(createRequire(import.meta.url).resolve('tsx/package.json'))
  return fromTsx.resolve('esbuild')
}

function esbuildVersion () {
  return JSON.parse(readFileSync(join(dirname(esbuildPath()), '..', 'package.json'), 'utf8')).version
}

/** The build directory for the current sources (it may not exist yet). */
export function buildDir () {
  const h = createHash('sha256')
  h.update(`format ${FORMAT}\nesbuild ${esbuildVersion()}\n`)
  h.update(readFileSync(join(ROOT, 'tsconfig.json')))
  // The bundle holds the packages too: a changed install (another version, a patch) is a new build.
  for (const f of [join(ROOT, 'package-lock.json'), join(ROOT, 'node_modules', '.package-lock.json')]) {
    if (existsSync(f)) h.update(readFileSync(f))
  }
  const patches = join(ROOT, 'patches')
  if (existsSync(patches)) for (const f of sourceFiles(patches).sort()) h.update(readFileSync(f))
  for (const f of sourceFiles().sort()) {
    const rel = relative(SRC, f).split(sep).join('/')
    h.update(`\0${rel}\0`)
    h.update(readFileSync(f))
  }
  return join(CACHE, `build-${h.digest('hex').slice(0, 24)}`)
}

/**
 * The compiled src/ directory for the current sources, building it first if needed; undefined
 * when it cannot be had (the caller falls back to tsx). `quiet` suppresses the warning.
 */
export function compiledSrc ({ quiet = false } = {}) {
  let dir
  try {
    dir = buildDir()
    if (existsSync(join(dir, 'build.json'))) {
      touch(dir)
      return dir
    }
    const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--build', dir], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 120_000, encoding: 'utf8' })
    if (r.status === 0 && existsSync(join(dir, 'build.json'))) return dir
    if (!quiet) process.stderr.write(`medledger: could not compile src/ to ${dir} (running through tsx instead, about 45 MB more memory): ${(r.stderr ?? r.error?.message ?? '').trim().split('\n').slice(-3).join(' ')}\n`)
  } catch (err) {
    if (!quiet) process.stderr.write(`medledger: could not compile src/${dir === undefined ? '' : ` to ${dir}`} (running through tsx instead): ${err.message}\n`)
  }
  return undefined
}

function touch (dir) {
  try { const now = new Date(); utimesSync(join(dir, 'build.json'), now, now) } catch {}
}

/**
 * Turns on V8's code cache for every module loaded from here on (the bundle is 5 MB of JavaScript):
 * a start after the first skips compiling it again, about a third of a daemon's start-up CPU
 * (docs/benchmarks.md, "Start"). Best effort: a cache that cannot be written costs only speed.
 */
export function enableCodeCache () {
  try { module.enableCompileCache?.(join(CACHE, 'v8-code-cache')) } catch {}
}

/** Marks `dir` in use while this process runs, so that no other start prunes it. */
export function keepBuild (dir) {
  setInterval(() => { touch(dir) }, KEEP_EVERY_MS).unref()
}

async function build (dir) {
  const esbuild = createRequire(import.meta.url)(esbuildPath())
  mkdirSync(CACHE, { recursive: true })
  const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`
  const files = sourceFiles()
  const ts = files.filter(f => f.endsWith('.ts') && !f.endsWith('.d.ts'))
  try {
    await esbuild.build({
      entryPoints: ts,
      outbase: SRC,
      outdir: tmp,
      // One output file per source file: bundle mode only so that the plugin below can rewrite
      // every import; all of them stay imports (packages and node: builtins untouched, ./x.ts -> ./x.js).
      bundle: true,
      format: 'esm',
      platform: 'node',
      target: `node${process.versions.node.split('.')[0]}`,
      tsconfig: join(ROOT, 'tsconfig.json'),
      // As tsx does: classes and functions keep their names (error names, logs).
      keepNames: true,
      sourcemap: 'linked',
      sourcesContent: false,
      logLevel: 'error',
      plugins: [{
        name: 'medledger-keep-imports',
        setup (b) {
          b.onResolve({ filter: /.*/ }, (args) => {
            if (args.kind === 'entry-point') return undefined
            if (!/^\.\.?\//.test(args.path)) return { path: args.path, external: true }
            const target = resolve(args.resolveDir, args.path)
            if (!relative(SRC, target).startsWith('..')) return { path: args.path.replace(/\.ts$/, '.js'), external: true }
            // Outside src/ (not compiled): by absolute URL, as plain JavaScript only.
            if (target.endsWith('.ts')) return { errors: [{ text: `${args.path}: TypeScript outside src/ is not compiled` }] }
            return { path: pathToFileURL(target).href, external: true }
          })
        }
      }]
    })
    await esbuild.build({
      entryPoints: [join(tmp, 'cli', 'main.js')],
      outfile: join(tmp, BUNDLE),
      bundle: true,
      format: 'esm',
      platform: 'node',
      target: `node${process.versions.node.split('.')[0]}`,
      keepNames: true,
      // The packages' CommonJS modules call require() (builtins among them); in an ES module it
      // has to be made.
      banner: { js: "import { createRequire as __medledgerRequire } from 'node:module'; const require = __medledgerRequire(import.meta.url);" },
      external: [...NOT_BUNDLED, 'file:*'],
      logLevel: 'error'
    })
    // Files read or loaded at run time beside the code (explorer page, the verify worker).
    for (const f of files) {
      if (f.endsWith('.ts')) continue
      const to = join(tmp, relative(SRC, f))
      mkdirSync(dirname(to), { recursive: true })
      copyFileSync(f, to)
    }
    // The cache lies under node_modules, where Node stops looking for the package's "type".
    writeFileSync(join(tmp, 'package.json'), '{ "type": "module", "private": true }\n')
    writeFileSync(join(tmp, 'build.json'), JSON.stringify({ builtAt: new Date().toISOString(), from: SRC, files: ts.length }) + '\n')
    try {
      renameSync(tmp, dir)
    } catch (err) {
      // Another process built the same sources first: use theirs.
      if (!existsSync(join(dir, 'build.json'))) throw err
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true })
  }
  prune(dir)
}

function prune (current) {
  for (const name of readdirSync(CACHE)) {
    const p = join(CACHE, name)
    if (p === current || !name.startsWith('build-')) continue
    try {
      // A .tmp- left by a crashed build has no build.json and goes by its directory's time.
      const t = existsSync(join(p, 'build.json')) ? statSync(join(p, 'build.json')).mtimeMs : statSync(p).mtimeMs
      if (Date.now() - t > PRUNE_AFTER_MS) rmSync(p, { recursive: true, force: true })
    } catch {}
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv[2] === '--build') {
    await build(process.argv[3])
  } else {
    const dir = compiledSrc()
    if (dir === undefined) process.exit(1)
    process.stdout.write(dir + '\n')
  }
}
