/** `snapshot.json`, written beside a snapshot's database once the copy is whole. */
export const MANIFEST_FILE = 'snapshot.json'

export interface SnapshotManifest {
  format: 'medledger-snapshot/1'
  chainId: string
  genesisHash: string
  /** The head of the copy, its record count, and the stream it came from. */
  height: number
  headHash: string | null
  records: number
  entries: number
  bytes: number
  sha256: string
  /** The node it was taken from: a restore onto another node leaves out that node's consensus state. */
  peerId: string
  takenAt: string
}
