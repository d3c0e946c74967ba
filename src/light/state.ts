import { mkdir, open, readFile, rename, stat, truncate } from 'node:fs/promises'
import { join } from 'node:path'
import { fromHex, toHex } from '../encoding/bytes.ts'
import { ValidatorSet, type Member } from '../chain/validator-set.ts'
import { MemberSet } from '../chain/member-set.ts'
import { GOVERNANCE_ACTIONS, isMemberChange, setAction, type GovernanceAction } from '../governance/change.ts'
import { MedledgerError } from '../errors.ts'
import { LightErrorCode } from './errors.ts'

/** A validator-set or member-set change learned from a proved governance record, waiting for or past its effect height. */
export interface LearnedChange { includedAt: number, effective: number, action: GovernanceAction, name: string, publicKey: Uint8Array }

/**
 * What a light client trusts and has verified (`light.json` in its directory): where it started
 * (genesis or a height and hash the user gave), the newest verified header, and the validator
 * sets: the set in force at the first height it verifies, and every change learned since.
 * Hashes of all verified headers are kept in `headers.bin` (32 bytes a height, from base + 1),
 * so record proofs are checked against the client's own headers.
 */
export interface LightState {
  chainId: string
  /** null when the client started from a checkpoint other than the genesis file. */
  genesisHash: Uint8Array | null
  governanceDelay: number
  base: { height: number, hash: Uint8Array }
  /** The set in force at base.height + 1 (before the changes below take effect). */
  baseValidators: Member[]
  /** The members in force at base.height + 1 (genesis members; none known from a bare checkpoint). */
  baseMembers?: Member[]
  changes: LearnedChange[]
  height: number
  hash: Uint8Array
  time: number
  /** The newest verified header and certificate, as the API writes them: the evidence if a conflicting one turns up. */
  last: { header: Record<string, unknown>, certificate: Record<string, unknown> } | null
}

export const STATE_FILE = 'light.json'
export const HEADERS_FILE = 'headers.bin'

/** The validator set in force at `height` (> base.height): the base set with the changes effective by then. */
export function setAt (s: LightState, height: number): ValidatorSet {
  let set = new ValidatorSet(s.baseValidators)
  for (const c of s.changes) {
    if (c.effective > height) break
    if (!isMemberChange(c)) set = set.with({ action: setAction(c), member: { name: c.name, publicKey: c.publicKey } })
  }
  return set
}

/** The members in force at `height` (> base.height): batch authors besides the validators. */
export function membersAt (s: LightState, height: number): MemberSet {
  let members = new MemberSet(s.baseMembers ?? [])
  for (const c of s.changes) {
    if (c.effective > height) break
    if (isMemberChange(c)) members = members.with({ action: setAction(c), member: { name: c.name, publicKey: c.publicKey } })
  }
  return members
}

function toJson (s: LightState): unknown {
  return {
    version: 1,
    chainId: s.chainId,
    genesisHash: s.genesisHash === null ? null : toHex(s.genesisHash),
    governanceDelay: s.governanceDelay,
    base: { height: s.base.height, hash: toHex(s.base.hash) },
    baseValidators: s.baseValidators.map(m => ({ name: m.name, publicKey: toHex(m.publicKey) })),
    baseMembers: (s.baseMembers ?? []).map(m => ({ name: m.name, publicKey: toHex(m.publicKey) })),
    changes: s.changes.map(c => ({ ...c, publicKey: toHex(c.publicKey) })),
    height: s.height,
    hash: toHex(s.hash),
    time: s.time,
    last: s.last
  }
}

