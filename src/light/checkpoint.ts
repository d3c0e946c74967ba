import { bytesEqual, fromHex, toHex } from '../encoding/bytes.ts'
import { blockHash } from '../chain/hashing.ts'
import type { Genesis } from '../chain/genesis.ts'
import { ValidatorSet, type Member } from '../chain/validator-set.ts'
import { parseHeaderJson, parseObject } from '../audit/proof-verify.ts'
import { MedledgerError } from '../errors.ts'
import type { HeaderSource } from './client.ts'
import type { LearnedChange, LightState } from './state.ts'
import { LightErrorCode } from './errors.ts'

/** The state of a light client that trusts a genesis file: nothing verified yet, the genesis set in force. */
export function stateFromGenesis (g: Genesis): LightState {
  return {
    chainId: g.chainId,
    genesisHash: g.hash,
    governanceDelay: g.params.governanceDelay,
    base: { height: 0, hash: g.hash },
    baseValidators: g.validators.members.map(m => ({ name: m.name, publicKey: m.publicKey })),
    baseMembers: g.members.members.map(m => ({ name: m.name, publicKey: m.publicKey })),
    changes: [],
    height: 0,
    hash: g.hash,
    time: g.genesisTime,
    last: null
  }
}

interface ValidatorsView { validators: Array<{ name: string, publicKey: string }>, changes?: Array<{ includedAt: number, effective: number, action: 'add' | 'remove', name: string, publicKey: string }> }

/**
 * The state of a light client that trusts a header hash at a height (a checkpoint another
 * verifier published). The header is fetched and must hash to it; the node's account of the
 * validators (GET /v1/validators) is used only as far as it hashes to the header's
 * validatorSetHash. Changes included by then and not yet in force are taken from the node's list:
 * a wrong one can only stop the client later (the header at its effect height would name a set it
 * cannot derive), never make it accept a header.
 */
export async function stateFromCheckpoint (o: { height: number, hash: string, governanceDelay: number, source: HeaderSource, validators: unknown }): Promise<LightState> {
  const bad = (why: string): MedledgerError => new MedledgerError(LightErrorCode.CHECKPOINT, why)
  const trusted = fromHex(o.hash, 32)
  const page = parseObject(await o.source.headers(o.height, 1), 'page')
  const item = Array.isArray(page.headers) ? page.headers[0] : undefined
  if (item === undefined) throw bad(`${o.source.name} has no header at height ${o.height}`)
  const json = parseObject(item, 'header item')
  const header = parseHeaderJson(parseObject(json.header, 'header'))
  if (header.height !== o.height || !bytesEqual(blockHash(header), trusted)) throw bad(`${o.source.name} serves another header at height ${o.height} than the trusted ${o.hash}`)
  const v = o.validators as ValidatorsView
  // The set in force at the checkpoint: the node's current set with later changes undone.
  let members: Member[] = v.validators.map(m => ({ name: m.name, publicKey: fromHex(m.publicKey, 32) }))
  const changes = [...(v.changes ?? [])]
  for (const c of [...changes].filter(c => c.effective > o.height).sort((a, b) => b.effective - a.effective)) {
    const pk = fromHex(c.publicKey, 32)
    members = c.action === 'add' ? members.filter(m => !bytesEqual(m.publicKey, pk)) : [...members, { name: c.name, publicKey: pk }]
  }
  const set = new ValidatorSet(members)
  if (!bytesEqual(set.hash, header.validatorSetHash)) throw bad(`the node's validator list does not hash to the set the trusted header names (${toHex(header.validatorSetHash)})`)
  const pending: LearnedChange[] = changes.filter(c => c.includedAt <= o.height && c.effective > o.height).map(c => ({ includedAt: c.includedAt, effective: c.effective, action: c.action, name: c.name, publicKey: fromHex(c.publicKey, 32) }))
  return {
    chainId: header.chainId,
    genesisHash: null,
    governanceDelay: o.governanceDelay,
    base: { height: o.height, hash: trusted },
    baseValidators: set.members.map(m => ({ name: m.name, publicKey: m.publicKey })),
    changes: pending,
    height: o.height,
    hash: trusted,
    time: header.time,
    last: { header: json.header as Record<string, unknown>, certificate: json.certificate as Record<string, unknown> }
  }
}
