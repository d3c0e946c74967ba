import { toBase64, toHex } from '../encoding/bytes.ts'
import { peerIdOfPublicKey } from '../crypto/ed25519.ts'
import { blockHash } from '../chain/hashing.ts'
import type { Block, BlockHeader, Certificate, Evidence, MedRecord, ProposalHeader, Vote } from '../chain/types.ts'

/** JSON views of chain values for the API: bytes as hex (payloads as base64), keys also as peer ids. */
export function recordJson (r: MedRecord): Record<string, unknown> {
  return { type: r.type, subject: toHex(r.subject), contentType: r.contentType, payload: toBase64(r.payload), author: toHex(r.author), timestamp: r.timestamp }
}

export function headerJson (h: BlockHeader): Record<string, unknown> {
  return {
    chainId: h.chainId,
    height: h.height,
    round: h.round,
    time: h.time,
    proposer: toHex(h.proposer),
    parentHash: toHex(h.parentHash),
    recordsRoot: toHex(h.recordsRoot),
    validatorSetHash: toHex(h.validatorSetHash),
    lastCommitHash: toHex(h.lastCommitHash),
    evidenceHash: toHex(h.evidenceHash)
  }
}

export function certificateJson (c: Certificate): Record<string, unknown> {
  return { height: c.height, round: c.round, blockHash: toHex(c.blockHash), signatures: c.signatures.map(s => ({ validator: toHex(s.validator), signature: toHex(s.signature) })) }
}

export function voteJson (v: Vote): Record<string, unknown> {
  return { type: v.type === 1 ? 'prevote' : 'precommit', height: v.height, round: v.round, blockHash: v.blockHash === null ? null : toHex(v.blockHash), validator: toHex(v.validator), signature: toHex(v.signature) }
}

export function proposalHeaderJson (p: ProposalHeader): Record<string, unknown> {
  return { height: p.height, round: p.round, validRound: p.validRound, blockHash: toHex(p.blockHash), proposer: toHex(p.proposer), signature: toHex(p.signature) }
}

export function evidenceJson (e: Evidence): Record<string, unknown> {
  const accused = e.kind === 'vote' ? e.a.validator : e.a.proposer
  return {
    kind: e.kind,
    validator: toHex(accused),
    peerId: peerIdOfPublicKey(accused),
    height: e.a.height,
    round: e.a.round,
    a: e.kind === 'vote' ? voteJson(e.a) : proposalHeaderJson(e.a),
    b: e.kind === 'vote' ? voteJson(e.b) : proposalHeaderJson(e.b as ProposalHeader)
  }
}

/** A block's summary: header, hash and the metadata of its batches (records' payloads left out). */
export function blockJson (b: Block, certificate?: Certificate): Record<string, unknown> {
  return {
    hash: toHex(blockHash(b.header)),
    header: headerJson(b.header),
    batches: b.body.batches.map(batch => ({ author: toHex(batch.author), records: batch.records.length, types: [...new Set(batch.records.map(r => r.type))] })),
    recordCount: b.body.batches.reduce((n, batch) => n + batch.records.length, 0),
    evidence: b.body.evidence.map(evidenceJson),
    certificate: certificate === undefined ? undefined : certificateJson(certificate)
  }
}
