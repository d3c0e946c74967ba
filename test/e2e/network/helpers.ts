import type { ExecutionContext } from 'ava'
import { NodeKey } from '../../../src/crypto/ed25519.ts'
import { Genesis, DEFAULT_PARAMS } from '../../../src/chain/genesis.ts'
import { blockHash } from '../../../src/chain/hashing.ts'
import { finalizedToCbor } from '../../../src/chain/codec.ts'
import type { ConsensusMessage } from '../../../src/chain/codec.ts'
import type { FinalizedBlock, RecordBatch } from '../../../src/chain/types.ts'
import { encodeCbor } from '../../../src/encoding/cbor.ts'
import { bytesEqual } from '../../../src/encoding/bytes.ts'
import { ZERO_HASH } from '../../../src/crypto/hash.ts'
import { MedledgerError, PeerAction } from '../../../src/errors.ts'
import { silentLogger, createLogger, type Logger } from '../../../src/logger.ts'
import { Network, type NetworkHandlers, type NetworkOptions, type Verdict } from '../../../src/network/index.ts'

/**
 * Real libp2p nodes on loopback with an in-memory "chain": an array of fabricated finalized blocks
 * whose only check is the hash link, so these tests exercise the network and not the verifier.
 */
export const logger: Logger = process.env.NETWORK_TEST_LOG !== undefined ? createLogger({ level: process.env.NETWORK_TEST_LOG }) : silentLogger

export async function makeKeys (n: number): Promise<NodeKey[]> {
  return await Promise.all(Array.from({ length: n }, async () => await NodeKey.generate()))
}

export function makeGenesis (chainId: string, validators: NodeKey[], observers: NodeKey[] = [], genesisTime = 1_700_000_000_000): Genesis {
  return new Genesis({
    chainId,
    genesisTime,
    validators: validators.map((k, i) => ({ name: `v${i}`, publicKey: k.publicKey })),
    observers: observers.map((k, i) => ({ name: `o${i}`, publicKey: k.publicKey })),
    params: DEFAULT_PARAMS
  })
}

/** A chain of `n` linked blocks with one small batch each (signatures are filler: nothing verifies them). */
export function fabricateChain (genesis: Genesis, n: number, opts: { badParentAt?: number, proposer?: Uint8Array } = {}): FinalizedBlock[] {
  const out: FinalizedBlock[] = []
  let parent = genesis.hash
  const proposer = opts.proposer ?? genesis.validators.keys[0]
  for (let height = 1; height <= n; height++) {
    const header = {
      chainId: genesis.chainId,
      height,
      round: 0,
      time: genesis.genesisTime + height * 1000,
      proposer,
      parentHash: height === opts.badParentAt ? new Uint8Array(32).fill(7) : parent,
      recordsRoot: ZERO_HASH,
      validatorSetHash: genesis.validators.hash,
      lastCommitHash: ZERO_HASH,
      evidenceHash: ZERO_HASH
    }
    const hash = blockHash(header)
    out.push({
      block: { header, body: { batches: [sampleBatch(height)], lastCommit: null, evidence: [] } },
      certificate: { height, round: 0, blockHash: hash, signatures: [{ validator: proposer, signature: new Uint8Array(64).fill(height % 256) }] }
    })
    parent = hash
  }
  return out
}

export function sampleBatch (seed: number, payloadBytes = 64): RecordBatch {
  const author = new Uint8Array(32).fill(seed % 251)
  return {
    author,
    signature: new Uint8Array(64).fill(9),
    records: [{ type: 'consultation', subject: new Uint8Array(32).fill(1), contentType: 'application/octet-stream', payload: new Uint8Array(payloadBytes).fill(seed % 256), author, timestamp: 1_700_000_000_000 + seed }]
  }
}

/** An in-memory chain store plus everything the network's handlers record. */
export class FakeChain implements NetworkHandlers {
  readonly blocks: FinalizedBlock[] = []
  readonly batches: Array<{ batch: RecordBatch, from: string }> = []
  readonly consensus: Array<{ msg: ConsensusMessage, from: string }> = []
  readonly applied: Array<{ from: number, to: number, peer: string }> = []
  batchVerdict: Verdict = 'accept'
  readBlockCalls = 0

  constructor (readonly genesis: Genesis, blocks: FinalizedBlock[] = []) {
    this.blocks.push(...blocks)
  }

  get height (): number {
    return this.blocks.length
  }

