/** A wait that ran out of time; its message names what was awaited and the state last seen. */
export class TestkitTimeoutError extends Error {
  override name = 'TestkitTimeoutError'
}

export interface WaitOptions {
  timeoutMs?: number
  everyMs?: number
  /** The state last seen, appended to the timeout's message (e.g. each node's head). */
  describe?: () => string | Promise<string>
}

/**
 * Polls `fn` until it returns something other than undefined or false, and returns that. An error
 * thrown by `fn` ends the wait at once (a node that died is not waited for). Times out with a
 * message naming `what` and, when given, `describe()`.
 */
export async function waitFor<T> (what: string, fn: () => Promise<T | undefined | false>, opts: WaitOptions | number = {}, everyMs?: number): Promise<T> {
  const o: WaitOptions = typeof opts === 'number' ? { timeoutMs: opts, everyMs } : opts
  const timeoutMs = o.timeoutMs ?? 30_000
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await fn()
    if (v !== undefined && v !== false) return v
    if (Date.now() > deadline) {
      const state = o.describe === undefined ? '' : `: ${await o.describe()}`
      throw new TestkitTimeoutError(`timed out after ${timeoutMs} ms waiting for ${what}${state}`)
    }
    await new Promise(resolve => setTimeout(resolve, o.everyMs ?? 200))
  }
}
