/**
 * Whether node flags (the process's own, NODE_OPTIONS, or those about to be given) set the heap
 * limit already. A module of its own, importing nothing: bin/medledger.js asks it before loading
 * the config modules (heap-limit.ts), which a start from the bundle would otherwise load twice.
 */
export function hasHeapLimit (flags: readonly string[], env: NodeJS.ProcessEnv): boolean {
  return /--max[-_]old[-_]space[-_]size/.test(`${flags.join(' ')} ${env.NODE_OPTIONS ?? ''}`)
}
