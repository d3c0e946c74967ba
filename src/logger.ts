import { pino, type Logger } from 'pino'

export type { Logger }

/**
 * JSON lines on stdout for machines, or one readable line per event with `pretty`; each module
 * gets `logger.child({ module })`.
 */
export function createLogger (opts: { level?: string, name?: string, pretty?: boolean } = {}): Logger {
  const level = opts.level ?? process.env.MEDLEDGER_LOG_LEVEL ?? 'info'
  if (opts.pretty === true) {
    return pino({ level, name: opts.name, base: undefined, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ sync: true }))
  }
  return pino({ level, name: opts.name, base: undefined })
}

/** A logger that drops everything: the default for modules built in tests. */
export const silentLogger: Logger = pino({ level: 'silent' })
