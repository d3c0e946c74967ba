// The linter and formatter: neostandard (the Node community's successor of `standard`), the style
// this code is written in: no semicolons, single quotes, a space before a function's parens.
// `npm run lint` checks (CI runs it beside the type check); `npm run lint -- --fix` formats.
import neostandard from 'neostandard'
import globals from 'globals'

export default [
  ...neostandard({ ts: true, ignores: ['node_modules/**', 'bench/**', '.devnet/**', 'coverage/**', '.scratch/**'] }),
  {
    rules: {
      // `void promise` marks a promise deliberately not awaited (its errors are handled inside).
      'no-void': 'off',
      // `for await (const x of source) return x` takes the first item of an async iterable.
      'no-unreachable-loop': 'off',
      // Loops on flags that another task clears (`while (running) await ...`) are the norm in the
      // daemons and tests; the rule cannot see the other task.
      'no-unmodified-loop-condition': 'off'
    }
  },
  {
    // The pages served to browsers (explorer, patient view) run in the browser, not in Node.
    files: ['src/api/explorer/**/*.js', 'src/api/patient/**/*.js'],
    languageOptions: { globals: { ...globals.browser } }
  },
  {
    // prom-client metrics register themselves with the registry when constructed.
    files: ['src/api/metrics.ts'],
    rules: { 'no-new': 'off' }
  }
]
