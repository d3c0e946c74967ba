import test from 'ava'
import { DEFAULT_TIMEOUTS, duration, TimeoutErrorCode, validateTimeouts } from '../../../src/consensus/timeouts.ts'
import { isMedledgerError } from '../../../src/errors.ts'
import { only, TIMEOUTS, Validators } from './helpers.ts'

test('timeouts grow linearly with the round: base + round * delta, for every kind', t => {
  const c = { proposeMs: 3000, prevoteMs: 1000, precommitMs: 1500, deltaMs: 500 }
  for (const r of [0, 1, 2, 10, 100]) {
    t.is(duration('propose', r, c), 3000 + 500 * r)
    t.is(duration('prevote', r, c), 1000 + 500 * r)
    t.is(duration('precommit', r, c), 1500 + 500 * r)
  }
  // equal steps between consecutive rounds: never doubling
  const steps = Array.from({ length: 50 }, (_, r) => duration('propose', r + 1, c) - duration('propose', r, c))
  t.deepEqual(new Set(steps), new Set([500]))
  // and no cap: a long outage still lengthens rounds, so a slow network is eventually outwaited
  t.is(duration('precommit', 100_000, c), 1500 + 500 * 100_000)
})

test('the defaults are used without a config and are valid', t => {
  t.is(duration('propose', 0), DEFAULT_TIMEOUTS.proposeMs)
  t.is(duration('prevote', 3), DEFAULT_TIMEOUTS.prevoteMs + 3 * DEFAULT_TIMEOUTS.deltaMs)
  t.notThrows(() => validateTimeouts(DEFAULT_TIMEOUTS))
})

test('a config with a non-positive base or a negative or non-finite delta is refused', t => {
  for (const bad of [{ proposeMs: 0 }, { prevoteMs: -1 }, { precommitMs: Number.NaN }, { deltaMs: -5 }, { deltaMs: Number.POSITIVE_INFINITY }]) {
    const err = t.throws(() => validateTimeouts({ ...DEFAULT_TIMEOUTS, ...bad }))
    t.true(isMedledgerError(err, TimeoutErrorCode.INVALID_CONFIG))
  }
  t.notThrows(() => validateTimeouts({ ...DEFAULT_TIMEOUTS, deltaMs: 0 }))
})

test('the state machine schedules each timeout with the configured linear duration', t => {
  const vs = new Validators(4)
  const m = vs.machine(0)
  m.startHeight(1, vs.publicKeys)
  const scheduled: number[] = []
  for (let r = 0; r < 20; r++) {
    const outs = m.handle({ type: 'timeout', kind: 'precommit', height: 1, round: r })
    scheduled.push(...only(outs, 'schedule').filter(s => s.kind === 'propose').map(s => s.durationMs))
  }
  t.deepEqual(scheduled, Array.from({ length: 20 }, (_, r) => TIMEOUTS.proposeMs + (r + 1) * TIMEOUTS.deltaMs))
})
