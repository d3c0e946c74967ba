import test from 'ava'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { freePort } from '../../../src/devnet/ports.ts'

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
