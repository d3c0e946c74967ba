import test from 'ava'
import { EventHub, type EventSink } from '../../../src/api/event-stream.ts'
import { RateLimiter } from '../../../src/api/rate-limit.ts'
import { pageOf, pageQuery } from '../../../src/api/paging.ts'
import { checkExposure, hostName, isLoopback } from '../../../src/api/auth.ts'
import { ApiTokens } from '../../../src/api/tokens.ts'

/** A client whose socket takes bytes but never sends them: its buffer only grows. */
function stalled (): EventSink & { destroyed: boolean, frames: number } {
  return {
    writableLength: 0,
    destroyed: false,
    frames: 0,
    write (chunk: string) { (this as { writableLength: number }).writableLength += chunk.length; this.frames++; return false },
    destroy () { this.destroyed = true }
  }
}

test('the event hub refuses clients beyond its cap and drops a client that stops reading, keeping the others', t => {
  const hub = new EventHub(2, 4096)
  const slow = stalled()
  const fast: EventSink & { frames: number } = { writableLength: 0, frames: 0, write () { this.frames++; return true }, destroy () { t.fail('a reading client is never dropped') } }
  t.true(hub.add(slow))
  t.true(hub.add(fast))
  t.false(hub.add(stalled()), 'one more than the cap is refused')
  for (let i = 0; i < 100; i++) hub.send('block', { height: i, pad: 'x'.repeat(100) })
  t.true(slow.destroyed)
  t.true(slow.writableLength <= 4096, `the stalled client holds ${slow.writableLength} bytes at most`)
  t.is(hub.dropped, 1)
  t.is(hub.size, 1)
  t.is(fast.frames, 100)
  t.true(hub.add(stalled()), 'the dropped client freed its slot')
})

test('the pseudonym rate limiter is a token bucket per key', t => {
  let now = 0
  const rl = new RateLimiter(3, () => now)
  t.deepEqual([rl.take('admin'), rl.take('admin'), rl.take('admin')], [0, 0, 0])
  t.is(rl.take('admin'), 20_000, 'the next call in 20 s (3 a minute)')
  t.is(rl.take('other'), 0, 'another token has its own bucket')
  now += 20_000
  t.is(rl.take('admin'), 0)
  t.true(rl.take('admin') > 0)
  now += 10 * 60_000
  t.deepEqual([rl.take('admin'), rl.take('admin'), rl.take('admin'), rl.take('admin') > 0], [0, 0, 0, true], 'a long pause refills to the burst, not beyond')
})

test('pages: limit is clamped to the maximum, cursors are whole numbers, next is null at the end', t => {
  t.deepEqual(pageQuery({}, undefined, 20), { limit: 20, cursor: undefined })
  t.deepEqual(pageQuery({ limit: '100' }, '5', 20), { limit: 20, cursor: 5 })
  t.is(pageQuery({ limit: '0' }, undefined, 20), undefined)
  t.is(pageQuery({ limit: '1.5' }, undefined, 20), undefined)
  t.is(pageQuery({}, '-1', 20), undefined)
  t.is(pageQuery({}, 'abc', 20), undefined)
  const items = Array.from({ length: 5 }, (_, i) => i)
  t.deepEqual(pageOf(items, 0, 2), { items: [0, 1], next: 2 })
  t.deepEqual(pageOf(items, 4, 2), { items: [4], next: null })
  t.deepEqual(pageOf(items, 9, 2), { items: [], next: null })
})

test('hosts: loopback, host names of Host headers, and the exposure rule', t => {
  for (const h of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost']) t.true(isLoopback(h), h)
  for (const h of ['0.0.0.0', '::', '10.0.0.5', 'ledger.example']) t.false(isLoopback(h), h)
  t.is(hostName('Example.COM:8080'), 'example.com')
  t.is(hostName('[::1]:80'), '::1')
  t.is(hostName('evil.example@127.0.0.1'), undefined)
  t.is(hostName(''), undefined)
  t.is(hostName(undefined), undefined)
  t.throws(() => { checkExposure('0.0.0.0', false) }, { message: /require_read_token/ })
  t.notThrows(() => { checkExposure('0.0.0.0', true) })
  t.notThrows(() => { checkExposure('127.0.0.1', false) })
})

test('tokens: each names one role, compared whole; two roles sharing a token are refused', t => {
  const tokens = new ApiTokens({ submit: 's'.repeat(48), read: 'r'.repeat(48), admin: 'a'.repeat(48) })
  t.is(tokens.roleOf(`Bearer ${'s'.repeat(48)}`), 'submit')
  t.is(tokens.roleOf(`Bearer ${'a'.repeat(48)}`), 'admin')
  t.is(tokens.roleOf(`Bearer ${'a'.repeat(47)}`), undefined)
  t.is(tokens.roleOf('a'.repeat(48)), undefined, 'only the Bearer scheme')
  t.is(tokens.roleOf(undefined), undefined)
  t.false(tokens.has('plaintext'))
  t.throws(() => new ApiTokens({ submit: 'x'.repeat(48), admin: 'x'.repeat(48) }), { message: /submit and admin tokens are the same/ })
})
