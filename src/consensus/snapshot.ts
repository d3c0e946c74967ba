import { decodeCbor, encodeCbor, readInt, readNullableBytes, readText, readTuple, readUint } from '../encoding/cbor.ts'
import { HASH_LENGTH } from '../crypto/hash.ts'
import type { ConsensusSnapshot, ConsensusStep } from './state-machine-types.ts'

/** Canonical bytes of the state machine's snapshot, kept in the store's consensus bucket. */
export function encodeSnapshot (s: ConsensusSnapshot): Uint8Array {
  return encodeCbor([s.height, s.round, s.step, s.lockedRound, s.lockedHash, s.validRound, s.validHash])
}

export function decodeSnapshot (b: Uint8Array): ConsensusSnapshot {
  const f = readTuple(decodeCbor(b, 256), 7, 'snapshot')
  const step = readText(f[2], 'snapshot.step', 16)
  if (step !== 'propose' && step !== 'prevote' && step !== 'precommit') throw new Error(`snapshot step ${step} is unknown`)
  return {
    height: readUint(f[0], 'snapshot.height'),
    round: readUint(f[1], 'snapshot.round'),
    step: step as ConsensusStep,
    lockedRound: readInt(f[3], 'snapshot.lockedRound'),
    lockedHash: readNullableBytes(f[4], 'snapshot.lockedHash', HASH_LENGTH),
    validRound: readInt(f[5], 'snapshot.validRound'),
    validHash: readNullableBytes(f[6], 'snapshot.validHash', HASH_LENGTH)
  }
}
