// Writes the per-role config.toml examples in configs/ from the template `medledger init` uses
// (src/config/examples.ts). `npm run configs`; test/unit/config/examples.test.ts checks they are current.
import { writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { renderExamples } from '../src/config/examples.ts'

const dir = fileURLToPath(new URL('../configs/', import.meta.url))
for (const [file, text] of await renderExamples()) {
  await writeFile(dir + file, text)
  console.log(`wrote configs/${file}`)
}
