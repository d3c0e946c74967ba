import { toHex, bytesEqual } from '../encoding/bytes.ts'
import { sha256 } from '../crypto/hash.ts'
import type { ConsensusMessage } from '../chain/codec.ts'
import { blockRecordsRoot, certificateHash, evidenceRoot, proposalSignBytes, voteSignBytes } from '../chain/hashing.ts'
import type { Block } from '../chain/types.ts'

/**
 * What a consensus message is, whatever envelope it came in: the signer and the hash of the bytes
 * it signed. Two messages with one key are the same message, whatever their `seq` or signature (a
 * key holder can sign the same bytes many times with different nonces), so de-duplication and
 * per-sender accounting use this key, never the gossip id or the signature.
 */
export function signedContentKey (chainId: string, m: ConsensusMessage): string {
  if (m.kind === 'vote') return `v:${toHex(m.vote.validator)}:${toHex(sha256(voteSignBytes(chainId, m.vote)))}`
  return `p:${toHex(m.proposal.header.proposer)}:${toHex(sha256(proposalSignBytes(chainId, m.proposal.header)))}`
}

/** The signer of a consensus message (hex). */
export function signerOf (m: ConsensusMessage): string {
  return toHex(m.kind === 'vote' ? m.vote.validator : m.proposal.header.proposer)
}

/**
 * Whether the body is the one the header commits to (records root, evidence root, last commit
 * hash). The block hash covers the header only, so any relay can pair a signed proposal with
 * another body; such a copy is the relay's fault, not the proposer's, and must neither stand for the
 * proposal nor take its place in a buffer.
 */
export function bodyMatchesHeader (block: Block): boolean {
  const h = block.header
  return bytesEqual(h.recordsRoot, blockRecordsRoot(block.body.batches)) &&
    bytesEqual(h.evidenceHash, evidenceRoot(block.body.evidence)) &&
    bytesEqual(h.lastCommitHash, certificateHash(block.body.lastCommit))
}
