import test from 'ava'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setConfigKey } from '../../../src/testkit/config-file.ts'
import { CONFIG_FILE } from '../../../src/config/load.ts'

test('setConfigKey sets a key in place, uncommenting one the template leaves commented out (the memory budget shares)', async t => {
  const home = await mkdtemp(join(tmpdir(), 'medledger-config-file-'))
  t.teardown(async () => { await rm(home, { recursive: true, force: true }) })
  await writeFile(join(home, CONFIG_FILE), 'role = "observer"\n\n[mempool]\n# Default: half the memory budget.\n# max_bytes = 67108864\n')
  await setConfigKey(home, 'role', '"validator"')
  await setConfigKey(home, 'max_bytes', '1048576')
  t.is(await readFile(join(home, CONFIG_FILE), 'utf8'), 'role = "validator"\n\n[mempool]\n# Default: half the memory budget.\nmax_bytes = 1048576\n')
  await t.throwsAsync(setConfigKey(home, 'no_such_key', '1'), { message: /no "no_such_key = \.\.\." line/ })
})
