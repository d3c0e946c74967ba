import { decodeConsensusMessage, encodeConsensusMessage, type ConsensusMessage } from '../chain/codec.ts'
import { proposalSignBytes, voteSignBytes } from '../chain/hashing.ts'
import { VoteType, type Block, type Proposal, type Vote } from '../chain/types.ts'
import type { Signer } from '../crypto/ed25519.ts'
import { bytesEqual } from '../encoding/bytes.ts'
import { decodeCbor, encodeCbor, readBytes, readList, readTuple, readUint } from '../encoding/cbor.ts'
import type { Logger } from '../logger.ts'
import type { LastSigned } from '../storage/index.ts'
import { mayNotSign, SignStep } from './guard.ts'
import type { ConsensusPersistence } from './ports.ts'

/**
 * The validator's key behind the double-sign guard, and the votes it kept. `guard` writes the
 * guard with the exact bytes about to be signed (and, for a vote, the validator's kept votes of
 * the height including it) in ONE synced write (ConsensusPersistence.putSigned) before the
 * signature may leave; `restore` gives back, after a restart, the votes of the height to send and
 * count again.
 */
export class GuardedSigner {
  private lastSigned: LastSigned | undefined

  constructor (
    private readonly chainId: string,
    private readonly signer: Signer,
    private readonly store: ConsensusPersistence,
    private readonly log: Logger
  ) {}

  get publicKey (): Uint8Array { return this.signer.publicKey }

  /** Loads the guard; returns our kept votes of `height` (to re-send and re-count). */
  async restore (height: number): Promise<ConsensusMessage[]> {
    this.lastSigned = await this.store.getLastSigned()
    const kept = await this.loadKeptVotes(height)
    const last = await this.lastSignedVote(height)
    if (last !== undefined && !kept.some(m => m.kind === 'vote' && m.vote.round === last.round && m.vote.type === last.type)) {
      kept.push({ kind: 'vote', vote: last })
    }
    return kept
  }

  /**
   * Whether the message with these sign bytes may be signed and sent at (height, round, step),
   * the guard (and `keptVotes`, our votes of the height including this one, for a vote) written
   * first. Signing the very same bytes again at the guarded step is allowed: Ed25519 is
   * deterministic, so it is the same signature.
   */
  async guard (height: number, round: number, step: SignStep, signBytes: Uint8Array, keptVotes?: ConsensusMessage[]): Promise<boolean> {
    const last = this.lastSigned
    if (mayNotSign(last, height, round, step)) {
      if (last === undefined || last.height !== height || last.round !== round || last.step !== step) return false
      const stored = await this.store.getLastSignedBytes()
      return stored !== undefined && bytesEqual(stored, signBytes)
    }
    const ls = { height, round, step }
    await this.store.putSigned(ls, signBytes, keptVotes === undefined ? undefined : encodeKeptVotes(height, keptVotes))
    this.lastSigned = ls
    return true
  }

  sign (bytes: Uint8Array): Uint8Array { return this.signer.sign(bytes) }

  signVote (unsigned: Pick<Vote, 'type' | 'height' | 'round' | 'blockHash'>): Vote {
    return { ...unsigned, validator: this.signer.publicKey, signature: this.signer.sign(voteSignBytes(this.chainId, unsigned)) }
  }

  signProposal (block: Block, round: number, validRound: number, blockHash: Uint8Array): Proposal {
    const unsigned = { height: block.header.height, round, validRound, blockHash }
    return { header: { ...unsigned, proposer: this.signer.publicKey, signature: this.signer.sign(proposalSignBytes(this.chainId, unsigned)) }, block }
  }

  /**
   * The vote the guard last let us sign, if it is of this height. Since putSigned writes the vote
   * with the guard, our kept votes always hold it in a database written by this release; one
   * written by an earlier release (the guard flushed before the vote was signed, the kept messages
   * written after it was sent) can hold a guard naming a vote we no longer have. The guard then
   * refuses any other vote at that step, so unless the vote is re-sent, a quorum that needs it
   * waits for ever (Finding 9: killed right after its precommit, the returning validator could not
   * precommit again). Ed25519 is deterministic: signing the kept bytes again gives the very vote.
   */
  private async lastSignedVote (height: number): Promise<Vote | undefined> {
    const ls = this.lastSigned
    if (ls === undefined || ls.height !== height || ls.step === SignStep.PROPOSE) return undefined
    const bytes = await this.store.getLastSignedBytes()
    if (bytes === undefined) return undefined
    try {
      const fields = readTuple(decodeCbor(bytes, 1024), 6, 'last signed vote')
      const blockHash = fields[5] === null ? null : readBytes(fields[5], 'last signed vote hash')
      const unsigned = { type: ls.step === SignStep.PREVOTE ? VoteType.PREVOTE : VoteType.PRECOMMIT, height, round: ls.round, blockHash }
      if (!bytesEqual(voteSignBytes(this.chainId, unsigned), bytes)) return undefined
      return { ...unsigned, validator: this.signer.publicKey, signature: this.signer.sign(bytes) }
    } catch (err) {
      this.log.warn({ err }, 'the last signed vote is unreadable: not re-sent')
      return undefined
    }
  }

  private async loadKeptVotes (height: number): Promise<ConsensusMessage[]> {
    const bytes = await this.store.getOwnMessages()
    if (bytes === undefined) return []
    try {
      const [h, list] = readTuple(decodeCbor(bytes, 64 * 1024 * 1024), 2, 'own messages')
      if (readUint(h, 'own messages height') !== height) return []
      return readList(list, 10_000, 'own messages').map(m => decodeConsensusMessage(readBytes(m, 'own message')))
    } catch (err) {
      this.log.warn({ err }, 'our kept messages are unreadable: not re-sent')
      return []
    }
  }
}

/**
 * Our votes of a height, kept for liveness, not safety (the guard prevents conflicts): after a
 * crash the node re-sends what it voted at this height, even votes nobody received. A lost
 * proposal costs only a round, so proposals (large) are not kept.
 */
function encodeKeptVotes (height: number, own: ConsensusMessage[]): Uint8Array {
  return encodeCbor([height, own.filter(m => m.kind === 'vote').map(m => encodeConsensusMessage({ ...m, seq: 0 }))])
}
