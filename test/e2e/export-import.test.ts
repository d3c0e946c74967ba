import test from 'ava'
import { execFile, spawn } from 'node:child_process'
import { access, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { createDevnet, type DevnetLayout } from '../../src/devnet/setup.ts'
import { BIN, Daemon } from '../../src/devnet/daemon.ts'
import { freePort } from '../../src/devnet/ports.ts'
import { Genesis } from '../../src/chain/genesis.ts'
import { recordId } from '../../src/chain/hashing.ts'
import { ChainStore } from '../../src/storage/index.ts'
import { VerifyPool } from '../../src/crypto/verify-pool.ts'
import { RecordProofs } from '../../src/api/proof.ts'
import { verifyRecordProof } from '../../src/audit/proof-verify.ts'
import { ExportReader } from '../../src/export/format.ts'
import { checkExportHeader, importExport } from '../../src/export/import.ts'
import { fromHex, toHex } from '../../src/encoding/bytes.ts'
import { isMedledgerError } from '../../src/errors.ts'
import { FAST_CONSENSUS, sampleRecord, waitFor } from '../helpers/devnet.ts'

const exec = promisify(execFile)

interface Run { code: number, stdout: string, stderr: string }
async function cli (...args: string[]): Promise<Run> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [BIN, ...args])
    return { code: 0, stdout, stderr }
  } catch (err) {
    const e = err as { code: number, stdout: string, stderr: string }
    return { code: e.code, stdout: e.stdout, stderr: e.stderr }
  }
}

interface Chain {
  dir: string
  layout: DevnetLayout
  genesisFile: string
  genesis: Genesis
  source: string
  height: number
  headHash: string
  ids: string[]
  export: string
  /** Byte offset of each block's frame (its length prefix) in the export, by height. */
  frames: Map<number, number>
}

let chain: Chain

/** A fresh observer home set up the way a regulator would: `medledger init --role observer`. */
async function observerHome (name: string, extra: string[] = []): Promise<string> {
  const home = join(chain.dir, name)
  const r = await cli('init', '--home', home, '--genesis', chain.genesisFile, '--key', join(chain.dir, 'regulator', 'node.key'), '--keep-key', '--role', 'observer', ...extra)
  if (r.code !== 0) throw new Error(`init failed: ${r.stderr}`)
  return home
}

async function head (home: string): Promise<{ height: number, hash: string | null }> {
  const store = await ChainStore.open(join(home, 'data'))
  try {
    return { height: store.head?.height ?? 0, hash: store.head === null ? null : toHex(store.head.hash) }
  } finally {
    await store.close()
  }
}

function frameOffsets (bytes: Buffer, from: number, to: number): Map<number, number> {
  const out = new Map<number, number>()
  let off = bytes.indexOf(0x0a) + 1
  for (let h = from; h <= to; h++) {
    out.set(h, off)
    off += 4 + bytes.readUInt32BE(off)
  }
  return out
}

