import { createPrivateKey, createPublicKey } from 'node:crypto'
import { NodeKey, type Signer } from '../../src/crypto/ed25519.ts'
import { sha256, ZERO_HASH } from '../../src/crypto/hash.ts'
import { bytesCompare } from '../../src/encoding/bytes.ts'
import {
  batchRecordsRoot, batchSignBytes, blockHash, blockRecordsRoot, certificateHash, evidenceRoot,
  proposalSignBytes, voteSignBytes
} from '../../src/chain/hashing.ts'
import { proposerIndex } from '../../src/chain/quorum.ts'
import { ValidatorSet } from '../../src/chain/validator-set.ts'
import {
  type Block, type BlockHeader, type Certificate, type Evidence, type FinalizedBlock, type MedRecord,
  type Proposal, type ProposalHeader, type RecordBatch, type Vote, VoteType
} from '../../src/chain/types.ts'

/**
 * Valid sample chain values signed with real, deterministic Ed25519 keys. Everything here is
 * built through the production hashing and sign-bytes functions, so a fixture that verifies here
 * verifies in the node. Keys are derived from fixed seeds: the same call always yields the same
 * bytes, which keeps failures reproducible.
 */

export const TEST_CHAIN_ID = 'medledger-test'
/** A fixed block time (2023-11-14T22:13:20Z), in the past: no rule of the chain compares it with a clock. */
export const TEST_TIME = 1_700_000_000_000

// PKCS#8 wrapping of a raw Ed25519 seed (RFC 8410): node:crypto derives the public key from it.
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex')

/** RFC 8032 public key of a 32-byte seed, computed by node:crypto. */
export function publicKeyOfSeed (seed: Uint8Array): Uint8Array {
  if (seed.length !== 32) throw new Error('an Ed25519 seed is 32 bytes')
  const priv = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' })
  const x = createPublicKey(priv).export({ format: 'jwk' }).x
  if (x === undefined) throw new Error('node:crypto exported no public key')
  return new Uint8Array(Buffer.from(x, 'base64url'))
}

export function keyFromSeed (seed: Uint8Array): NodeKey {
  return new NodeKey(seed, publicKeyOfSeed(seed))
}

/** The key whose seed is the byte `b` repeated 32 times (b = 1 is the protocol document's key). */
export function testKey (b: number): NodeKey {
  return keyFromSeed(new Uint8Array(32).fill(b))
}

/** `n` validator keys sorted by public key, the order the protocol indexes them in. */
export function testValidators (n: number): NodeKey[] {
  return Array.from({ length: n }, (_, i) => testKey(i + 1)).sort((a, b) => bytesCompare(a.publicKey, b.publicKey))
}

export function validatorSetOf (keys: Signer[]): ValidatorSet {
  return new ValidatorSet(keys.map((k, i) => ({ name: `validator-${i}`, publicKey: k.publicKey })))
}

/** A record by `author`; `i` varies the subject, payload and timestamp so records differ. */
export function sampleRecord (author: Uint8Array, i = 0, overrides: Partial<MedRecord> = {}): MedRecord {
  return {
    type: 'consultation',
    subject: sha256(new TextEncoder().encode(`subject-${i}`)),
    contentType: 'application/octet-stream',
    payload: new TextEncoder().encode(`payload-${i}`),
    author,
    timestamp: TEST_TIME + i,
    ...overrides
  }
}

export function signBatch (author: Signer, records: MedRecord[], chainId = TEST_CHAIN_ID): RecordBatch {
  const root = batchRecordsRoot(records)
  return { author: author.publicKey, records, signature: author.sign(batchSignBytes(chainId, author.publicKey, root, records.length)) }
}

/** A signed batch of `count` distinct records; `from` offsets the record numbering. */
export function sampleBatch (author: Signer, count = 1, from = 0, chainId = TEST_CHAIN_ID): RecordBatch {
  const records = Array.from({ length: count }, (_, i) => sampleRecord(author.publicKey, from + i))
  return signBatch(author, records, chainId)
}

export interface VoteFields { type: VoteType, height: number, round: number, blockHash: Uint8Array | null }

export function signVote (signer: Signer, v: VoteFields, chainId = TEST_CHAIN_ID): Vote {
  return { ...v, validator: signer.publicKey, signature: signer.sign(voteSignBytes(chainId, v)) }
}

export interface ProposalFields { height: number, round: number, validRound: number, blockHash: Uint8Array }

export function signProposalHeader (signer: Signer, p: ProposalFields, chainId = TEST_CHAIN_ID): ProposalHeader {
  return { ...p, proposer: signer.publicKey, signature: signer.sign(proposalSignBytes(chainId, p)) }
}

