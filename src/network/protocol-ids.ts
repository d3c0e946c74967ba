/**
 * Every protocol id and gossip topic carries the chain id, so nodes of two chains that reach each
 * other never mix traffic; the trailing number is the wire version.
 */
export function topics (chainId: string): { batches: string, consensus: string } {
  return {
    batches: `/medledger/${chainId}/batches/2`,
    consensus: `/medledger/${chainId}/consensus/2`
  }
}

export function protocols (chainId: string): { status: string, blocks: string, proposalBatches: string } {
  return {
    status: `/medledger/${chainId}/status/1`,
    blocks: `/medledger/${chainId}/blocks/1`,
    proposalBatches: `/medledger/${chainId}/proposal-batches/1`
  }
}

/**
 * Gossipsub frames an application message inside an RPC protobuf; the whole frame must stay under
 * the 4 MiB stream cap, or the message is dropped silently while publish() resolves. 16 KiB is
 * ample for the protobuf envelope and topic.
 */
export const MAX_GOSSIP_RPC_BYTES = 4 * 1024 * 1024
export const MAX_GOSSIP_DATA_BYTES = MAX_GOSSIP_RPC_BYTES - 16 * 1024
