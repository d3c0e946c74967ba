import { decodeCbor, encodeCbor, readBytes, readList, readText, readTuple, readUint } from '../encoding/cbor.ts'
import type { SignatureCheck } from '../crypto/verify-pool.ts'
import { ChainError, ChainErrorCode } from '../chain/errors.ts'
import type { Block } from '../chain/types.ts'
import type { ValidatorSchedule } from '../chain/validator-schedule.ts'
import type { ValidatorSet } from '../chain/validator-set.ts'
import { MemberSet } from '../chain/member-set.ts'
import { checkChange, decodeChange, GOVERNANCE_ACTIONS, GOVERNANCE_RECORD_TYPE, isMemberChange, setAction, type ValidatorSetChange } from './change.ts'
import { isMedledgerError } from '../errors.ts'

interface Applied {
  /** Height of the block that carried the change. */
  includedAt: number
  /** First height the new set is in force: includedAt + delay. */
  effective: number
  change: Pick<ValidatorSetChange, 'action' | 'name' | 'publicKey'>
  set: ValidatorSet
  /** The member set in force from `effective` on (unchanged by a validator change, and vice versa). */
  members: MemberSet
}

/**
 * The validator and member schedule that follows governance: the genesis sets, then each change
 * included at height h in force from h + delay. One change at a time (of either set): a block may
 * carry at most one, and none while another is waiting to take effect.
 */
export class GovernanceSchedule implements ValidatorSchedule {
  private applied: Applied[] = []
  /** Highest height whose block has been observed. */
  scannedTo = 0

  constructor (private readonly genesisSet: ValidatorSet, private readonly delay: number, private readonly genesisMembers: MemberSet = MemberSet.EMPTY) {}

  /** The schedule a chain starts with: the genesis validators and members, its governance delay. */
  static fromGenesis (g: { validators: ValidatorSet, members: MemberSet, params: { governanceDelay: number } }): GovernanceSchedule {
    return new GovernanceSchedule(g.validators, g.params.governanceDelay, g.members)
  }

  at (height: number): ValidatorSet {
    return this.entryAt(height)?.set ?? this.genesisSet
  }

  /** The members in force at a height: they may author batches of that height's block. */
  membersAt (height: number): MemberSet {
    return this.entryAt(height)?.members ?? this.genesisMembers
  }

  /** Every set that has been or will be in force (the gater admits all validators of the current and the next set). */
  latest (): ValidatorSet {
    return this.applied.at(-1)?.set ?? this.genesisSet
  }

  /** The member set once every change included so far is in force. */
  latestMembers (): MemberSet {
    return this.applied.at(-1)?.members ?? this.genesisMembers
  }

  private entryAt (height: number): Applied | undefined {
    for (let i = this.applied.length - 1; i >= 0; i--) {
      if (this.applied[i].effective <= height) return this.applied[i]
    }
    return undefined
  }

  changes (): readonly Applied[] { return this.applied }

  checkBlock (chainId: string, block: Block): SignatureCheck[] {
    const changes = governanceChanges(block)
    if (changes.length === 0) return []
    const h = block.header.height
    if (changes.length > 1) throw new ChainError(ChainErrorCode.GOVERNANCE_INVALID, `block ${h} carries more than one governance change`, { height: h })
    // [REJECT] One change at a time: the previous one must be in force before the next is included.
    const last = this.applied.filter(a => a.includedAt < h).at(-1)
    if (last !== undefined && last.effective > h) throw new ChainError(ChainErrorCode.GOVERNANCE_INVALID, `block ${h} carries a change while another waits for height ${last.effective}`, { height: h })
    return checkChange(chainId, changes[0], this.at(h), this.membersAt(h))
  }

  observe (block: Block): void {
    const h = block.header.height
    if (h <= this.scannedTo) return
    this.scannedTo = h
    const [change] = governanceChanges(block)
    if (change === undefined) return
    this.apply(h, change)
  }

  private apply (includedAt: number, change: Applied['change']): void {
    const effective = includedAt + this.delay
    const op = { action: setAction(change), member: { name: change.name, publicKey: change.publicKey } }
    const set = this.at(effective)
    const members = this.membersAt(effective)
    this.applied.push(isMemberChange(change)
      ? { includedAt, effective, change, set, members: members.with(op) }
      : { includedAt, effective, change, set: set.with(op), members })
  }

  /** Canonical bytes of what was learned, kept in the store's meta so a restart need not rescan. */
  serialize (): Uint8Array {
    return encodeCbor([this.scannedTo, this.applied.map(a => [a.includedAt, a.change.action, a.change.name, a.change.publicKey])])
  }

  restore (bytes: Uint8Array): void {
    const [scanned, list] = readTuple(decodeCbor(bytes, 1024 * 1024), 2, 'governance state')
    this.applied = []
    this.scannedTo = 0
    for (const item of readList(list, 100_000, 'governance state')) {
      const [includedAt, action, name, publicKey] = readTuple(item, 4, 'governance entry')
      const h = readUint(includedAt, 'includedAt')
      const a = GOVERNANCE_ACTIONS.find(x => x === readText(action, 'action', 16))
      if (a === undefined) throw new Error('governance state names an unknown action')
      this.apply(h, { action: a, name: readText(name, 'name', 64), publicKey: readBytes(publicKey, 'publicKey', { length: 32 }) })
    }
    this.scannedTo = readUint(scanned, 'scannedTo')
  }
}

/** The governance changes a block's records carry (decoded; malformed ones are a ChainError). */
export function governanceChanges (block: Block): ValidatorSetChange[] {
  const out: ValidatorSetChange[] = []
  for (const batch of block.body.batches) {
    for (const r of batch.records) {
      if (r.type !== GOVERNANCE_RECORD_TYPE) continue
      try {
        out.push(decodeChange(r.payload))
      } catch (err) {
        if (!isMedledgerError(err)) throw err
        throw new ChainError(ChainErrorCode.GOVERNANCE_INVALID, `block ${block.header.height}: malformed governance record: ${err.message}`, { height: block.header.height })
      }
    }
  }
  return out
}
