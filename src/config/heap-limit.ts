import { loadConfigSync } from './load.ts'
import { heapLimitMb } from './memory-budget.ts'

/**
 * The node flag that limits V8's heap for `medledger start` with these arguments: the config of
 * its home (file, MEDLEDGER_* environment and --set flags) names the memory budget
 * (src/config/memory-budget.ts). Undefined when the budget is 0 or the config does not load
 * (`start` then reports why, as it would without this). Synchronous, for launchers that spawn.
 */
export function heapLimitFlag (args: readonly string[], env: NodeJS.ProcessEnv): string | undefined {
  let home = '.'
  const sets: Record<string, string> = {}
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i].split(/=(.*)/s, 2)
    const value = inline ?? args[i + 1]
    if (flag !== '--home' && flag !== '--set') continue
    if (inline === undefined) i++
    if (value === undefined) return undefined
    if (flag === '--home') home = value
    else if (value.indexOf('=') > 0) sets[value.slice(0, value.indexOf('='))] = value.slice(value.indexOf('=') + 1)
  }
  try {
    const mb = heapLimitMb(loadConfigSync(home, sets, env).node.memory_budget_mb)
    return mb === undefined ? undefined : `--max-old-space-size=${mb}`
  } catch {
    return undefined
  }
}
