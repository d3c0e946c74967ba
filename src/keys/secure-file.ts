import { link, open, rename, rm } from 'node:fs/promises'
import { dirname } from 'node:path'

/**
 * File hygiene for key material (docs/privacy.md, "Key hygiene"): writes are flushed and their
 * directory entry too (a rename is durable only once the directory is fsynced), and a file that
 * held a secret is overwritten in place and flushed before its name goes, so the secret does not
 * stay behind in a freed block that a later rename or unlink left untouched. (On copy-on-write
 * filesystems and SSDs an overwrite may land elsewhere: docs/privacy.md says so.)
 */

/** Flushes a directory, so renames and unlinks in it survive a crash. */
export async function fsyncDir (dir: string): Promise<void> {
  const fh = await open(dir, 'r')
  try { await fh.sync() } finally { await fh.close() }
}

/** Overwrites a file with zeros, flushes it, unlinks it and flushes its directory. Returns whether it existed. */
export async function overwriteAndUnlink (file: string): Promise<boolean> {
  let fh
  try {
    fh = await open(file, 'r+')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false
    throw err
  }
  try {
    const { size } = await fh.stat()
    if (size > 0) await fh.write(new Uint8Array(size), 0, size, 0)
    await fh.sync()
  } finally {
    await fh.close()
  }
  await rm(file, { force: true })
  await fsyncDir(dirname(file))
  return true
}

/**
 * Replaces a file atomically: a flushed 0600 temporary file renamed over it, then the directory
 * flushed, so a crash leaves the old file or the new one, never half. With `shredOld`, the old
 * content (a key being retired or re-encrypted) is overwritten too: the old inode is kept under
 * `<file>.old` by a hard link until the new file is in place, then zeroed and unlinked; a
 * leftover `.old` from a crash is destroyed on the next replace.
 */
export async function replaceFile (file: string, text: string, opts: { shredOld?: boolean } = {}): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}-${Date.now()}`
  const fh = await open(tmp, 'wx', 0o600)
  try {
    await fh.writeFile(text)
    await fh.sync()
  } finally {
    await fh.close()
  }
  const old = `${file}.old`
  try {
    if (opts.shredOld === true) {
      await overwriteAndUnlink(old)
      await link(file, old).catch((err: NodeJS.ErrnoException) => { if (err.code !== 'ENOENT') throw err })
    }
    await rename(tmp, file)
  } catch (err) {
    await rm(tmp, { force: true })
    throw err
  }
  await fsyncDir(dirname(file))
  if (opts.shredOld === true) await overwriteAndUnlink(old)
}
