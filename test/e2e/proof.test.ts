import test from 'ava'
import { execFile } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { BIN } from '../../src/devnet/daemon.ts'
import { Genesis } from '../../src/chain/genesis.ts'
import { verifyRecordProof } from '../../src/audit/proof-verify.ts'
import { isMedledgerError } from '../../src/errors.ts'
import { sampleRecord, startDevnet, waitForHeight } from '../helpers/devnet.ts'

const exec = promisify(execFile)

/** Every string leaf of a JSON value, with a setter: the places a tamperer could change. */
function leaves (v: unknown, path: string[] = []): Array<{ path: string, set: (x: unknown) => void, value: string }> {
  const out: Array<{ path: string, set: (x: unknown) => void, value: string }> = []
  if (v !== null && typeof v === 'object') {
    for (const [k, child] of Object.entries(v as Record<string, unknown>)) {
      if (typeof child === 'string' && child.length > 0) out.push({ path: [...path, k].join('.'), value: child, set: (x) => { (v as Record<string, unknown>)[k] = x } })
      else out.push(...leaves(child, [...path, k]))
    }
  }
  return out
}

function flip (s: string): string {
  const c = s[0]
  const next = /[0-9a-f]/.test(c) ? (c === 'a' ? 'b' : 'a') : c === 'A' ? 'B' : 'A'
  return next + s.slice(1)
}

test.serial('a record proof verifies offline against the genesis file, and any tampered field fails', async t => {
  const [d] = await startDevnet(t, { validators: ['solo'], observers: [], heartbeatMs: 1000 })
  await waitForHeight([d], 1)
  const res = await d.submit([0, 1, 2, 3, 4].map(sampleRecord))
  t.is(res.status, 200)
  const genesis = await Genesis.load(join(d.node.home, 'genesis.json'))
  const proofs = await Promise.all(res.body.ids!.map(async id => await (await fetch(`${d.api}/v1/records/${id}/proof`)).json()))
  for (const [i, proof] of proofs.entries()) t.is(verifyRecordProof(proof, genesis).recordId, res.body.ids![i])

  const file = join(d.node.home, 'proof.json')
  await writeFile(file, JSON.stringify(proofs[3]))
  const { stdout } = await exec(process.execPath, [BIN, 'proof', 'verify', '--genesis', join(d.node.home, 'genesis.json'), file])
  t.true((JSON.parse(stdout) as { valid: boolean }).valid)

  let tampered = 0
  for (const leaf of leaves(structuredClone(proofs[3]))) {
    const copy = structuredClone(proofs[3]) as Record<string, unknown>
    const target = leaves(copy).find(l => l.path === leaf.path)!
    // Fields that are not covered by any hash or signature would be a hole in the proof.
    target.set(flip(target.value))
    const err = t.throws(() => verifyRecordProof(copy, genesis), undefined, `tampering ${leaf.path} must fail`)
    t.true(isMedledgerError(err, 'PROOF_INVALID'))
    tampered++
  }
  t.true(tampered > 20)
  await writeFile(file, JSON.stringify({ ...proofs[3] as object, recordId: flip((proofs[3] as { recordId: string }).recordId) }))
  const failed = await exec(process.execPath, [BIN, 'proof', 'verify', '--genesis', join(d.node.home, 'genesis.json'), file]).then(() => 0, (e: { code: number }) => e.code)
  t.not(failed, 0)
})
