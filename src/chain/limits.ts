/** Every size the protocol bounds, in one place (docs/protocol.md quotes them). */
export const LIMITS = {
  chainIdChars: 64,
  recordTypeChars: 64,
  contentTypeChars: 128,
  subjectBytes: 32,
  payloadBytes: 64 * 1024,
  recordsPerBatch: 10_000,
  batchBytes: 3 * 1024 * 1024,
  batchesPerBlock: 10_000,
  /** Batches in one gossip message on the batches topic. */
  batchesPerMessage: 1024,
  evidencePerBlock: 100,
  validators: 256,
  /** Members (hospitals that write without voting) in force at once: genesis and governance. */
  members: 4096,
  // A proposal carries its block through gossipsub, whose messages are capped at 4 MiB.
  blockBytes: 3.5 * 1024 * 1024,
  /** A consensus message is a vote or a proposal carrying a block. */
  consensusMessageBytes: 4 * 1024 * 1024 - 16 * 1024,
  voteBytes: 1024
} as const
