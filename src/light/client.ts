import { bytesEqual, toHex } from '../encoding/bytes.ts'
import { verifySignature } from '../crypto/ed25519.ts'
import { blockHash } from '../chain/hashing.ts'
import { checkCertificate } from '../chain/validate.ts'
import type { BlockHeader, Certificate } from '../chain/types.ts'
import { parseCertificateJson, parseHeaderJson, parseLink, parseObject, verifiedChangeOf, verifyInclusionLink, type J } from '../audit/proof-verify.ts'
import { MedledgerError } from '../errors.ts'
import { membersAt, setAt, type LightState, type LightStore } from './state.ts'
import { LightErrorCode } from './errors.ts'
import { AuditErrorCode } from '../audit/errors.ts'

/** Where headers come from: any node's GET /v1/headers (src/light/http-source.ts), or a test's. */
export interface HeaderSource {
  readonly name: string
  /** The page of GET /v1/headers?from=&limit= as JSON. */
  headers: (from: number, limit: number) => Promise<unknown>
}

/** Two headers at one height, each certified by a quorum of the set in force there. */
export interface ForkEvidence {
  height: number
  a: { source: string, hash: string, header: unknown, certificate: unknown }
  b: { source: string, hash: string, header: unknown, certificate: unknown }
}

export class LightForkError extends MedledgerError {
  constructor (readonly evidence: ForkEvidence) {
    super(LightErrorCode.FORK, `two certified headers at height ${evidence.height}: ${evidence.a.hash} (${evidence.a.source}) and ${evidence.b.hash} (${evidence.b.source}); a quorum of validators signed both. Stopped; the evidence is printed`)
  }
}

interface Item { hash: Uint8Array, header: BlockHeader, certificate: Certificate, json: { header: J, certificate: J }, governance?: J }

const bad = (why: string, meta: Record<string, unknown> = {}): MedledgerError => new MedledgerError(LightErrorCode.INVALID, why, meta)

function parsePage (page: unknown): { items: Item[], head: number } {
  try {
    const p = parseObject(page, 'page')
    if (!Array.isArray(p.headers)) throw new Error('headers is not a list')
    const items = p.headers.map((x, i) => {
      const o = parseObject(x, `headers[${i}]`)
      const header = parseHeaderJson(parseObject(o.header, `headers[${i}].header`), `headers[${i}].header.`)
      const certificate = parseCertificateJson(parseObject(o.certificate, `headers[${i}].certificate`), `headers[${i}].certificate.`)
      return { hash: blockHash(header), header, certificate, json: { header: o.header as J, certificate: o.certificate as J }, governance: o.governance === undefined ? undefined : parseObject(o.governance, `headers[${i}].governance`) }
    })
    return { items, head: Number.isSafeInteger(p.head) ? p.head as number : 0 }
  } catch (err) {
    throw bad(`the node's header page is malformed: ${(err as Error).message}`)
  }
}

/** Does a quorum of `state`'s set at the header's height certify it? (Signatures checked.) */
function certified (state: LightState, header: BlockHeader, certificate: Certificate): boolean {
  try {
    const set = setAt(state, header.height)
    return checkCertificate(state.chainId, certificate, header, set).every(c => verifySignature(c.publicKey, c.message, c.signature))
  } catch {
    return false
  }
}

/**
 * Follows a chain by headers and commit certificates alone, from a trusted checkpoint (docs/
 * protocol.md, "Light clients"): each header must extend the last verified one, name the set in
 * force at its height and carry a certificate of a quorum of that set. Set changes are learned
 * only from governance records proved in certified blocks (the page's `governance` links) and
 * applied at their effect height; a header naming any other set stops the client. Witnesses are
 * asked for the same heights: a different header with a valid certificate is a fork, and the
 * client stops with both headers as evidence.
 */
export class LightClient {
  constructor (private readonly store: LightStore, private readonly primary: HeaderSource, private readonly witnesses: HeaderSource[] = [], private readonly pageSize = 100) {}

  get state (): LightState { return this.store.state }

  /** Verifies forward until the primary's head (or `until`); returns the new height and what witnesses could not be asked. */
  async sync (opts: { until?: number, onProgress?: (height: number, head: number) => void } = {}): Promise<{ height: number, verified: number, witnessErrors: string[] }> {
    const witnessErrors: string[] = []
    await this.#checkStillOnChain()
    let verified = 0
    for (;;) {
      const from = this.state.height + 1
      if (opts.until !== undefined && from > opts.until) break
      const limit = Math.min(this.pageSize, opts.until === undefined ? this.pageSize : opts.until - from + 1)
      const { items, head } = parsePage(await this.primary.headers(from, limit))
      if (items.length === 0) break
      let state = this.state
      const hashes: Uint8Array[] = []
      for (const item of items) {
        state = this.#verifyNext(state, item)
        hashes.push(item.hash)
      }
      for (const w of this.witnesses) {
        try {
          await this.#crossCheck(w, state, items)
        } catch (err) {
          if (err instanceof LightForkError) throw err
          witnessErrors.push(`${w.name}: ${(err as Error).message}`)
        }
      }
      await this.store.advance(hashes, state)
      verified += items.length
      opts.onProgress?.(state.height, head)
      if (state.height >= head) break
    }
    return { height: this.state.height, verified, witnessErrors }
  }

