import test from 'ava'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from '../../../src/devnet/ports.ts'
import { createDevnet } from '../../../src/devnet/setup.ts'

test('freePort picks a listenable port below the kernel\'s ephemeral range, where client sockets cannot take it', async t => {
  const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0])
  const ports = await Promise.all(Array.from({ length: 20 }, async () => await freePort()))
  for (const port of ports) {
    t.true(port >= 20_000 && port < low, `${port} is below ${low}`)
    await new Promise<void>((resolve, reject) => {
      const s = createServer().once('error', reject)
      s.listen(port, '127.0.0.1', () => { s.close(() => { resolve() }) })
    })
  }
})

test('freePort never hands out a port it is told is taken', async t => {
  const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0])
  // Every port below the ephemeral range but 20 is taken: the picks must come from those 20 (or the OS).
  const free = new Set(Array.from({ length: 20 }, (_, i) => 20_000 + i * 97))
  const taken = new Set<number>()
  for (let p = 20_000; p < low; p++) if (!free.has(p)) taken.add(p)
  for (let i = 0; i < 10; i++) t.false(taken.has(await freePort(taken)))
})

test('a devnet of 150 nodes gets 300 distinct ports (chosen before any daemon binds one)', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'medledger-ports-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const layout = await createDevnet({ dir, validators: ['v1', 'v2', 'v3', 'v4'], observers: ['o1'], members: Array.from({ length: 145 }, (_, i) => `m${i}`) })
  const ports = layout.nodes.flatMap(n => [n.p2pPort, n.apiPort])
  t.is(ports.length, 300)
  t.is(new Set(ports).size, 300)
})