test.before(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'medledger-export-'))
  // The regulator is listed in the genesis as an observer but never started: its database is
  // built from the export alone, with no network.
  const layout = await createDevnet({ dir, validators: ['solo'], observers: ['regulator'], heartbeatMs: 100, consensus: FAST_CONSENSUS })
  const solo = new Daemon(layout.nodes[0])
  solo.start()
  try {
    await waitFor('the first block', async () => ((await solo.status())?.height ?? 0) >= 1)
    const ids: string[] = []
    for (let i = 0; i < 12; i++) {
      const res = await solo.submit([sampleRecord(3 * i), sampleRecord(3 * i + 1), sampleRecord(3 * i + 2)], i % 4 === 0)
      if (res.body.ids === undefined) throw new Error(`submit failed: ${JSON.stringify(res.body)}`)
      ids.push(...res.body.ids)
    }
    // Every record final, and enough blocks for several verification runs.
    await waitFor('every record final', async () => {
      const ok = await Promise.all(ids.map(async id => (await fetch(`${solo.api}/v1/records/${id}`)).ok))
      return ok.every(Boolean)
    })
    await waitFor('height 40', async () => ((await solo.status())?.height ?? 0) >= 40)

    // The node holds its database's lock: export says to stop it first.
    const locked = await cli('export', '--home', layout.nodes[0].home, '--out', join(dir, 'never.mlx'))
    if (locked.code === 0 || !/is running/.test(locked.stderr) || !/Stop it first/.test(locked.stderr)) throw new Error(`export of a running node: ${JSON.stringify(locked)}`)
    if (await access(join(dir, 'never.mlx')).then(() => true, () => false)) throw new Error('export of a running node wrote a file')
  } finally {
    await solo.stop()
  }
  const source = layout.nodes[0].home
  const h = await head(source)
  const file = join(dir, 'chain.mlx')
  const r = await cli('export', '--home', source, '--out', file)
  if (r.code !== 0) throw new Error(`export failed: ${r.stderr}`)
  const out = JSON.parse(r.stdout) as { from: number, to: number, lastBlockHash: string }
  if (out.to !== h.height || out.lastBlockHash !== h.hash) throw new Error(`export summary ${r.stdout} does not match the head ${JSON.stringify(h)}`)
  const genesisFile = join(dir, 'genesis.json')
  const ids: string[] = []
  const store = await ChainStore.open(join(source, 'data'))
  for await (const fb of store.iterateFinalized(1, h.height)) for (const b of fb.block.body.batches) for (const rec of b.records) ids.push(toHex(recordId(rec)))
  await store.close()
  chain = { dir, layout, genesisFile, genesis: await Genesis.load(genesisFile), source, height: h.height, headHash: h.hash!, ids, export: file, frames: frameOffsets(await readFile(file), 1, h.height) }
})

test.after.always(async () => {
  if (chain !== undefined) await rm(chain.dir, { recursive: true, force: true })
})

test.serial('an export imports into a fresh observer home: same head, verify passes, the same record proofs', async t => {
  t.is(chain.ids.length, 36)
  const home = await observerHome('observer', ['--api-listen', `127.0.0.1:${await freePort()}`, '--p2p-listen', `/ip4/127.0.0.1/tcp/${await freePort()}`])
  const r = await cli('import', '--home', home, '--in', chain.export, '--json', '--run', '8')
  t.is(r.code, 0, r.stderr)
  const report = JSON.parse(r.stdout) as { ok: boolean, imported: number, skipped: number, height: number, headHash: string }
  t.true(report.ok)
  t.is(report.imported, chain.height)
  t.is(report.skipped, 0)
  t.is(report.height, chain.height)
  t.is(report.headHash, chain.headHash)
  t.deepEqual(await head(home), { height: chain.height, hash: chain.headHash })

  const v = await cli('verify', '--home', home, '--json')
  t.is(v.code, 0, v.stdout + v.stderr)
  const audit = JSON.parse(v.stdout) as { ok: boolean, height: number, records: number }
  t.true(audit.ok)
  t.is(audit.height, chain.height)
  t.is(audit.records, chain.ids.length)

  // The same proofs from both databases, and they verify against the genesis file.
  const a = await ChainStore.open(join(chain.source, 'data'))
  const b = await ChainStore.open(join(home, 'data'))
  try {
    // This chain's validator set never changed: its proofs carry no governance chain.
    const proofsOf = (store: ChainStore): RecordProofs => new RecordProofs({ chainId: chain.genesis.chainId, genesisHash: chain.genesis.hash, schedule: { changes: () => [] }, store })
    for (const id of chain.ids) {
      const pa = await proofsOf(a).proof((await a.getRecord(fromHex(id)))!)
      const pb = await proofsOf(b).proof((await b.getRecord(fromHex(id)))!)
      t.deepEqual(pb, pa)
      t.is(verifyRecordProof(pb, chain.genesis).recordId, id)
    }
  } finally {
    await a.close()
    await b.close()
  }

  // The regulator's node starts from the imported database (no peer is up) and serves the proofs.
  const config = await readFile(join(home, 'config.toml'), 'utf8')
  const apiPort = Number(/listen = "127\.0\.0\.1:(\d+)"/.exec(config)![1])
  const observer = new Daemon({ name: 'observer', role: 'observer', home, peerId: chain.layout.nodes[1].peerId, p2pPort: 0, apiPort, token: '' })
  observer.start()
  t.teardown(async () => { await observer.stop('SIGKILL') })
  const status = await waitFor('the observer API', async () => await observer.status())
  t.is(status.height, chain.height)
  t.is(status.headHash, chain.headHash)
  const served = await (await fetch(`${observer.api}/v1/records/${chain.ids[7]}/proof`)).json()
  t.is(verifyRecordProof(served, chain.genesis).recordId, chain.ids[7])
  await observer.stop()

  // Importing the same file again writes nothing and succeeds: every block is already there.
  const again = await cli('import', '--home', home, '--in', chain.export, '--json')
  t.is(again.code, 0, again.stderr)
  t.like(JSON.parse(again.stdout), { ok: true, imported: 0, skipped: chain.height, height: chain.height })
})

