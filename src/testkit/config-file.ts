import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { CONFIG_FILE } from '../config/load.ts'

/**
 * Rewrites one key of a node's config.toml (the value in TOML syntax, e.g. '"validator"' or '[...]').
 * A key the template leaves commented out (`# key = ...`, e.g. the memory budget's shares) is set
 * in place, uncommented.
 */
export async function setConfigKey (home: string, key: string, tomlValue: string): Promise<void> {
  const file = join(home, CONFIG_FILE)
  const text = await readFile(file, 'utf8')
  const re = new RegExp(`^(?:# )?${key} = .*$`, 'm')
  if (!re.test(text)) throw new Error(`no "${key} = ..." line in ${file}`)
  await writeFile(file, text.replace(re, () => `${key} = ${tomlValue}`))
}
