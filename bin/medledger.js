#!/usr/bin/env node
// The medledger command: loads the TypeScript sources through tsx, after the libp2p polyfill.
import { register } from 'tsx/esm/api'
register()
await import('../src/polyfill.ts')
await import('../src/cli/main.ts')
