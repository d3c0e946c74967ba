import { fmt } from './util.ts'

export interface Row {
  section: string
  name: string
  value: number | undefined
  unit: string
  /** The raw limit this figure is compared with, and its name. */
  limit?: number
  limitName?: string
  /** value / limit (or limit / value for "lower is better" figures, flagged by lowerIsBetter). */
  ratio?: number
  target?: string
  met?: boolean
  note?: string
  /** Shown instead of the formatted value (e.g. "120 / 340 / 610 ms"). */
  display?: string
}

export function row (r: Omit<Row, 'ratio'> & { lowerIsBetter?: boolean }): Row {
  const ratio = r.limit === undefined || r.value === undefined || Number.isNaN(r.value) ? undefined : r.value / r.limit
  const { lowerIsBetter: _, ...rest } = r
  return { ...rest, ratio }
}

function cell (r: Row): string[] {
  const v = r.value === undefined || Number.isNaN(r.value) ? 'n/a' : r.unit === 'ms' || r.unit === 'MB' || r.unit === 'B' || r.unit === 'B/record' ? Math.round(r.value).toLocaleString('en-US') : fmt(r.value)
  return [
    r.name,
    r.display ?? `${v} ${r.unit}`,
    r.limit === undefined ? '' : `${fmt(r.limit)} ${r.limitName ?? ''}`.trim(),
    r.ratio === undefined ? '' : r.ratio >= 10 ? `${r.ratio.toFixed(0)}x` : r.ratio >= 0.1 ? `${r.ratio.toFixed(2)}x` : `${r.ratio.toFixed(3)}x`,
    r.target ?? '',
    r.met === undefined ? '' : r.met ? 'met' : 'MISSED'
  ]
}

const HEAD = ['measure', 'value', 'raw limit it is compared with', 'ratio', 'target', '']

/** Plain-text table for the terminal. */
export function renderText (rows: Row[]): string {
  const cells = rows.map(cell)
  const widths = HEAD.map((h, i) => Math.max(h.length, ...cells.map(c => c[i].length)))
  const line = (c: string[]): string => c.map((x, i) => x.padEnd(widths[i])).join('  ').trimEnd()
  const out: string[] = []
  let section = ''
  out.push(line(HEAD))
  for (const [i, r] of rows.entries()) {
    if (r.section !== section) { section = r.section; out.push('', `-- ${section}`) }
    out.push(line(cells[i]) + (r.note !== undefined ? `   (${r.note})` : ''))
  }
  return out.join('\n')
}

/** The same table in Markdown, for docs/benchmarks.md. */
export function renderMarkdown (rows: Row[]): string {
  const esc = (s: string): string => s.replace(/\|/g, '\\|')
  const out = [`| ${HEAD.map(esc).join(' | ')} | note |`, `|${HEAD.map(() => '---').join('|')}|---|`]
  let section = ''
  for (const r of rows) {
    if (r.section !== section) { section = r.section; out.push(`| **${esc(section)}** | | | | | | |`) }
    out.push(`| ${cell(r).map(esc).join(' | ')} | ${esc(r.note ?? '')} |`)
  }
  return out.join('\n')
}
