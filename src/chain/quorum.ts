/** Byzantine faults tolerated by n validators: f = floor((n - 1) / 3). */
export function maxFaulty (n: number): number {
  return Math.floor((n - 1) / 3)
}

/** Votes needed for a quorum: floor(2n / 3) + 1. Equals the paper's 2f + 1 when n = 3f + 1; for other n (5, 6, 8, 9 ...) 2f + 1 would be too few for two quorums to share an honest validator. */
export function quorum (n: number): number {
  return Math.floor((2 * n) / 3) + 1
}

/** Votes that guarantee at least one honest voter (the paper's f + 1). */
export function oneHonest (n: number): number {
  return maxFaulty(n) + 1
}

/** Proposer of (height, round): V[(h + r) mod N], no clock involved. */
export function proposerIndex (height: number, round: number, n: number): number {
  return (height + round) % n
}
