// Rewrites the table of error codes in docs/errors.md from the error registry (src/error-registry.ts):
//   node --import tsx scripts/error-docs.ts
// test/unit/error-registry.test.ts fails when the file and the registry disagree.
import { readFile, writeFile } from 'node:fs/promises'
import { ERROR_TABLE_BEGIN, ERROR_TABLE_END, errorTableMarkdown } from '../src/error-registry.ts'

const file = new URL('../docs/errors.md', import.meta.url)
const text = await readFile(file, 'utf8')
const begin = text.indexOf(ERROR_TABLE_BEGIN)
const end = text.indexOf(ERROR_TABLE_END)
if (begin < 0 || end < begin) throw new Error(`docs/errors.md lacks the ${ERROR_TABLE_BEGIN} ... ${ERROR_TABLE_END} markers`)
await writeFile(file, text.slice(0, begin + ERROR_TABLE_BEGIN.length) + '\n' + errorTableMarkdown() + text.slice(end))
process.stdout.write('docs/errors.md: table rewritten from the error registry\n')
