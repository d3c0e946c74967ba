import { proposalSignBytes, voteSignBytes } from '../../../../src/chain/hashing.ts'
import { quorum } from '../../../../src/chain/quorum.ts'
import { VoteType, type ProposalHeader, type Vote } from '../../../../src/chain/types.ts'
import { verifySignature, type NodeKey } from '../../../../src/crypto/ed25519.ts'
import { sha256 } from '../../../../src/crypto/hash.ts'
import { bytesEqual, toHex } from '../../../../src/encoding/bytes.ts'
import { encodeCbor } from '../../../../src/encoding/cbor.ts'
import { testValidators } from '../../../helpers/fixtures.ts'

/**
 * Blocks, signed messages and the wire format of the simulation. Signatures are real Ed25519
 * (evidence must verify with the public keys alone); since Ed25519 is deterministic, a message
 * with the same content and signer always has the same signature, so signed messages are memoised
 * per content across seeds, and each distinct message object is verified once. That keeps the
 * thousands of seeds affordable without changing what any node sees.
 */

export const SIM_CHAIN_ID = 'medledger-sim'

export interface SimBlock {
  hash: Uint8Array
  height: number
  round: number
  proposer: number
  variant: number
  /** The paper's valid(v): the Byzantine proposer sometimes makes blocks no honest node accepts. */
  valid: boolean
}

/** Variants 0 and 1 are valid blocks; 2 is an invalid one. */
export const INVALID_VARIANT = 2

const hexCache = new WeakMap<Uint8Array, string>()

/** Hex of a key or hash, memoised per array: the simulation reuses the same arrays everywhere. */
export function hex (b: Uint8Array): string {
  let h = hexCache.get(b)
  if (h === undefined) { h = toHex(b); hexCache.set(b, h) }
  return h
}

const blocksByContent = new Map<string, SimBlock>()
const blocksByHash = new Map<string, SimBlock>()

/** The block proposer `proposer` makes for (height, round); the hash stands in for the whole block. */
export function blockFor (height: number, round: number, proposer: number, variant = 0): SimBlock {
  const k = `${height}|${round}|${proposer}|${variant}`
  let b = blocksByContent.get(k)
  if (b === undefined) {
    const hash = sha256(encodeCbor(['sim-block', height, round, proposer, variant]))
    b = { hash, height, round, proposer, variant, valid: variant !== INVALID_VARIANT }
    blocksByContent.set(k, b)
    blocksByHash.set(hex(hash), b)
  }
  return b
}

export function blockByHash (hash: Uint8Array): SimBlock | undefined {
  return blocksByHash.get(hex(hash))
}

/** valid(v) as a receiving node evaluates it: a known, valid block of this height. */
export function isValidBlock (hash: Uint8Array, height: number): boolean {
  const b = blockByHash(hash)
  return b !== undefined && b.valid && b.height === height
}

const keysByN = new Map<number, NodeKey[]>()

/** The n validators' keys, sorted by public key: deterministic, so seeds replay. */
export function simKeys (n: number): NodeKey[] {
  let keys = keysByN.get(n)
  if (keys === undefined) { keys = testValidators(n); keysByN.set(n, keys) }
  return keys
}

const signedVotes = new Map<string, Vote>()
const signedProposals = new Map<string, ProposalHeader>()
const verified = new WeakMap<object, boolean>()
const MAX_MEMO = 500_000

function hashKey (h: Uint8Array | null): string {
  return h === null ? 'nil' : hex(h)
}

export function signVote (key: NodeKey, validator: number, type: VoteType, height: number, round: number, blockHash: Uint8Array | null): Vote {
  const k = `${validator}|${hex(key.publicKey).slice(0, 8)}|${type}|${height}|${round}|${hashKey(blockHash)}`
  let v = signedVotes.get(k)
  if (v === undefined) {
    const fields = { type, height, round, blockHash }
    v = Object.freeze({ ...fields, validator: key.publicKey, signature: key.sign(voteSignBytes(SIM_CHAIN_ID, fields)) })
    if (signedVotes.size > MAX_MEMO) signedVotes.clear()
    signedVotes.set(k, v)
  }
  return v
}

