import { fileURLToPath } from 'node:url'

/**
 * The test-only daemon entry (test/helpers/test-daemon.js): `medledger start` with switches that
 * no config, flag or environment variable of the real daemon reaches. See that file for each switch.
 */
export const TEST_DAEMON = fileURLToPath(new URL('./test-daemon.js', import.meta.url))

export type TestSwitch = '--test-byzantine' | '--test-storage-fault' | '--test-unhandled-rejection'

/** Node arguments before `start` that run the test daemon with these switches (for Daemon's `entry`). */
export function testDaemonEntry (switches: TestSwitch[]): string[] {
  return [TEST_DAEMON, ...switches]
}
