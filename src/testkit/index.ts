// medledger/testkit: a network of real medledger daemons for integration tests (docs/testkit.md).
export { Devnet, FAST_CONSENSUS, VALIDATOR_NAMES, type DevnetOptions, type WaitForHeightOptions } from './devnet.ts'
export { TestNode, NodeRequestError, type NodeRole, type NodeStatus, type RecordInput, type SubmitOptions, type SubmitResult } from './node.ts'
export type { GovernanceOutcome } from './governance.ts'
export { Link, LinkMesh } from './links.ts'
export { waitFor, TestkitTimeoutError, type WaitOptions } from './wait.ts'
export { sampleRecord } from './records.ts'