export function signProposal (key: NodeKey, height: number, round: number, validRound: number, blockHash: Uint8Array): ProposalHeader {
  const k = `${hex(key.publicKey).slice(0, 8)}|${height}|${round}|${validRound}|${hex(blockHash)}`
  let p = signedProposals.get(k)
  if (p === undefined) {
    const fields = { height, round, validRound, blockHash }
    p = Object.freeze({ ...fields, proposer: key.publicKey, signature: key.sign(proposalSignBytes(SIM_CHAIN_ID, fields)) })
    if (signedProposals.size > MAX_MEMO) signedProposals.clear()
    signedProposals.set(k, p)
  }
  return p
}

export function verifyVote (v: Vote): boolean {
  let ok = verified.get(v)
  if (ok === undefined) { ok = verifySignature(v.validator, voteSignBytes(SIM_CHAIN_ID, v), v.signature); verified.set(v, ok) }
  return ok
}

export function verifyProposal (p: ProposalHeader): boolean {
  let ok = verified.get(p)
  if (ok === undefined) { ok = verifySignature(p.proposer, proposalSignBytes(SIM_CHAIN_ID, p), p.signature); verified.set(p, ok) }
  return ok
}

/** A decided block as nodes keep and serve it: the hash and its commit certificate (precommits). */
export interface CommitRecord {
  height: number
  round: number
  blockHash: Uint8Array
  precommits: Vote[]
}

/** Why a certificate does not prove its block final, or null when it does. */
export function certificateProblem (c: CommitRecord, validators: Uint8Array[]): string | null {
  const seen = new Set<string>()
  for (const v of c.precommits) {
    if (v.type !== VoteType.PRECOMMIT || v.height !== c.height || v.round !== c.round) return 'a vote of another kind, height or round'
    if (v.blockHash === null || !bytesEqual(v.blockHash, c.blockHash)) return 'a precommit for another block'
    const who = hex(v.validator)
    if (!validators.some(k => bytesEqual(k, v.validator))) return 'a precommit from outside the validator set'
    if (seen.has(who)) return 'two precommits from one validator'
    if (!verifyVote(v)) return 'a bad signature'
    seen.add(who)
  }
  if (seen.size < quorum(validators.length)) return `only ${seen.size} precommits`
  if (!isValidBlock(c.blockHash, c.height)) return 'an invalid block'
  return null
}

export type Wire =
  | { kind: 'proposal', proposal: ProposalHeader }
  | { kind: 'vote', vote: Vote }
  /** Gossip pull: "at this height I hold these messages; send me what I lack". */
  | { kind: 'have', height: number, keys: Set<string> }
  | { kind: 'sync-request', height: number }
  | { kind: 'sync-response', commits: CommitRecord[] }

/** The slot a consensus message fills: one per (round, kind, sender); an honest sender fills it once. */
export function slotKey (m: Wire & { kind: 'proposal' | 'vote' }, indexOf: (pk: Uint8Array) => number): string {
  return m.kind === 'proposal' ? `p${m.proposal.round}` : `v${m.vote.type}:${m.vote.round}:${indexOf(m.vote.validator)}`
}

/**
 * The gossip log key: the slot and the value. Both of an equivocator's messages are relayed, as
 * the paper's gossip assumption has every message reach every correct process; relaying only the
 * first would let a Byzantine validator keep a polka from part of the network for ever.
 */
export function logKey (m: Wire & { kind: 'proposal' | 'vote' }, indexOf: (pk: Uint8Array) => number): string {
  const hash = m.kind === 'proposal' ? m.proposal.blockHash : m.vote.blockHash
  return `${slotKey(m, indexOf)}:${hash === null ? 'nil' : hex(hash).slice(0, 16)}`
}
