/** A power law y = coefficient * n^exponent fitted by least squares on log-log, with its r². */
export interface PowerFit { exponent: number, coefficient: number, r2: number, points: number }

/**
 * Least-squares fit of log y = log c + k log n over the points with n > 0 and y > 0 (finite); the
 * exponent k says how a cost grows with n (1: linearly, 2: quadratically). Undefined with fewer
 * than two usable points or a single n.
 */
export function fitPowerLaw (points: Array<{ n: number, y: number | undefined }>): PowerFit | undefined {
  const xs: number[] = []
  const ys: number[] = []
  for (const p of points) {
    if (p.y === undefined || !Number.isFinite(p.y) || p.y <= 0 || !Number.isFinite(p.n) || p.n <= 0) continue
    xs.push(Math.log(p.n))
    ys.push(Math.log(p.y))
  }
  const m = xs.length
  if (m < 2) return undefined
  const mx = xs.reduce((a, b) => a + b, 0) / m
  const my = ys.reduce((a, b) => a + b, 0) / m
  let sxx = 0
  let sxy = 0
  let syy = 0
  for (let i = 0; i < m; i++) {
    sxx += (xs[i] - mx) ** 2
    sxy += (xs[i] - mx) * (ys[i] - my)
    syy += (ys[i] - my) ** 2
  }
  if (sxx === 0) return undefined
  const k = sxy / sxx
  const r2 = syy === 0 ? 1 : (sxy * sxy) / (sxx * syy)
  return { exponent: k, coefficient: Math.exp(my - k * mx), r2, points: m }
}

/** The fit's value at n (for projections, e.g. docs/scaling.md). */
export function project (fit: PowerFit, n: number): number {
  return fit.coefficient * n ** fit.exponent
}
