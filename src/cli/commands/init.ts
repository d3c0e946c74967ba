import { copyFile, mkdir, readFile, writeFile, access } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import type { Command } from 'commander'
import { Genesis } from '../../chain/genesis.ts'
import { readKeyFile } from '../../keys/key-file.ts'
import { CONFIG_FILE, renderConfig } from '../../config/load.ts'
import { MedledgerError } from '../../errors.ts'
import { fsyncDir, overwriteAndUnlink } from '../../keys/secure-file.ts'
import { writePrivacyFiles } from '../../privacy/setup.ts'
import { writeTokenFiles } from '../../api/tokens.ts'
import { isLoopback } from '../../api/auth.ts'
import { parseHostPort } from './start.ts'
import { action, printJson } from '../output.ts'

const collect = (v: string, prev: string[]): string[] => [...prev, v]

export function initCommand (program: Command): void {
  program.command('init')
    .description('set up a node home directory: config.toml, genesis, key and the API role tokens (api.token, api.read.token, api.plaintext.token, api.admin.token)')
    .requiredOption('--home <dir>', 'node home directory')
    .requiredOption('--genesis <file>', 'the genesis file')
    .requiredOption('--key <file>', 'the node key file (from `keys generate`); moved into the home: the original is overwritten and removed')
    .option('--keep-key', 'copy the key file instead of moving it (leaves a second copy of the private keys: keep it offline)')
    .option('--role <role>', 'validator, member (writes its own records, never votes) or observer', 'validator')
    .option('--p2p-listen <multiaddr>', 'libp2p listen address', '/ip4/127.0.0.1/tcp/26656')
    .option('--api-listen <host:port>', 'HTTP API address', '127.0.0.1:8080')
    .option('--bootstrap <multiaddr>', 'peer to dial at start, ending in /p2p/<peer id> (repeatable)', collect, [])
    .action(action(async (o: { home: string, genesis: string, key: string, keepKey?: boolean, role: string, p2pListen: string, apiListen: string, bootstrap: string[] }) => {
      if (o.role !== 'validator' && o.role !== 'observer' && o.role !== 'member') throw new MedledgerError('USAGE', `--role must be validator, member or observer, not ${o.role}`)
      const role = o.role
      const genesis = await Genesis.load(o.genesis)
      const key = await readKeyFile(o.key, { checkMode: false })
      const isObserver = genesis.observers.some(m => Buffer.compare(m.publicKey, key.publicKey) === 0)
      const listedAs = genesis.validators.has(key.publicKey) ? 'validator' : genesis.members.has(key.publicKey) ? 'member' : isObserver ? 'observer' : undefined
      // A member may be set up before governance admits it (hospitals join over time); a validator
      // or observer must be in the genesis file.
      if (listedAs !== role && !(role === 'member' && listedAs === undefined)) {
        throw new MedledgerError('USAGE', `peer id ${key.peerId} is ${listedAs === undefined ? 'not listed' : `listed as ${listedAs === 'observer' ? 'an' : 'a'} ${listedAs}`}, not as ${role === 'observer' ? 'an' : 'a'} ${role}, in ${o.genesis}`)
      }
      await mkdir(o.home, { recursive: true, mode: 0o700 })
      const exists = await access(join(o.home, CONFIG_FILE)).then(() => true, () => false)
      if (exists) throw new MedledgerError('USAGE', `${join(o.home, CONFIG_FILE)} already exists; this home is set up already`)
      await copyFile(o.genesis, join(o.home, 'genesis.json'))
      // The home's node.key becomes the only copy of the private keys (signing and X25519): the
      // file keys generate wrote is overwritten and unlinked once the copy is flushed.
      const nodeKey = join(o.home, 'node.key')
      await writeFile(nodeKey, await readFile(o.key), { mode: 0o600, flush: true })
      await fsyncDir(o.home)
      const moved = o.keepKey !== true && resolve(o.key) !== resolve(nodeKey) && await overwriteAndUnlink(o.key)
      await writeTokenFiles(o.home)
      await writePrivacyFiles(o.home, role)
      // An API reachable beyond this machine serves metadata only with the read token (README, "Security").
      const config = renderConfig({ role: o.role, p2pListen: o.p2pListen, bootstrap: o.bootstrap, apiListen: o.apiListen })
      await writeFile(join(o.home, CONFIG_FILE), isLoopback(parseHostPort(o.apiListen).host) ? config : config.replace(/^require_read_token = false$/m, 'require_read_token = true'))
      printJson({ home: o.home, role, peerId: key.peerId, chainId: genesis.chainId, key: nodeKey, ...(moved ? { removed: o.key } : {}), ...(listedAs === undefined ? { note: 'not a member in the genesis file: this node writes once a governance change (add-member) admits it' } : {}) })
    }))
}
