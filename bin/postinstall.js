// npm's postinstall: applies patches/ (patch-package) to the installed packages. One patch today:
// @chainsafe/libp2p-yamux grants window once half of it is used instead of after every data frame
// (README, "Dependencies and why").
//
// In the repository the packages are in ./node_modules and a patch that does not apply fails the
// install. Installed as a dependency (node_modules/medledger) they are hoisted to the project's
// node_modules, so the patch is applied there; if the project holds another version of the package
// the patch is skipped with a warning: medledger works without it, only with more frames.
import { spawnSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { dirname, join, relative, sep } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const parts = root.split(sep)
const at = parts.indexOf('node_modules')
const asDependency = at > 0
const appRoot = asDependency ? parts.slice(0, at).join(sep) || sep : root
const patchPackage = join(dirname(createRequire(import.meta.url).resolve('patch-package/package.json')), 'index.js')
const r = spawnSync(process.execPath, [patchPackage, '--patch-dir', relative(appRoot, join(root, 'patches')) || 'patches'], { cwd: appRoot, stdio: 'inherit' })
if (r.status !== 0) {
  if (!asDependency) process.exit(r.status ?? 1)
  console.warn('medledger: the yamux patch did not apply to this project\'s packages; medledger runs without it (more window-update frames)')
}
