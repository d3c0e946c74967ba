/**
 * The root of the source tree the code runs from: src/ under tsx, the compiled copy's directory,
 * or the directory of the one-file bundle the daemon runs (bin/compile.js writes it at the build's
 * root for that reason). Files loaded beside the code at run time (the pages, the verify worker)
 * are found from here, never from a module's own URL, which a bundle changes.
 */
export const SRC_ROOT = new URL('./', import.meta.url)
