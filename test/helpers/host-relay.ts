// The relays of one lab host, run inside its network namespace (test/helpers/multi-host.ts starts it
// with `ip netns exec <ns> node --import tsx host-relay.ts '<spec>'`):
//
//   { "relays": [{ "listen": {"host": "0.0.0.0", "port": 26657} | {"fd": 3}, "target": {...},
//                  "delayMs": 50, "sourceOnLoopback": true, "adjustable": true }, ...] }
//
// It prints one line, {"ready": true}, once every relay listens, reads `{"delayMs": N}` lines on
// stdin (the new one-way delay of every adjustable relay), answers each with a line, and exits
// when stdin ends: when its parent ends it, or dies.
import { createInterface } from 'node:readline'
import { DelayRelay, type DelayRelayOptions } from '../../src/testkit/delay-relay.ts'

const spec = JSON.parse(process.argv[2] ?? '{}') as { relays?: Array<DelayRelayOptions & { adjustable?: boolean }> }
const relays = await Promise.all((spec.relays ?? []).map(async o => await new DelayRelay(o).listen()))
const adjustable = relays.filter((_r, i) => spec.relays?.[i].adjustable === true)
process.stdout.write(JSON.stringify({ ready: true, ports: relays.map(r => r.port) }) + '\n')
const lines = createInterface({ input: process.stdin })
lines.on('line', line => {
  const m = JSON.parse(line) as { delayMs: number }
  for (const r of adjustable) r.delayMs = m.delayMs
  process.stdout.write(JSON.stringify({ delayMs: m.delayMs }) + '\n')
})
lines.on('close', () => { process.exit(0) })
