import type { ExecutionContext } from 'ava'
import { say, SimNet, finalChecks, len, scenario, seededRandom, sleep } from '../../helpers/sim.ts'
import { waitFor } from '../../helpers/devnet.ts'
import { voteSignBytes, proposalSignBytes } from '../../../src/chain/hashing.ts'
import { verifySignature } from '../../../src/crypto/ed25519.ts'
import { fromHex } from '../../../src/encoding/bytes.ts'
import { VoteType } from '../../../src/chain/types.ts'
import { schemaChecker } from '../../helpers/schemas.ts'

interface VoteJson { type: 'prevote' | 'precommit', height: number, round: number, blockHash: string | null, validator: string, signature: string }
interface ProposalJson { height: number, round: number, validRound: number, blockHash: string, proposer: string, signature: string }
interface EvidenceJson { kind: 'vote' | 'proposal', validator: string, peerId: string, height: number, round: number, a: VoteJson | ProposalJson, b: VoteJson | ProposalJson }

/**
 * Checks one evidence item offline, with the public key alone: two messages of the accused for the
 * same (height, round, type) with different hashes, both signatures valid. Returns why not, or undefined.
 */
export function evidenceProblem (chainId: string, e: EvidenceJson): string | undefined {
  const key = fromHex(e.validator)
  if (e.kind === 'vote') {
    const [a, b] = [e.a as VoteJson, e.b as VoteJson]
    if (a.validator !== e.validator || b.validator !== e.validator) return 'votes of another validator'
    if (a.type !== b.type || a.height !== b.height || a.round !== b.round) return 'votes for different (height, round, type)'
    if (a.blockHash === b.blockHash) return 'the two votes agree'
    for (const v of [a, b]) {
      const unsigned = { type: v.type === 'prevote' ? VoteType.PREVOTE : VoteType.PRECOMMIT, height: v.height, round: v.round, blockHash: v.blockHash === null ? null : fromHex(v.blockHash) }
      if (!verifySignature(key, voteSignBytes(chainId, unsigned), fromHex(v.signature))) return `bad signature on the ${v.type} for ${v.blockHash}`
    }
    return undefined
  }
  const [a, b] = [e.a as ProposalJson, e.b as ProposalJson]
  if (a.proposer !== e.validator || b.proposer !== e.validator) return 'proposals of another validator'
  if (a.height !== b.height || a.round !== b.round) return 'proposals for different (height, round)'
  if (a.blockHash === b.blockHash) return 'the two proposals agree'
  for (const p of [a, b]) {
    if (!verifySignature(key, proposalSignBytes(chainId, { height: p.height, round: p.round, validRound: p.validRound, blockHash: fromHex(p.blockHash) }), fromHex(p.signature))) return `bad signature on the proposal of ${p.blockHash}`
  }
  return undefined
}

/**
 * 4. A Byzantine validator (run by test/helpers/test-daemon.js --test-byzantine, a switch no config
 * or environment reaches: it signs a conflicting second vote for every vote and a second proposal
 * for every proposal): safety holds (one chain on every honest node), the chain stays live, and
 * every honest node holds verified evidence naming it.
 */
export async function byzantine (t: ExecutionContext): Promise<void> {
  const loadMs = len(6_000, 120_000)
  t.timeout(loadMs + 150_000)
  await scenario(t, '4. a Byzantine validator', async r => {
    const rnd = seededRandom(t, 'byzantine')
    const bad = rnd.int(0, 3)
    const net = await SimNet.start(t, { validators: 4, observers: 1, testSwitches: { [bad]: ['--test-byzantine'] } })
    const villain = net.daemons[bad]
    const honest = net.daemons.filter(d => d !== villain)
    say(t, `Byzantine validator: ${villain.node.name} (${villain.node.peerId})`)
    const load = net.load()
    await waitFor('a first acknowledged record', async () => load.acked.size > 0, 60_000)
    await sleep(loadMs)
    t.true(load.acked.size > 0, 'the chain stays live with one Byzantine validator')

    // Every honest node (validators and the observer) holds verified evidence naming the villain.
    const kinds = new Map<string, number>()
    for (const d of honest) {
      const items = await waitFor(`evidence on ${d.node.name}`, async () => {
        const ev = await (await fetch(`${d.api}/v1/evidence`)).json() as { committed: EvidenceJson[], pending: EvidenceJson[] }
        const all = [...ev.committed, ...ev.pending]
        return all.some(e => e.peerId === villain.node.peerId) ? all : undefined
      }, 30_000)
      for (const e of items) {
        t.is(e.peerId, villain.node.peerId, `${d.node.name}: evidence names only the Byzantine validator`)
        t.is(evidenceProblem(net.layout.chainId, e), undefined, `${d.node.name}: evidence at ${e.height}/${e.round} verifies`)
        kinds.set(`${e.kind}`, (kinds.get(e.kind) ?? 0) + 1)
      }
      say(t, `${d.node.name}: ${items.length} evidence items naming ${villain.node.name}, all verified`)
    }
    // The evidence list, and the JSON of the blocks that carry evidence, hold to docs/schemas.
    const schema = schemaChecker()
    for (const d of honest) {
      const ev = await (await fetch(`${d.api}/v1/evidence`)).json() as { committed: Array<{ includedAt: number }> }
      t.is(await schema('evidence', ev), undefined, `${d.node.name}: GET /v1/evidence`)
      // An operator's alert (configs/prometheus/alerts.yml, MedledgerDoubleSigning) fires on this counter.
      if (ev.committed.length > 0) {
        const text = await (await fetch(`${d.api}/metrics`, { headers: { authorization: `Bearer ${d.node.tokens?.read ?? d.node.token}` } })).text()
        const counted = Number(/^medledger_evidence_finalized_total (\S+)/m.exec(text)?.[1] ?? 0)
        t.true(counted >= 1, `${d.node.name}: /metrics counts the evidence made final (${counted})`)
      }
      for (const h of [...new Set(ev.committed.map(e => e.includedAt))].slice(0, 3)) {
        const block = await (await fetch(`${d.api}/v1/blocks/${h}`)).json() as { evidence: unknown[] }
        t.true(block.evidence.length > 0, `${d.node.name}: block ${h} carries evidence`)
        t.is(await schema('block', block), undefined, `${d.node.name}: GET /v1/blocks/${h}`)
      }
    }
    const head = await net.waitEqualHeads(honest, 60_000)
    say(t, `honest nodes agree at height ${head.height}`)
    r.faults = 1
    r.notes.push(`evidence kinds seen (summed over honest nodes): ${[...kinds].map(([k, v]) => `${k}=${v}`).join(' ')}`, `load errors: ${load.errorSummary()}`)
    const res = await finalChecks(t, net, load)
    r.acked = res.acked
    r.lost = res.lost
  })
}