  async onBatches (batches: RecordBatch[], from: string): Promise<Verdict> {
    for (const batch of batches) this.batches.push({ batch, from })
    return this.batchVerdict
  }

  async onConsensus (msg: ConsensusMessage, _size: number, from: string): Promise<Verdict> {
    this.consensus.push({ msg, from })
    return 'accept'
  }

  /** Batches this chain holds as if in its mempool, by hex id: compact proposals are filled from them. */
  readonly held = new Map<string, RecordBatch>()
  heldBatch (id: string): RecordBatch | undefined {
    return this.held.get(id)
  }

  localStatus (): { chainId: string, genesisHash: Uint8Array, height: number, headHash: Uint8Array } {
    const head = this.blocks.at(-1)
    return { chainId: this.genesis.chainId, genesisHash: this.genesis.hash, height: this.height, headHash: head === undefined ? this.genesis.hash : blockHash(head.block.header) }
  }

  async readBlocks (from: number, to: number, maxBytes: number): Promise<Uint8Array[]> {
    this.readBlockCalls++
    const out: Uint8Array[] = []
    let total = 0
    for (let h = from; h <= Math.min(to, this.height); h++) {
      const b = encodeCbor(finalizedToCbor(this.blocks[h - 1]))
      if (total + b.length > maxBytes && out.length > 0) break
      total += b.length
      out.push(b)
    }
    return out
  }

  // Stand-in for the chain verifier: heights, hash links and the certificate's block hash.
  async applyBlocks (blocks: FinalizedBlock[], peer: string): Promise<void> {
    const first = this.height + 1
    for (const fb of blocks) {
      const h = fb.block.header
      if (h.height <= this.height) continue
      if (h.height !== this.height + 1) throw new MedledgerError('TEST_GAP', `expected height ${this.height + 1}, got ${h.height}`, {}, PeerAction.REJECT)
      const parent = this.height === 0 ? this.genesis.hash : blockHash(this.blocks[this.height - 1].block.header)
      if (!bytesEqual(h.parentHash, parent)) throw new MedledgerError('TEST_BAD_LINK', `block ${h.height} does not link to its parent`, {}, PeerAction.REJECT)
      if (!bytesEqual(fb.certificate.blockHash, blockHash(h))) throw new MedledgerError('TEST_BAD_CERT', `certificate does not match block ${h.height}`, {}, PeerAction.REJECT)
      this.blocks.push(fb)
    }
    if (this.height >= first) this.applied.push({ from: first, to: this.height, peer })
  }
}

export interface TestNode { net: Network, chain: FakeChain, key: NodeKey }

export async function startNode (t: ExecutionContext, x: { key: NodeKey, genesis: Genesis, allowed: string[], bootstrap?: string[], chain?: FakeChain, opts?: Partial<NetworkOptions> & Record<string, unknown> }): Promise<TestNode> {
  const chain = x.chain ?? new FakeChain(x.genesis)
  const net = new Network({ listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: x.bootstrap ?? [], syncIntervalMs: 500, ...x.opts }, {
    key: x.key, genesis: x.genesis, handlers: chain, logger, allowed: x.allowed
  })
  t.teardown(async () => { await net.stop() })
  await net.start()
  return { net, chain, key: x.key }
}

/** Starts nodes one after another, each bootstrapping to all started before it: a full mesh. */
export async function startMesh (t: ExecutionContext, keys: NodeKey[], genesis: Genesis, allowed: string[], chains?: FakeChain[], opts?: Partial<NetworkOptions> & Record<string, unknown>): Promise<TestNode[]> {
  const nodes: TestNode[] = []
  for (const [i, key] of keys.entries()) {
    nodes.push(await startNode(t, { key, genesis, allowed, bootstrap: nodes.flatMap(n => n.net.addresses), chain: chains?.[i], opts }))
  }
  return nodes
}

export async function waitFor (what: string, cond: () => boolean, timeoutMs = 60_000, stepMs = 25): Promise<void> {
  const until = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`)
    await sleep(stepMs)
  }
}

export async function sleep (ms: number): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, ms))
}

export function connections (n: TestNode, peer: string): number {
  return n.net.host?.getConnections().filter(c => c.remotePeer.toString() === peer).length ?? 0
}

export function fullyConnected (nodes: TestNode[]): boolean {
  return nodes.every(n => nodes.every(m => m === n || n.net.connectedPeers().includes(m.net.peerId)))
}