function fromJson (j: any): LightState {
  if (j?.version !== 1) throw new Error('unknown light client state version')
  return {
    chainId: String(j.chainId),
    genesisHash: j.genesisHash === null ? null : fromHex(j.genesisHash, 32),
    governanceDelay: Number(j.governanceDelay),
    base: { height: Number(j.base.height), hash: fromHex(j.base.hash, 32) },
    baseValidators: (j.baseValidators as any[]).map(m => ({ name: String(m.name), publicKey: fromHex(m.publicKey, 32) })),
    baseMembers: ((j.baseMembers ?? []) as any[]).map(m => ({ name: String(m.name), publicKey: fromHex(m.publicKey, 32) })),
    changes: (j.changes as any[]).map(c => {
      if (!GOVERNANCE_ACTIONS.includes(c.action)) throw new Error(`unknown governance action ${String(c.action)}`)
      return { includedAt: Number(c.includedAt), effective: Number(c.effective), action: c.action as GovernanceAction, name: String(c.name), publicKey: fromHex(c.publicKey, 32) }
    }),
    height: Number(j.height),
    hash: fromHex(j.hash, 32),
    time: Number(j.time),
    last: j.last ?? null
  }
}

/**
 * The light client's directory: the state file, replaced atomically (written beside, flushed,
 * renamed), and the append-only log of header hashes. Headers are appended and flushed before
 * the state that counts them is written, so a crash leaves either the old state (the log is cut
 * back to it on open) or the new one.
 */
export class LightStore {
  private constructor (readonly dir: string, public state: LightState) {}

  static async create (dir: string, state: LightState): Promise<LightStore> {
    await mkdir(dir, { recursive: true })
    const fh = await open(join(dir, HEADERS_FILE), 'wx').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'EEXIST') throw new MedledgerError(LightErrorCode.EXISTS, `${dir} already holds a light client; use another directory`)
      throw err
    })
    await fh.close()
    const store = new LightStore(dir, state)
    await store.#writeState()
    return store
  }

  static async open (dir: string): Promise<LightStore> {
    let text: string
    try {
      text = await readFile(join(dir, STATE_FILE), 'utf8')
    } catch (err) {
      throw new MedledgerError(LightErrorCode.NOT_INITIALISED, `no light client in ${dir} (${(err as Error).message}); run \`medledger light init\` first`)
    }
    let state: LightState
    try {
      state = fromJson(JSON.parse(text))
    } catch (err) {
      throw new MedledgerError(LightErrorCode.STATE_CORRUPT, `${join(dir, STATE_FILE)} is not a light client state: ${(err as Error).message}`)
    }
    // Hashes past the state's height were appended by a run that ended before its state was
    // written; fewer than the state counts means the log was damaged.
    const expected = (state.height - state.base.height) * 32
    const size = await stat(join(dir, HEADERS_FILE)).then(s => s.size, () => -1)
    if (size < expected) throw new MedledgerError(LightErrorCode.STATE_CORRUPT, `${join(dir, HEADERS_FILE)} holds ${Math.max(size, 0) / 32} header hashes, the state counts ${expected / 32}; start a new light client directory`)
    await truncate(join(dir, HEADERS_FILE), expected)
    return new LightStore(dir, state)
  }

  /** The verified hash at `height`, or undefined outside base+1..height. */
  async hashAt (height: number): Promise<Uint8Array | undefined> {
    if (height === this.state.base.height) return this.state.base.hash
    if (height <= this.state.base.height || height > this.state.height) return undefined
    const fh = await open(join(this.dir, HEADERS_FILE), 'r')
    try {
      const out = new Uint8Array(32)
      const { bytesRead } = await fh.read(out, 0, 32, (height - this.state.base.height - 1) * 32)
      return bytesRead === 32 ? out : undefined
    } finally {
      await fh.close()
    }
  }

  /** Appends the hashes of newly verified headers, then writes the new state. */
  async advance (hashes: Uint8Array[], state: LightState): Promise<void> {
    const fh = await open(join(this.dir, HEADERS_FILE), 'a')
    try {
      await fh.write(Buffer.concat(hashes))
      await fh.sync()
    } finally {
      await fh.close()
    }
    this.state = state
    await this.#writeState()
  }

  async #writeState (): Promise<void> {
    const file = join(this.dir, STATE_FILE)
    const tmp = `${file}.tmp`
    const fh = await open(tmp, 'w', 0o644)
    try {
      await fh.writeFile(JSON.stringify(toJson(this.state), null, 2) + '\n')
      await fh.sync()
    } finally {
      await fh.close()
    }
    await rename(tmp, file)
  }
}
