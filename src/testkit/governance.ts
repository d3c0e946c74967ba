import { join } from 'node:path'
import { publicKeyOfPeerId } from '../chain/genesis.ts'
import { approveChange, encodeChange, GOVERNANCE_CONTENT_TYPE, GOVERNANCE_RECORD_TYPE, type ValidatorSetChange } from '../governance/change.ts'
import { readKeyFile } from '../keys/key-file.ts'
import { toBase64 } from '../encoding/bytes.ts'
import type { TestNode } from './node.ts'

export interface GovernanceOutcome {
  /** The height of the block that carries the change. */
  includedAt: number
  /** The first height the new validator set signs. */
  effective: number
}

/**
 * Proposes a validator-set change for `subject`, has a quorum of the current validators approve
 * it with their key files (as `medledger governance approve --home` does; a validator need not be
 * running to sign, and the subject signs only when the others are too few), and submits it to a
 * running validator with wait=final. Resolves with where it lands.
 */
export async function submitValidatorChange (chainId: string, action: 'add' | 'remove', subject: TestNode, nodes: TestNode[], nonce: number): Promise<GovernanceOutcome> {
  const submitters = nodes.filter(v => v !== subject && v.role === 'validator' && v.running && !v.down)
  if (submitters.length === 0) throw new Error(`cannot ${action} ${subject.name}: no other validator is running to submit the change`)
  const set = await submitters[0].validators()
  const members = new Set(set.validators.map(v => v.peerId))
  const approvers = [...nodes.filter(v => v !== subject), subject].filter(v => members.has(v.peerId))
  if (approvers.length < set.quorum) throw new Error(`cannot ${action} ${subject.name}: it needs ${set.quorum} approvals and the devnet holds the keys of only ${approvers.length} validators`)
  let change: ValidatorSetChange = { action, name: subject.name, publicKey: publicKeyOfPeerId(subject.peerId), nonce, approvals: [] }
  for (const v of approvers.slice(0, set.quorum)) change = approveChange(chainId, change, await readKeyFile(join(v.home, 'node.key')))
  const submitter = submitters.find(v => members.has(v.peerId)) ?? submitters[0]
  const res = await submitter.submit([{ type: GOVERNANCE_RECORD_TYPE, subject: '00'.repeat(32), contentType: GOVERNANCE_CONTENT_TYPE, payload: toBase64(encodeChange(change)) }], { wait: 'final', timeoutMs: 120_000 })
  const after = await submitter.validators()
  const landed = after.changes.find(c => c.includedAt === res.height && c.name === subject.name && c.action === action)
  if (landed === undefined) throw new Error(`${submitter.name} made the ${action} of ${subject.name} final at height ${res.height} but does not list it among its governance changes: ${JSON.stringify(after.changes)}`)
  return { includedAt: landed.includedAt, effective: landed.effective }
}
