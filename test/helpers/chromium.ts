import { spawn, type ChildProcess } from 'node:child_process'
import { access, writeFile } from 'node:fs/promises'
import type { Readable, Writable } from 'node:stream'
import type { ExecutionContext } from 'ava'

/** Debian's chromium; the browser tests skip when it is not installed, and fail under CI=true. */
export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium'

export async function hasChromium (): Promise<boolean> {
  return await access(CHROMIUM).then(() => true, () => false)
}

/**
 * Whether headless Chromium can run. When it cannot, the test fails under CI=true (.ci/run
 * installs it, so a skip there would hide a missing check) and otherwise passes with a note.
 */
export async function browserAvailable (t: ExecutionContext): Promise<boolean> {
  if (await hasChromium()) return true
  if (process.env.CI === 'true') t.fail(`${CHROMIUM} is not installed: .ci/run installs Debian's chromium (apt-get install -y chromium)`)
  else {
    t.log(`browser part skipped: ${CHROMIUM} is not installed (apt-get install chromium)`)
    t.pass()
  }
  return false
}

/**
 * Headless Chromium driven over the DevTools protocol through --remote-debugging-pipe (messages
 * are JSON separated by NUL bytes on fds 3 and 4): no WebSocket client and no extra package.
 */
export class Chromium {
  readonly #proc: ChildProcess
  readonly #in: Writable
  #nextId = 1
  readonly #pending = new Map<number, { resolve: (v: any) => void, reject: (e: Error) => void }>()
  readonly #listeners = new Set<(m: { method: string, params: any, sessionId?: string }) => void>()

  private constructor (proc: ChildProcess) {
    this.#proc = proc
    this.#in = proc.stdio[3] as Writable
    let buf = ''
    ;(proc.stdio[4] as Readable).on('data', (chunk: Buffer) => {
      buf += chunk.toString('utf8')
      let i
      while ((i = buf.indexOf('\0')) >= 0) {
        const msg = JSON.parse(buf.slice(0, i))
        buf = buf.slice(i + 1)
        if (msg.id !== undefined) {
          const p = this.#pending.get(msg.id)
          this.#pending.delete(msg.id)
          if (msg.error !== undefined) p?.reject(new Error(`${msg.error.message} (${msg.error.code})`))
          else p?.resolve(msg.result)
        } else {
          for (const l of this.#listeners) l(msg)
        }
      }
    })
  }

  static async launch (opts: { width?: number, height?: number } = {}): Promise<Chromium> {
    const proc = spawn(CHROMIUM, [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--no-default-browser-check',
      '--hide-scrollbars', '--mute-audio', '--remote-debugging-pipe', `--window-size=${opts.width ?? 1280},${opts.height ?? 1800}`, 'about:blank'
    ], { stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe'] })
    const c = new Chromium(proc)
    await c.send('Browser.getVersion')
    return c
  }

  async send (method: string, params: Record<string, unknown> = {}, sessionId?: string): Promise<any> {
    const id = this.#nextId++
    return await new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject })
      this.#in.write(JSON.stringify({ id, method, params, ...(sessionId === undefined ? {} : { sessionId }) }) + '\0')
    })
  }

  /** Opens a page at `url`; returns its session id. Console messages and exceptions go to `log`. */
  async open (url: string, log?: (line: string) => void): Promise<string> {
    const { targetId } = await this.send('Target.createTarget', { url: 'about:blank' })
    const { sessionId } = await this.send('Target.attachToTarget', { targetId, flatten: true })
    if (log !== undefined) {
      this.#listeners.add((m) => {
        if (m.sessionId !== sessionId) return
        if (m.method === 'Runtime.consoleAPICalled') log(`console.${m.params.type}: ${m.params.args.map((a: { value?: unknown, description?: string }) => a.value ?? a.description).join(' ')}`)
        if (m.method === 'Runtime.exceptionThrown') log(`exception: ${m.params.exceptionDetails.exception?.description ?? m.params.exceptionDetails.text}`)
      })
      await this.send('Runtime.enable', {}, sessionId)
    }
    await this.send('Page.enable', {}, sessionId)
    await this.send('Page.navigate', { url }, sessionId)
    return sessionId
  }

  /** Evaluates an expression in the page (promises awaited); returns its JSON value. */
  async evaluate<T = unknown> (sessionId: string, expression: string): Promise<T> {
    const r = await this.send('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true }, sessionId)
    if (r.exceptionDetails !== undefined) throw new Error(`page error: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`)
    return r.result.value as T
  }

  /** Polls an expression until it is truthy. */
  async waitFor<T = unknown> (sessionId: string, expression: string, timeoutMs = 20_000): Promise<T> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const v = await this.evaluate<T>(sessionId, expression).catch(() => undefined)
      if (v !== undefined && v !== null && v !== false && v !== '') return v
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${expression}`)
      await new Promise(resolve => setTimeout(resolve, 200))
    }
  }

  async screenshot (sessionId: string, file: string, fullPage = true): Promise<void> {
    let clip
    if (fullPage) {
      const m = await this.send('Page.getLayoutMetrics', {}, sessionId)
      clip = { x: 0, y: 0, width: m.cssContentSize.width, height: m.cssContentSize.height, scale: 1 }
    }
    const { data } = await this.send('Page.captureScreenshot', { format: 'png', captureBeyondViewport: fullPage, ...(clip === undefined ? {} : { clip }) }, sessionId)
    await writeFile(file, Buffer.from(data, 'base64'))
  }

  async close (): Promise<void> {
    await this.send('Browser.close').catch(() => {})
    if (this.#proc.exitCode === null) await new Promise(resolve => { this.#proc.once('exit', resolve); setTimeout(resolve, 3000) })
    if (this.#proc.exitCode === null) this.#proc.kill('SIGKILL')
  }
}
