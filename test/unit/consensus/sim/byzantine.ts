import { proposerIndex } from '../../../../src/chain/quorum.ts'
import { VoteType } from '../../../../src/chain/types.ts'
import { blockFor, INVALID_VARIANT, signProposal, signVote, type Wire } from './messages.ts'
import { SimNode } from './node.ts'

/**
 * A Byzantine validator: it runs the honest state machine (so it stays in step and its
 * equivocations land where they hurt) but has no double-sign guard. Often it signs two different
 * proposals, prevotes or precommits for one (height, round) and sends each to a different part of
 * the network (sometimes to one peer only); its own machine only sees the first. It often prevotes
 * for whatever was proposed regardless of its lock, and now and then votes in rounds ahead of
 * everyone, to tempt honest nodes into skipping rounds on its word alone.
 */
export class ByzantineNode extends SimNode {
  /** Pairs of conflicting messages sent. */
  equivocations = 0
  /** The latest proposal seen per "height/round": it prevotes for it whatever its lock says. */
  private readonly proposalsSeen = new Map<string, Uint8Array>()

  protected override observe (msg: Wire & { kind: 'proposal' | 'vote' }): void {
    if (msg.kind === 'proposal') this.proposalsSeen.set(`${msg.proposal.height}/${msg.proposal.round}`, msg.proposal.blockHash)
  }

  private get me (): number {
    return this.validatorIndex(this.key!.publicKey)
  }

  protected override emitProposal (height: number, round: number, validRound: number, hash: Uint8Array): Wire & { kind: 'proposal' } | undefined {
    const a = { kind: 'proposal' as const, proposal: signProposal(this.key!, height, round, validRound, hash) }
    this.keepOwn(a)
    if (this.env.prng.chance(0.5)) {
      const variant = this.env.prng.chance(0.3) ? INVALID_VARIANT : 1
      const other = blockFor(height, round, this.me, variant).hash
      const b = { kind: 'proposal' as const, proposal: signProposal(this.key!, height, round, this.env.prng.chance(0.5) ? validRound : -1, other) }
      this.split(a, b)
    } else {
      this.broadcast(a)
    }
    return a
  }

  protected override emitVote (type: VoteType, height: number, round: number, hash: Uint8Array | null): Wire & { kind: 'vote' } | undefined {
    const prng = this.env.prng
    // Ignore its own lock and back whatever was proposed: the help a lock-breaking attack needs.
    const seen = this.proposalsSeen.get(`${height}/${round}`)
    if (type === VoteType.PREVOTE && seen !== undefined && prng.chance(0.3)) hash = seen
    const a = { kind: 'vote' as const, vote: signVote(this.key!, this.me, type, height, round, hash) }
    this.keepOwn(a)
    if (prng.chance(0.4)) {
      const proposer = proposerIndex(height, round, this.env.validators.length)
      const alt = hash === null ? blockFor(height, round, proposer).hash : prng.chance(0.5) ? null : blockFor(height, round, proposer, 1).hash
      this.split(a, { kind: 'vote', vote: signVote(this.key!, this.me, type, height, round, alt) })
    } else {
      this.broadcast(a)
    }
    if (prng.chance(0.1)) {
      this.broadcast({ kind: 'vote', vote: signVote(this.key!, this.me, VoteType.PREVOTE, height, round + 1 + prng.int(3), null) })
    }
    return a
  }

  /** Each peer gets one of the two versions; both go out whenever there are two peers or more. */
  private split (a: Wire, b: Wire): void {
    const peers = this.peers()
    if (peers.length === 0) return
    this.equivocations++
    const first = this.env.prng.int(peers.length)
    // Half the time a narrow split: only one peer gets `a` (say, the precommit that lets it decide).
    const narrow = this.env.prng.chance(0.5)
    peers.forEach((to, i) => {
      const pickA = i === first ? true : i === (first + 1) % peers.length || narrow ? false : this.env.prng.chance(0.5)
      this.env.send(this.id, to, pickA ? a : b)
    })
  }
}