  /** The next header after `state`, verified; returns the state that includes it. */
  #verifyNext (state: LightState, item: Item): LightState {
    const h = state.height + 1
    const { header, certificate } = item
    const at = { height: h }
    if (header.height !== h) throw bad(`expected the header at height ${h}, got ${header.height}`, at)
    if (header.chainId !== state.chainId) throw bad(`header ${h} is for chain ${header.chainId}, not ${state.chainId}`, at)
    if (!bytesEqual(header.parentHash, state.hash)) throw bad(`header ${h} does not extend the verified header ${state.height} (${toHex(state.hash)})`, at)
    // [REJECT] The chain's one time rule: strictly after the parent (the genesis time at height 1).
    if (header.time <= state.time) throw bad(`header ${h} is not later than its parent`, at)
    const set = setAt(state, h)
    if (!bytesEqual(header.validatorSetHash, set.hash)) throw bad(`header ${h} names a validator set this client cannot derive: a validator-set change was not proved to it (the node left out a governance record, or the chain is not the one trusted). Sync from another node`, at)
    let checks
    try {
      checks = checkCertificate(state.chainId, certificate, header, set)
    } catch (err) {
      throw bad(`header ${h}: ${(err as Error).message}`, at)
    }
    if (!checks.every(c => verifySignature(c.publicKey, c.message, c.signature))) throw bad(`header ${h}: a certificate signature does not verify`, at)
    let changes = state.changes
    if (item.governance !== undefined) {
      const where = `the validator-set change of block ${h}`
      let link
      try {
        link = parseLink(item.governance, 'governance.')
      } catch (err) {
        throw bad(`${where}: ${(err as Error).message}`, at)
      }
      if (!bytesEqual(blockHash(link.header), item.hash)) throw bad(`${where} is proved in another block`, at)
      // [REJECT] One change at a time: the previous one must be in force before the next is included.
      const previous = changes.at(-1)
      if (previous !== undefined && previous.effective > h) throw bad(`${where} was included while another waits for height ${previous.effective}`, at)
      const change = verifiedChangeOf(state.chainId, link, set, where, membersAt(state, h))
      changes = [...changes, { includedAt: h, effective: h + state.governanceDelay, action: change.action, name: change.name, publicKey: change.publicKey }]
    }
    return { ...state, changes, height: h, hash: item.hash, time: header.time, last: { header: item.json.header, certificate: item.json.certificate } }
  }

  async #crossCheck (w: HeaderSource, state: LightState, items: Item[]): Promise<void> {
    const first = items[0].header.height
    const { items: theirs } = parsePage(await w.headers(first, items.length))
    for (const t of theirs) {
      const ours = items[t.header.height - first]
      if (ours === undefined || bytesEqual(ours.hash, t.hash)) continue
      if (certified(state, t.header, t.certificate)) throw new LightForkError(evidence(t.header.height, [this.primary.name, ours], [w.name, t]))
    }
  }

  /** After a restart: the primary must still serve the header this client verified last. */
  async #checkStillOnChain (): Promise<void> {
    const s = this.state
    if (s.last === null) return
    const { items } = parsePage(await this.primary.headers(s.height, 1))
    const t = items[0]
    if (t === undefined || t.header.height !== s.height || bytesEqual(t.hash, s.hash)) return
    if (certified(s, t.header, t.certificate)) {
      const ours = { hash: s.hash, json: { header: s.last.header, certificate: s.last.certificate } }
      throw new LightForkError(evidence(s.height, ['this client (verified earlier)', ours], [this.primary.name, t]))
    }
    throw bad(`${this.primary.name} serves another header at height ${s.height} without a valid certificate`)
  }

  /** See checkRecordProof. */
  async verifyRecordProof (proof: unknown): Promise<{ recordId: string, height: number, blockHash: string }> {
    return await checkRecordProof(this.store, proof)
  }
}

function evidence (height: number, a: [string, { hash: Uint8Array, json: { header: unknown, certificate: unknown } }], b: [string, { hash: Uint8Array, json: { header: unknown, certificate: unknown } }]): ForkEvidence {
  const side = ([source, x]: typeof a): ForkEvidence['a'] => ({ source, hash: toHex(x.hash), header: x.json.header, certificate: x.json.certificate })
  return { height, a: side(a), b: side(b) }
}

/**
 * Checks a record proof (GET /v1/records/:id/proof) against this client's own verified header
 * at its height: the header must hash to the one verified, and the record must be in it (record
 * id, batch path, batch signature by a validator in force there, batch path to recordsRoot).
 * The proof's governance chain is not needed: the client learned the sets itself.
 */
export async function checkRecordProof (store: LightStore, proof: unknown): Promise<{ recordId: string, height: number, blockHash: string }> {
  let link
  try {
    const p = parseObject(proof, 'proof')
    if (p.version !== 1) throw new Error('unsupported proof version')
    if (p.chainId !== store.state.chainId) throw new Error(`the proof is for chain ${String(p.chainId)}`)
    link = parseLink(p, '')
  } catch (err) {
    throw new MedledgerError(AuditErrorCode.PROOF_INVALID, `malformed proof: ${(err as Error).message}`)
  }
  const h = link.header.height
  const ours = await store.hashAt(h)
  if (ours === undefined || h <= store.state.base.height) throw new MedledgerError(LightErrorCode.NOT_SYNCED, `the proof is for height ${h}; this client has verified ${store.state.base.height + 1}..${store.state.height}: run \`medledger light sync\` first`)
  const hash = blockHash(link.header)
  if (!bytesEqual(hash, ours)) throw new MedledgerError(AuditErrorCode.PROOF_INVALID, `the proof's block ${h} is not the one this client verified (${toHex(ours)})`)
  const { id } = verifyInclusionLink(store.state.chainId, link, setAt(store.state, h), undefined, membersAt(store.state, h))
  return { recordId: toHex(id), height: h, blockHash: toHex(hash) }
}
