#!/usr/bin/env node
// The medledger command. Runs src/ compiled ahead of time to JavaScript (bin/compile.js: no
// TypeScript loader thread, about 45 MB less resident memory), else through tsx; the libp2p
// polyfill first either way. MEDLEDGER_TSX=1 forces tsx.
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { compiledSrc, keepBuild } from './compile.js'

const command = process.argv.slice(2).find(a => !a.startsWith('-'))

const dir = process.env.MEDLEDGER_TSX === '1' ? undefined : compiledSrc()
if (dir !== undefined) {
  if (command === 'start') keepBuild(dir)
  await import(pathToFileURL(join(dir, 'polyfill.js')).href)
  await import(pathToFileURL(join(dir, 'cli', 'main.js')).href)
} else {
  const { register } = await import('tsx/esm/api')
  register()
  await import('../src/polyfill.ts')
  await import('../src/cli/main.ts')
}