export function makeProposal (proposer: Signer, block: Block, validRound = -1, chainId = TEST_CHAIN_ID): Proposal {
  const { height, round } = block.header
  return { header: signProposalHeader(proposer, { height, round, validRound, blockHash: blockHash(block.header) }, chainId), block }
}

/** Precommits of every signer in `signers` (pass a quorum's worth) for one block hash. */
export function makeCertificate (signers: Signer[], c: { height: number, round: number, blockHash: Uint8Array }, chainId = TEST_CHAIN_ID): Certificate {
  const signatures = signers.map(s => {
    const v = signVote(s, { type: VoteType.PRECOMMIT, ...c }, chainId)
    return { validator: v.validator, signature: v.signature }
  })
  return { ...c, signatures }
}

/** Two conflicting votes of one validator at one (height, round, type). */
export function voteEquivocation (signer: Signer, height = 1, round = 0, type = VoteType.PREVOTE, chainId = TEST_CHAIN_ID): Evidence {
  const a = signVote(signer, { type, height, round, blockHash: sha256(new Uint8Array([1])) }, chainId)
  const b = signVote(signer, { type, height, round, blockHash: sha256(new Uint8Array([2])) }, chainId)
  return { kind: 'vote', a, b }
}

/** Two conflicting proposals of one validator at one (height, round). */
export function proposalEquivocation (signer: Signer, height = 1, round = 0, chainId = TEST_CHAIN_ID): Evidence {
  const a = signProposalHeader(signer, { height, round, validRound: -1, blockHash: sha256(new Uint8Array([1])) }, chainId)
  const b = signProposalHeader(signer, { height, round, validRound: -1, blockHash: sha256(new Uint8Array([2])) }, chainId)
  return { kind: 'proposal', a, b }
}

export interface BlockOptions {
  chainId?: string
  height: number
  round?: number
  time?: number
  proposer: Signer
  /** The genesis hash at height 1, else the previous header's hash. */
  parentHash?: Uint8Array
  validatorSetHash?: Uint8Array
  batches?: RecordBatch[]
  lastCommit?: Certificate | null
  evidence?: Evidence[]
}

/** A block whose header commits to its body (recordsRoot, lastCommitHash, evidenceHash). */
export function makeBlock (o: BlockOptions): Block {
  const batches = o.batches ?? []
  const lastCommit = o.lastCommit ?? null
  const evidence = o.evidence ?? []
  const header: BlockHeader = {
    chainId: o.chainId ?? TEST_CHAIN_ID,
    height: o.height,
    round: o.round ?? 0,
    time: o.time ?? TEST_TIME + o.height * 1000,
    proposer: o.proposer.publicKey,
    parentHash: o.parentHash ?? ZERO_HASH,
    recordsRoot: blockRecordsRoot(batches),
    validatorSetHash: o.validatorSetHash ?? ZERO_HASH,
    lastCommitHash: certificateHash(lastCommit),
    evidenceHash: evidenceRoot(evidence)
  }
  return { header, body: { batches, lastCommit, evidence } }
}

export interface ChainOptions {
  chainId?: string
  /** Parent of the block at height 1. */
  genesisHash?: Uint8Array
  /** Batches for the block at `height` (default: one batch of one record by its proposer). */
  batchesAt?: (height: number, proposer: NodeKey) => RecordBatch[]
  /** The time of the block at `height` (default TEST_TIME + height * 1000). */
  timeAt?: (height: number) => number
}

/**
 * `length` finalized blocks from height 1, proposed in round 0 by V[h mod N], linked by parent
 * hash and by each block carrying its predecessor's certificate, each certified by all validators.
 */
export function makeChain (validators: NodeKey[], length: number, o: ChainOptions = {}): FinalizedBlock[] {
  const chainId = o.chainId ?? TEST_CHAIN_ID
  const set = validatorSetOf(validators)
  const byKey = (pk: Uint8Array): NodeKey => validators.find(k => bytesCompare(k.publicKey, pk) === 0) as NodeKey
  const out: FinalizedBlock[] = []
  let parentHash = o.genesisHash ?? ZERO_HASH
  let lastCommit: Certificate | null = null
  for (let height = 1; height <= length; height++) {
    const proposer = byKey(set.keys[proposerIndex(height, 0, set.size)])
    const batches = o.batchesAt?.(height, proposer) ?? [sampleBatch(proposer, 1, height, chainId)]
    const block = makeBlock({ chainId, height, time: o.timeAt?.(height), proposer, parentHash, validatorSetHash: set.hash, batches, lastCommit })
    const hash = blockHash(block.header)
    const certificate = makeCertificate(validators, { height, round: 0, blockHash: hash }, chainId)
    out.push({ block, certificate })
    parentHash = hash
    lastCommit = certificate
  }
  return out
}