test.serial('import resumes: a partial export, then the whole one; a later range leaving a gap is refused', async t => {
  const home = await observerHome('resume')
  const part = join(chain.dir, 'part.mlx')
  t.is((await cli('export', '--home', chain.source, '--out', part, '--to', '20')).code, 0)
  t.like(JSON.parse((await cli('import', '--home', home, '--in', part, '--json')).stdout), { ok: true, imported: 20, height: 20 })
  // A later range that leaves a gap is refused.
  const later = join(chain.dir, 'later.mlx')
  t.is((await cli('export', '--home', chain.source, '--out', later, '--from', '30')).code, 0)
  const gap = await cli('import', '--home', home, '--in', later, '--json')
  t.is(gap.code, 1)
  t.like(JSON.parse(gap.stdout), { ok: false, code: 'IMPORT_GAP', firstBadHeight: 30, height: 20 })
  // The whole file: blocks 1-20 are checked against the stored ones and skipped.
  const r = await cli('import', '--home', home, '--in', chain.export, '--json', '--run', '8')
  t.is(r.code, 0, r.stdout)
  t.like(JSON.parse(r.stdout), { ok: true, skipped: 20, imported: chain.height - 20, height: chain.height, headHash: chain.headHash })
  t.is((await cli('verify', '--home', home)).code, 0)
})

test.serial('an import cut short (a truncated file, kill -9) is finished by importing again', async t => {
  // An interrupted transfer: the file is cut inside block 27. The blocks before it are verified
  // and written, nothing from 27 on; importing the whole file then finishes the job.
  const home2 = await observerHome('cut')
  const bytes = await readFile(chain.export)
  const cut = join(chain.dir, 'cut.mlx')
  await writeFile(cut, bytes.subarray(0, chain.frames.get(27)! + 10))
  const c = await cli('import', '--home', home2, '--in', cut, '--json', '--run', '8')
  t.is(c.code, 1)
  const cr = JSON.parse(c.stdout) as { ok: boolean, firstBadHeight: number, height: number, error: string, code: string }
  t.like(cr, { ok: false, firstBadHeight: 27, height: 26, code: 'EXPORT_FORMAT' })
  t.regex(cr.error, /ends inside block 27/)
  const done = await cli('import', '--home', home2, '--in', chain.export, '--json')
  t.like(JSON.parse(done.stdout), { ok: true, skipped: 26, imported: chain.height - 26, height: chain.height, headHash: chain.headHash })

  // kill -9 at some moment during an import (one commit per block): a second import completes it.
  const home3 = await observerHome('killed')
  const proc = spawn(process.execPath, [BIN, 'import', '--home', home3, '--in', chain.export, '--run', '1'], { stdio: 'ignore' })
  const exited = new Promise(resolve => proc.once('exit', resolve))
  // Whenever the kill lands (before, during or after the commits), the second import completes.
  await Promise.race([exited, new Promise(resolve => setTimeout(resolve, 1000 + Math.floor(Math.random() * 1000)))])
  proc.kill('SIGKILL')
  await exited
  const resumed = await cli('import', '--home', home3, '--in', chain.export, '--json')
  t.is(resumed.code, 0, resumed.stdout + resumed.stderr)
  t.like(JSON.parse(resumed.stdout), { ok: true, height: chain.height, headHash: chain.headHash })
  t.is((await cli('verify', '--home', home3)).code, 0)
})

