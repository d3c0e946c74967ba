/** The package root (the repository, or node_modules/medledger when installed). */
export const ROOT: string
/** The build directory for the current sources (it may not exist yet). */
export function buildDir (): string
/**
 * The compiled src/ directory for the current sources, building it first if needed; undefined
 * when it cannot be had (the caller falls back to tsx). `quiet` suppresses the warning.
 */
export function compiledSrc (opts?: { quiet?: boolean }): string | undefined
/** Marks `dir` in use while this process runs, so that no other start prunes it. */
export function keepBuild (dir: string): void
