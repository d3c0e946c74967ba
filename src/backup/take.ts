import { copyFile, mkdir, open, readdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Level } from 'level'
import type { Genesis } from '../chain/genesis.ts'
import { toHex } from '../encoding/bytes.ts'
import { MedledgerError } from '../errors.ts'
import { ChainStore } from '../storage/index.ts'
import { decodeSnapshot } from './stream.ts'
import { BackupErrorCode } from './errors.ts'
import { MANIFEST_FILE, type SnapshotManifest } from './manifest.ts'

export interface TakeSnapshot {
  /** The node's API base URL and its admin token. */
  api: string
  adminToken: string
  /** The node's genesis file (copied beside the database) and the chain it names. */
  genesisFile: string
  genesis: Genesis
  /** A directory that does not exist yet, or is empty. */
  out: string
  onProgress?: (entries: number, bytes: number) => void
}

/**
 * Takes a snapshot of a running node: streams its database through POST /v1/admin/snapshot into a
 * new LevelDB under `out/data`, checks the copy is whole (the stream's end frame) and opens as the
 * node's chain, then writes `out/genesis.json` and `out/snapshot.json`. A failed copy leaves nothing.
 */
export async function takeSnapshot (o: TakeSnapshot): Promise<SnapshotManifest> {
  await mkdir(o.out, { recursive: true, mode: 0o700 })
  if ((await readdir(o.out)).length > 0) throw new MedledgerError('USAGE', `${o.out} is not empty: give snapshot a new directory`)
  const auth = { authorization: `Bearer ${o.adminToken}` }
  try {
    const status = await fetchJson(`${o.api}/v1/status`, auth) as { peerId: string, chainId: string }
    if (status.chainId !== o.genesis.chainId) throw new MedledgerError(BackupErrorCode.WRONG_NODE, `the node at ${o.api} runs chain ${status.chainId}, the home's genesis names ${o.genesis.chainId}`)
    const res = await fetch(`${o.api}/v1/admin/snapshot`, { method: 'POST', headers: auth }).catch((err: Error) => { throw unreachable(o.api, err) })
    if (!res.ok || res.body === null) throw new MedledgerError(BackupErrorCode.REFUSED, `the node refused the snapshot: ${res.status} ${await res.text()}`)
    const dataDir = join(o.out, 'data')
    const db = new Level<Uint8Array, Uint8Array>(dataDir, { keyEncoding: 'view', valueEncoding: 'view', errorIfExists: true })
    let summary
    try {
      // Open before the first page: a chained batch on a database still opening throws.
      await db.open()
      let entries = 0
      summary = await decodeSnapshot(res.body as unknown as AsyncIterable<Uint8Array>, async page => {
        const batch = db.batch()
        for (const [k, v] of page) batch.put(k, v)
        await batch.write()
        entries += page.length
        o.onProgress?.(entries, 0)
      })
    } finally {
      await db.close()
    }
    await syncDirectory(dataDir)
    // The copy opens as this chain's ledger (identity, head, record count), or it is no backup.
    const store = await ChainStore.open(dataDir, { chainId: o.genesis.chainId, genesisHash: o.genesis.hash, home: o.out })
    const manifest: SnapshotManifest = {
      format: 'medledger-snapshot/1',
      chainId: o.genesis.chainId,
      genesisHash: toHex(o.genesis.hash),
      height: store.head?.height ?? 0,
      headHash: store.head === null ? null : toHex(store.head.hash),
      records: store.recordCount,
      entries: summary.entries,
      bytes: summary.bytes,
      sha256: summary.sha256,
      peerId: status.peerId,
      takenAt: new Date().toISOString()
    }
    await store.close()
    await copyFile(o.genesisFile, join(o.out, 'genesis.json'))
    await writeFile(join(o.out, MANIFEST_FILE), JSON.stringify(manifest, null, 2) + '\n', { mode: 0o600, flush: true })
    return manifest
  } catch (err) {
    await rm(o.out, { recursive: true, force: true })
    throw err
  }
}

function unreachable (api: string, err: Error): MedledgerError {
  return new MedledgerError(BackupErrorCode.UNREACHABLE, `cannot reach the node's API at ${api} (${err.message}): snapshot copies a running node; is it started? (--api names another address)`)
}

async function fetchJson (url: string, headers: Record<string, string>): Promise<unknown> {
  const res = await fetch(url, { headers }).catch((err: Error) => { throw unreachable(new URL(url).origin, err) })
  if (!res.ok) throw new MedledgerError(BackupErrorCode.REFUSED, `${url}: ${res.status} ${await res.text()}`)
  return await res.json()
}

/** Flushes every file of a directory and the directory itself: the copy is on disk before the manifest says it exists. */
async function syncDirectory (dir: string): Promise<void> {
  for (const name of [...await readdir(dir), '.']) {
    const fh = await open(join(dir, name), 'r')
    try { await fh.sync() } finally { await fh.close() }
  }
}
