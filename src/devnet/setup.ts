import { mkdir, writeFile, readFile, access } from 'node:fs/promises'
import { join } from 'node:path'
import { NodeKey } from '../crypto/ed25519.ts'
import { Genesis, DEFAULT_PARAMS } from '../chain/genesis.ts'
import { writeKeyFile } from '../keys/key-file.ts'
import { CONFIG_FILE, renderConfig } from '../config/load.ts'
import { freePort } from './ports.ts'
import { generateX25519 } from '../crypto/x25519.ts'
import { writePrivacyFiles } from '../privacy/setup.ts'
import { writeTokenFiles, newToken, TOKEN_ROLES, type TokenRole } from '../api/tokens.ts'
import { compiledSrc } from '../../bin/compile.js'

export interface DevnetNode {
  name: string
  role: 'validator' | 'observer' | 'member'
  home: string
  peerId: string
  p2pPort: number
  apiPort: number
  /** The submit role's token (api.token). */
  token: string
  /** Every API role's token, as written to the role's token file in `home` (a devnet always sets it). */
  tokens?: Record<TokenRole, string>
}

export interface DevnetLayout {
  dir: string
  chainId: string
  nodes: DevnetNode[]
}

export interface DevnetSpec {
  dir: string
  validators: string[]
  observers: string[]
  /** Members listed in genesis: they write their own records and never vote. */
  members?: string[]
  /** Member-role nodes not in genesis: they follow and write once governance adds them (add-member). */
  joiningMembers?: string[]
  chainId?: string
  heartbeatMs?: number
  /** Extra lines appended to each node's config.toml sections, e.g. faster timeouts for tests. */
  consensus?: Partial<Record<'propose_timeout_ms' | 'prevote_timeout_ms' | 'precommit_timeout_ms' | 'timeout_delta_ms' | 'rebroadcast_ms', number>>
}

const LAYOUT_FILE = 'devnet.json'

/**
 * Creates a local network the way an operator would (keys generate, genesis create, init), all
 * on 127.0.0.1 with ports the OS reports free. Written to `dir`; devnet.json lists the nodes.
 */
export async function createDevnet (spec: DevnetSpec): Promise<DevnetLayout> {
  // Compile src/ for the daemons now (bin/compile.js), so that nodes started together do not
  // each build it; a daemon that cannot have it runs through tsx.
  if (process.env.MEDLEDGER_TSX !== '1') compiledSrc({ quiet: true })
  await mkdir(spec.dir, { recursive: true, mode: 0o700 })
  const chainId = spec.chainId ?? 'medledger-devnet'
  const all = [
    ...spec.validators.map(n => ({ name: n, role: 'validator' as const, listed: true })),
    ...spec.observers.map(n => ({ name: n, role: 'observer' as const, listed: true })),
    ...(spec.members ?? []).map(n => ({ name: n, role: 'member' as const, listed: true })),
    ...(spec.joiningMembers ?? []).map(n => ({ name: n, role: 'member' as const, listed: false }))
  ]
  const keys = await Promise.all(all.map(async () => await NodeKey.generate()))
  // Validators publish an X25519 encryption key in genesis (observers are never recipients).
  const encryption = all.map(() => generateX25519())
  const genesis = new Genesis({
    chainId,
    genesisTime: Date.now(),
    validators: all.flatMap((n, i) => n.role === 'validator' ? [{ name: n.name, publicKey: keys[i].publicKey, encryptionKey: encryption[i].publicKey }] : []),
    observers: all.flatMap((n, i) => n.role === 'observer' ? [{ name: n.name, publicKey: keys[i].publicKey }] : []),
    members: all.flatMap((n, i) => n.role === 'member' && n.listed ? [{ name: n.name, publicKey: keys[i].publicKey }] : []),
    params: { ...DEFAULT_PARAMS, heartbeatMs: spec.heartbeatMs ?? DEFAULT_PARAMS.heartbeatMs }
  })
  const genesisFile = join(spec.dir, 'genesis.json')
  await writeFile(genesisFile, JSON.stringify(genesis.toJson(), null, 2) + '\n')
  const nodes: DevnetNode[] = []
  // No port is bound until the daemons start: each must differ from those already handed out.
  const taken = new Set<number>()
  const port = async (): Promise<number> => { const p = await freePort(taken); taken.add(p); return p }
  for (const [i, n] of all.entries()) {
    const tokens = Object.fromEntries(TOKEN_ROLES.map(r => [r, newToken()])) as Record<TokenRole, string>
    nodes.push({ name: n.name, role: n.role, home: join(spec.dir, n.name), peerId: keys[i].peerId, p2pPort: await port(), apiPort: await port(), token: tokens.submit, tokens })
  }
  for (const [i, n] of nodes.entries()) {
    await mkdir(n.home, { recursive: true, mode: 0o700 })
    await writeKeyFile(join(n.home, 'node.key'), keys[i], n.role === 'validator' ? encryption[i] : undefined)
    await writeFile(join(n.home, 'genesis.json'), await readFile(genesisFile))
    await writeTokenFiles(n.home, n.tokens ?? { submit: n.token })
    await writePrivacyFiles(n.home, n.role)
    const bootstrap = nodes.filter(p => p !== n).map(p => `/ip4/127.0.0.1/tcp/${p.p2pPort}/p2p/${p.peerId}`)
    let config = renderConfig({ role: n.role, p2pListen: `/ip4/127.0.0.1/tcp/${n.p2pPort}`, bootstrap, apiListen: `127.0.0.1:${n.apiPort}` })
    for (const [k, v] of Object.entries(spec.consensus ?? {})) config = config.replace(new RegExp(`^${k} = .*$`, 'm'), `${k} = ${v}`)
    await writeFile(join(n.home, CONFIG_FILE), config)
  }
  const layout = { dir: spec.dir, chainId, nodes }
  await writeFile(join(spec.dir, LAYOUT_FILE), JSON.stringify(layout, null, 2) + '\n')
  return layout
}

export async function loadDevnet (dir: string): Promise<DevnetLayout | undefined> {
  const file = join(dir, LAYOUT_FILE)
  if (!(await access(file).then(() => true, () => false))) return undefined
  return JSON.parse(await readFile(file, 'utf8')) as DevnetLayout
}