test.serial('a tampered export is refused at the altered block, and nothing from it on is written', async t => {
  const bytes = await readFile(chain.export)
  // One byte of a record's payload in a block with records.
  const target = chain.frames.get(3)!
  const flipped = Buffer.from(bytes)
  const at = target + 4 + Math.floor(bytes.readUInt32BE(target) / 2)
  flipped[at] ^= 0x01
  const file = join(chain.dir, 'tampered.mlx')
  await writeFile(file, flipped)
  const home = await observerHome('tampered')
  const r = await cli('import', '--home', home, '--in', file)
  t.is(r.code, 1)
  t.regex(r.stdout, /FAILED at block 3: /)
  t.is((await head(home)).height, 2)

  // Another chain's (or genesis's) export is refused before the database is touched.
  const other = join(chain.dir, 'other-chain.mlx')
  await writeFile(other, Buffer.concat([Buffer.from(bytes.subarray(0, bytes.indexOf(0x0a)).toString('ascii').replace('chain=medledger-devnet', 'chain=other-chain')), bytes.subarray(bytes.indexOf(0x0a))]))
  const home2 = await observerHome('other')
  const o = await cli('import', '--home', home2, '--in', other)
  t.is(o.code, 1)
  t.regex(o.stderr, /IMPORT_WRONG_CHAIN: .* is an export of chain other-chain/)
  t.false(await access(join(home2, 'data')).then(() => true, () => false))
})

test.serial('every altered byte is caught: header bytes by the header check or the range it names, block bytes at their block', async t => {
  const bytes = await readFile(chain.export)
  const headerEnd = bytes.indexOf(0x0a)
  // Inline verification: worker threads would not inherit the test runner's TypeScript loader.
  const pool = new VerifyPool({ inlineBelow: Number.MAX_SAFE_INTEGER })
  t.teardown(async () => { await pool.close() })
  const tmp = join(chain.dir, 'flips')
  const file = join(chain.dir, 'flip.mlx')
  const frameOf = (off: number): number => {
    let h = 1
    for (const [height, start] of chain.frames) if (start <= off) h = height
    return h
  }
  // Every byte of the header line (and its newline): refused when the header is read, or (a
  // changed height range) when the blocks do not match it.
  for (let i = 0; i <= headerEnd; i++) {
    const b = Buffer.from(bytes)
    b[i] ^= 0x01
    await writeFile(file, b)
    let reader: ExportReader | undefined
    try {
      reader = await ExportReader.open(file)
      checkExportHeader(reader.header, chain.genesis, file)
    } catch (err) {
      await reader?.close()
      t.true(isMedledgerError(err), `header byte ${i}`)
      continue
    }
    const dir = join(tmp, `h${i}`)
    const store = await ChainStore.open(dir, { chainId: chain.genesis.chainId, genesisHash: chain.genesis.hash })
    try {
      const report = await importExport(reader, store, chain.genesis, pool)
      t.false(report.ok, `header byte ${i} altered, yet the import succeeded`)
      t.is(report.code, 'EXPORT_FORMAT', `header byte ${i}`)
    } finally {
      await store.close()
      await reader.close()
      await rm(dir, { recursive: true, force: true })
    }
  }
  // Block bytes: every byte of blocks 1-3 (the first, a record-carrying one) and a stride through the rest.
  const positions: number[] = []
  for (let i = headerEnd + 1; i < chain.frames.get(4)!; i++) positions.push(i)
  for (let i = chain.frames.get(4)!; i < bytes.length; i += 97) positions.push(i)
  positions.push(bytes.length - 1)
  let n = 0
  for (const pos of positions) {
    const b = Buffer.from(bytes)
    b[pos] ^= 1 << (pos % 8)
    await writeFile(file, b)
    const dir = join(tmp, String(n++))
    const reader = await ExportReader.open(file)
    const store = await ChainStore.open(dir, { chainId: chain.genesis.chainId, genesisHash: chain.genesis.hash })
    try {
      const report = await importExport(reader, store, chain.genesis, pool, { runSize: 16 })
      const k = frameOf(pos)
      t.false(report.ok, `byte ${pos} (block ${k}) altered, yet the import succeeded`)
      t.is(report.firstBadHeight, k, `byte ${pos}: ${report.error}`)
      t.is(report.height, k - 1, `byte ${pos}: written past the altered block`)
    } finally {
      await store.close()
      await reader.close()
      await rm(dir, { recursive: true, force: true })
    }
  }
  t.true(n > 500)
})
