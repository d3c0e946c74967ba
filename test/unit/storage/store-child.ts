import { ChainStore } from '../../../src/storage/index.ts'
import { nextFinalized, STORE_OPTS, storeTip, tipOf } from './sample.ts'

/**
 * Child process for the lock and crash tests (run with `node --import tsx`). Prints one line per
 * event on stdout, which is synchronous for pipes on Linux, so a line the parent reads was
 * written after the event happened.
 *   hold DIR                 open the store, print "open", keep it open until stdin closes
 *   commit DIR RECORDS EVERY commit blocks of RECORDS records as fast as possible, with evidence
 *                            every EVERY heights: "open H" once, then "writing H" before and
 *                            "committed H" after each commit
 */
const [mode, dir, records, evidenceEvery] = process.argv.slice(2)

const store = await ChainStore.open(dir, STORE_OPTS)
if (mode === 'hold') {
  process.stdout.write('open\n')
  process.stdin.resume()
  process.stdin.on('end', () => { void store.close().then(() => process.exit(0)) })
} else if (mode === 'commit') {
  let tip = await storeTip(store)
  process.stdout.write(`open ${tip.height}\n`)
  const opts = { records: Number(records), evidenceEvery: Number(evidenceEvery) }
  for (;;) {
    const fb = nextFinalized(tip, opts)
    process.stdout.write(`writing ${tip.height + 1}\n`)
    await store.commit(fb)
    tip = tipOf(fb)
    process.stdout.write(`committed ${tip.height}\n`)
  }
} else {
  throw new Error(`unknown mode ${mode}`)
}
