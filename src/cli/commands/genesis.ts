import { writeFile } from 'node:fs/promises'
import type { Command } from 'commander'
import { Genesis, DEFAULT_PARAMS, publicKeyOfPeerId } from '../../chain/genesis.ts'
import { fromHex, toHex } from '../../encoding/bytes.ts'
import { MedledgerError } from '../../errors.ts'
import { action, printJson } from '../output.ts'

function members (list: string[], what: string): Array<{ name: string, publicKey: Uint8Array }> {
  return list.map(s => {
    const i = s.indexOf('=')
    if (i <= 0) throw new MedledgerError('USAGE', `--${what} takes NAME=PEERID, got "${s}"`)
    return { name: s.slice(0, i), publicKey: publicKeyOfPeerId(s.slice(i + 1)) }
  })
}

const collect = (v: string, prev: string[]): string[] => [...prev, v]

/** --encryption-key NAME=HEX: the member's X25519 public key (from `keys generate`). */
function withEncryptionKeys (list: Array<{ name: string, publicKey: Uint8Array }>, keys: string[]): Array<{ name: string, publicKey: Uint8Array, encryptionKey?: Uint8Array }> {
  const byName = new Map(keys.map(s => {
    const i = s.indexOf('=')
    if (i <= 0 || !/^[0-9a-fA-F]{64}$/.test(s.slice(i + 1))) throw new MedledgerError('USAGE', `--encryption-key takes NAME=HEX (64 hex characters), got "${s}"`)
    return [s.slice(0, i), fromHex(s.slice(i + 1).toLowerCase())] as const
  }))
  for (const name of byName.keys()) if (!list.some(m => m.name === name)) throw new MedledgerError('USAGE', `--encryption-key names ${name}, which is not a --validator or --member`)
  return list.map(m => byName.has(m.name) ? { ...m, encryptionKey: byName.get(m.name) } : m)
}

export function genesisCommand (program: Command): void {
  const g = program.command('genesis').description('create and inspect the genesis file every node and verifier trusts')
  g.command('create')
    .description('write a genesis file')
    .requiredOption('--chain-id <id>', 'chain id (letters, digits, . _ -)')
    .requiredOption('--validator <name=peerId>', 'a validator (repeatable)', collect, [])
    .option('--observer <name=peerId>', 'an observer admitted to the network (repeatable)', collect, [])
    .option('--member <name=peerId>', 'a member: a hospital that writes its own records without voting (repeatable)', collect, [])
    .option('--encryption-key <name=hex>', 'a validator\'s or member\'s X25519 encryption key, printed by keys generate (repeatable)', collect, [])
    .option('--heartbeat-ms <ms>', 'empty block interval while idle', String(DEFAULT_PARAMS.heartbeatMs))
    .option('--time <iso>', 'genesis time (default now)')
    .requiredOption('--out <file>', 'where to write it')
    .action(action(async (o: { chainId: string, validator: string[], observer: string[], member: string[], encryptionKey: string[], heartbeatMs: string, time?: string, out: string }) => {
      const validators = members(o.validator, 'validator')
      const memberList = members(o.member, 'member')
      const keyed = withEncryptionKeys([...validators, ...memberList], o.encryptionKey)
      const genesis = new Genesis({
        chainId: o.chainId,
        genesisTime: o.time === undefined ? Date.now() : Date.parse(o.time),
        validators: keyed.slice(0, validators.length),
        members: keyed.slice(validators.length),
        observers: members(o.observer, 'observer'),
        params: { ...DEFAULT_PARAMS, heartbeatMs: Number(o.heartbeatMs) }
      })
      // Round-trip through the parser so what is written is exactly what nodes accept.
      const json = Genesis.fromJson(genesis.toJson()).toJson()
      await writeFile(o.out, JSON.stringify(json, null, 2) + '\n', { flag: 'wx' }).catch((err: NodeJS.ErrnoException) => {
        throw new MedledgerError('USAGE', err.code === 'EEXIST' ? `${o.out} already exists; refusing to overwrite a genesis file` : `cannot write ${o.out}: ${err.message}`)
      })
      printJson({ file: o.out, chainId: genesis.chainId, genesisHash: toHex(genesis.hash), validators: genesis.validators.size, observers: genesis.observers.length, members: genesis.members.size })
    }))
  g.command('show')
    .description('print a genesis file with its hash')
    .argument('<file>', 'genesis file')
    .action(action(async (file: string) => {
      const genesis = await Genesis.load(file)
      printJson({ genesisHash: toHex(genesis.hash), quorum: genesis.validators.quorum, ...genesis.toJson() })
    }))
}
