/** A min-heap of events by (time, insertion order): equal times run first-in, first-out. */
export class EventQueue<T> {
  private readonly times: number[] = []
  private readonly seqs: number[] = []
  private readonly items: T[] = []
  private seq = 0

  get size (): number { return this.items.length }

  push (time: number, item: T): void {
    this.times.push(time)
    this.seqs.push(this.seq++)
    this.items.push(item)
    this.up(this.items.length - 1)
  }

  peekTime (): number | undefined {
    return this.times[0]
  }

  pop (): { time: number, item: T } | undefined {
    if (this.items.length === 0) return undefined
    const time = this.times[0]
    const item = this.items[0]
    const last = this.items.length - 1
    this.move(last, 0)
    this.times.pop(); this.seqs.pop(); this.items.pop()
    if (this.items.length > 0) this.down(0)
    return { time, item }
  }

  private less (a: number, b: number): boolean {
    return this.times[a] < this.times[b] || (this.times[a] === this.times[b] && this.seqs[a] < this.seqs[b])
  }

  private move (from: number, to: number): void {
    this.times[to] = this.times[from]; this.seqs[to] = this.seqs[from]; this.items[to] = this.items[from]
  }

  private swap (a: number, b: number): void {
    const t = this.times[a]; this.times[a] = this.times[b]; this.times[b] = t
    const s = this.seqs[a]; this.seqs[a] = this.seqs[b]; this.seqs[b] = s
    const i = this.items[a]; this.items[a] = this.items[b]; this.items[b] = i
  }

  private up (i: number): void {
    while (i > 0) {
      const p = (i - 1) >> 1
      if (!this.less(i, p)) return
      this.swap(i, p); i = p
    }
  }

  private down (i: number): void {
    const n = this.items.length
    for (;;) {
      const l = 2 * i + 1; const r = l + 1
      let m = i
      if (l < n && this.less(l, m)) m = l
      if (r < n && this.less(r, m)) m = r
      if (m === i) return
      this.swap(i, m); i = m
    }
  }
}
