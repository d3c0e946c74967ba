/**
 * The member role at the command line, as an operator sets it up: genesis create --member,
 * init --role member (listed in genesis, or joining later by governance), governance propose
 * --action add-member, and the errors for a role the genesis file does not give.
 */
import test from 'ava'
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { BIN } from '../../src/devnet/daemon.ts'
import { Genesis } from '../../src/chain/genesis.ts'

const exec = promisify(execFile)
const run = async (args: string[]): Promise<{ code: number, stdout: string, stderr: string }> =>
  await exec(process.execPath, [BIN, ...args]).then(r => ({ code: 0, ...r }), (e: { code: number, stdout: string, stderr: string }) => e)

test('genesis create --member, init --role member (listed or joining), governance add-member; a member key cannot init as a validator', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'medledger-members-cli-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const key = async (name: string): Promise<{ peerId: string, encryptionKey: string }> => JSON.parse((await run(['keys', 'generate', '--out', join(dir, `${name}.key`)])).stdout) as { peerId: string, encryptionKey: string }
  const [v, m, j] = [await key('v'), await key('m'), await key('j')]
  const created = await run(['genesis', 'create', '--chain-id', 'members-cli', '--validator', `hospital=${v.peerId}`, '--member', `clinic=${m.peerId}`, '--encryption-key', `clinic=${m.encryptionKey}`, '--out', join(dir, 'genesis.json')])
  t.is(created.code, 0, created.stderr)
  t.is((JSON.parse(created.stdout) as { members: number }).members, 1)
  const genesis = await Genesis.load(join(dir, 'genesis.json'))
  t.is(genesis.members.size, 1)
  t.truthy(genesis.members.members[0].encryptionKey)
  t.is((JSON.parse(await readFile(join(dir, 'genesis.json'), 'utf8')) as { members: Array<{ name: string }> }).members[0].name, 'clinic')

  // The listed member's home: role member in its config.
  const listed = await run(['init', '--home', join(dir, 'clinic'), '--genesis', join(dir, 'genesis.json'), '--key', join(dir, 'm.key'), '--role', 'member'])
  t.is(listed.code, 0, listed.stderr)
  t.regex(await readFile(join(dir, 'clinic', 'config.toml'), 'utf8'), /^role = "member"$/m)
  t.false('note' in (JSON.parse(listed.stdout) as object))
  // A member that joins later by governance may be set up now; init says so.
  const joining = await run(['init', '--home', join(dir, 'joining'), '--genesis', join(dir, 'genesis.json'), '--key', join(dir, 'j.key'), '--role', 'member'])
  t.is(joining.code, 0, joining.stderr)
  t.regex((JSON.parse(joining.stdout) as { note: string }).note, /governance/)
  // A validator key is not a member, and a role that is not one is named.
  const wrong = await run(['init', '--home', join(dir, 'wrong'), '--genesis', join(dir, 'genesis.json'), '--key', join(dir, 'v.key'), '--keep-key', '--role', 'member'])
  t.not(wrong.code, 0)
  t.regex(wrong.stderr, /listed as a validator, not as a member/)
  const bad = await run(['init', '--home', join(dir, 'bad'), '--genesis', join(dir, 'genesis.json'), '--key', join(dir, 'v.key'), '--role', 'writer'])
  t.regex(bad.stderr, /--role must be validator, member or observer/)

  // governance propose --action add-member writes the change file.
  const change = join(dir, 'add.json')
  const proposed = await run(['governance', 'propose', '--genesis', join(dir, 'genesis.json'), '--action', 'add-member', '--name', 'joining', '--peer-id', j.peerId, '--out', change])
  t.is(proposed.code, 0, proposed.stderr)
  t.is((JSON.parse(await readFile(change, 'utf8')) as { action: string }).action, 'add-member')
  const unknown = await run(['governance', 'propose', '--genesis', join(dir, 'genesis.json'), '--action', 'promote', '--name', 'x', '--peer-id', j.peerId, '--out', join(dir, 'x.json')])
  t.regex(unknown.stderr, /--action must be one of add, remove, add-member, remove-member/)
})
