/**
 * The stall rebroadcast sends votes, never blocks (docs/simulation.md, Findings 10 and 12). On
 * 44cd276 a validator whose round stalled re-published every message it had signed at the height
 * every `rebroadcast_ms`, its proposals with their whole block included, each time in a fresh
 * gossip envelope that every peer decoded and forwarded: with a 1 MiB proposal, 1 MiB a tick to
 * every peer. Now a tick re-sends our votes (and the prevotes behind our lock): a few hundred bytes.
 */
import test from 'ava'
import { encodeBatch, encodeConsensusMessage } from '../../../src/chain/codec.ts'
import { batchId } from '../../../src/chain/hashing.ts'
import { GovernanceSchedule } from '../../../src/governance/schedule.ts'
import { bytesEqual, toHex } from '../../../src/encoding/bytes.ts'
import { sampleRecord, signBatch } from '../../helpers/fixtures.ts'
import { genesis, keys, startDriver, until } from './driver-harness.ts'

/** Bytes a stalled validator may re-send per rebroadcast tick: its votes of the round, far below any block. */
const MAX_RESEND_BYTES_PER_TICK = 4 * 1024
const PROPOSAL_BYTES = 1024 * 1024

test('a stalled proposer with a 1 MiB proposal re-sends its votes each tick, not its block', async t => {
  const proposerKey = GovernanceSchedule.fromGenesis(genesis).at(1).proposer(1, 0)
  const self = keys.find(k => bytesEqual(k.publicKey, proposerKey))
  if (self === undefined) throw new Error('no proposer key')
  const payload = new Uint8Array(8 * 1024).fill(7)
  // Long timeouts (the harness's): the round stalls at once, waiting for the other three's votes.
  const d = await startDriver(t, genesis, self, {
    options: { rebroadcastMs: 50 },
    fill: m => {
      for (let b = 0; b < PROPOSAL_BYTES / (16 * payload.length); b++) {
        const batch = signBatch(self, Array.from({ length: 16 }, (_, i) => sampleRecord(self.publicKey, b * 16 + i, { payload })))
        m.add(batch, encodeBatch(batch).length, toHex(batchId(batch)))
      }
    }
  })
  await until('the proposal and at least five rebroadcast ticks', () => d.votes().length >= 6, 30_000)
  const messages = d.published()
  const proposals = messages.filter(m => m.kind === 'proposal')
  t.is(proposals.length, 1, 'the proposal went out once')
  const proposalBytes = proposals[0].kind === 'proposal' ? proposals[0].proposal.block.body.batches.reduce((n, b) => n + encodeBatch(b).length, 0) : 0
  t.true(proposalBytes >= PROPOSAL_BYTES * 0.9, `the proposal carries about 1 MiB of batches (${proposalBytes} bytes)`)
  // Every message after the first proposal and the first prevote was a rebroadcast.
  const ticks = d.votes().length - 1
  const resent = messages.slice(2).reduce((n, m) => n + encodeConsensusMessage(m).length, 0)
  t.log(`${ticks} ticks re-sent ${resent} bytes (${Math.round(resent / ticks)} a tick)`)
  t.true(resent <= ticks * MAX_RESEND_BYTES_PER_TICK, `re-sent ${resent} bytes in ${ticks} ticks: at most ${MAX_RESEND_BYTES_PER_TICK} a tick`)
})
