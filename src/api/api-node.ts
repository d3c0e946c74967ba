import type { Genesis } from '../chain/genesis.ts'
import type { FinalizedBlock, MedRecord } from '../chain/types.ts'
import type { GovernanceSchedule } from '../governance/schedule.ts'
import type { Logger } from '../logger.ts'
import type { Network } from '../network/index.ts'
import type { ChainStore } from '../storage/index.ts'
import type { MedledgerError } from '../errors.ts'

/** A batch the node signed and admitted: its record ids in order, and its id. */
export interface SubmittedBatch { ids: string[], batchId: string }

/**
 * What the HTTP API needs of a node, and nothing more (MedledgerNode is one): the chain's
 * identity and governance, reads of the store, a few figures of the network, consensus and
 * mempool for status and metrics, and the two calls that write.
 */
export interface ApiNode {
  readonly genesis: Genesis
  readonly role: 'validator' | 'observer' | 'member'
  readonly key: { readonly peerId: string, readonly publicKey: Uint8Array }
  readonly log: Logger
  /** When the node started (ms since the epoch), for uptime. */
  readonly startedAt: number
  /** The storage fault that stopped the node's consensus, if one did: such a node is never ready. */
  readonly fault: Error | undefined
  readonly schedule: Pick<GovernanceSchedule, 'at' | 'latest' | 'latestMembers' | 'membersAt' | 'changes'>
  readonly store: Pick<ChainStore, 'head' | 'recordCount' | 'entries' | 'getRecord' | 'getFinalized' | 'iterateFinalized' | 'iterateFinalizedBytes' | 'getBlockBytes' | 'getCertificate' | 'listCommittedEvidence' | 'listPendingEvidence'>
  readonly network: Pick<Network, 'addresses' | 'connectedPeers' | 'peerConnections' | 'peerRecords' | 'peerHeights' | 'peerScore' | 'gossipScore' | 'gossipStats' | 'traffic' | 'assembly'>
  readonly consensus: { readonly currentRound: number }
  readonly mempool: { readonly size: number, readonly recordCount: number }
  /** Signs the records as one batch of this node, admits and gossips it; refusals throw registered errors. */
  submitRecords: (records: Array<Omit<MedRecord, 'author'>>) => Promise<SubmittedBatch>
  /** Signs each list as its own batch and admits them together; each answered on its own (POST /v1/batches). */
  submitBatches: (lists: Array<Array<Omit<MedRecord, 'author'>>>) => Promise<Array<SubmittedBatch | MedledgerError>>
  /** Resolves with the height once every record is final; WAIT_TIMEOUT after timeoutMs. */
  waitFinal: (ids: string[], timeoutMs: number) => Promise<number>
  on: (event: 'finalized', fn: (fb: FinalizedBlock) => void) => unknown
}
