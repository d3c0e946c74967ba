import { toHex } from '../encoding/bytes.ts'
import { recordId } from '../chain/hashing.ts'
import type { FinalizedBlock } from '../chain/types.ts'
import { MedledgerError } from '../errors.ts'
import { NodeErrorCode } from './errors.ts'

interface Waiter {
  pending: Set<string>
  height: number
  resolve: (height: number) => void
  reject: (err: Error) => void
  timer: NodeJS.Timeout
}

/**
 * Callers waiting for records to become final (`wait=final`, privacy audit records). One index
 * of record id -> waiters, so a final block is read once whatever the number of waiters (one
 * listener per waiter read every block once per waiter), and not at all while nobody waits.
 */
export class FinalityWaiters {
  private readonly byRecord = new Map<string, Set<Waiter>>()

  /** Number of records someone waits for. */
  get size (): number { return this.byRecord.size }

  /**
   * Resolves with the highest height among the records once every one is final, or rejects after
   * `timeoutMs`. `finalAt` looks the records up in the store (the height of each, undefined when
   * not final yet): the waiter is registered before it is asked, so a block made final meanwhile
   * is not missed.
   */
  async wait (ids: string[], timeoutMs: number, finalAt: (ids: string[]) => Promise<Array<number | undefined>>): Promise<number> {
    if (ids.length === 0) return 0
    return await new Promise<number>((resolve, reject) => {
      const w: Waiter = {
        pending: new Set(ids),
        height: 0,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.drop(w)
          reject(new MedledgerError(NodeErrorCode.WAIT_TIMEOUT, `records not final after ${timeoutMs} ms; they may still become final`, {}))
        }, timeoutMs)
      }
      for (const id of w.pending) {
        let set = this.byRecord.get(id)
        if (set === undefined) { set = new Set(); this.byRecord.set(id, set) }
        set.add(w)
      }
      const asked = [...w.pending]
      void finalAt(asked).then(
        heights => { heights.forEach((height, i) => { if (height !== undefined) this.settle(w, asked[i], height) }) },
        (err: Error) => { this.drop(w); reject(err) }
      )
    })
  }

  /** Settles the waiters of this block's records. */
  onFinalized (fb: FinalizedBlock): void {
    if (this.byRecord.size === 0) return
    const height = fb.block.header.height
    for (const b of fb.block.body.batches) {
      for (const r of b.records) {
        const id = toHex(recordId(r))
        const waiters = this.byRecord.get(id)
        if (waiters !== undefined) for (const w of [...waiters]) this.settle(w, id, height)
      }
    }
  }

  private settle (w: Waiter, id: string, height: number): void {
    if (!w.pending.delete(id)) return
    this.unindex(w, id)
    w.height = Math.max(w.height, height)
    if (w.pending.size > 0) return
    clearTimeout(w.timer)
    w.resolve(w.height)
  }

  private drop (w: Waiter): void {
    clearTimeout(w.timer)
    for (const id of w.pending) this.unindex(w, id)
    w.pending.clear()
  }

  private unindex (w: Waiter, id: string): void {
    const set = this.byRecord.get(id)
    if (set === undefined) return
    set.delete(w)
    if (set.size === 0) this.byRecord.delete(id)
  }
}
