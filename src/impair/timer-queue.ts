/**
 * One sorted queue for every delayed datagram of a direction: a binary min-heap keyed by
 * release time, ties broken by insertion order (so equal times keep FIFO order). The proxy
 * arms a single timer for the earliest entry instead of one setTimeout per datagram.
 */

interface Entry<T> {
  at: number;
  order: number;
  item: T;
}

/** A min-heap of items by time (ms), stable for equal times. Not bounded itself: its owner is. */
export class TimerQueue<T> {
  readonly #heap: Entry<T>[] = [];
  #order = 0;

  /** How many items are queued. */
  get size(): number {
    return this.#heap.length;
  }

  /** Queues `item` for time `at` (ms). O(log n). */
  push(at: number, item: T): void {
    const heap = this.#heap;
    heap.push({ at, order: this.#order++, item });
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#less(i, parent)) break;
      this.#swap(i, parent);
      i = parent;
    }
  }

  /** The earliest time queued, or undefined when empty. */
  peekTime(): number | undefined {
    return this.#heap[0]?.at;
  }

  /** Removes and returns the earliest entry when its time is ≤ `now`, else undefined. O(log n). */
  popDue(now: number): { at: number; item: T } | undefined {
    const top = this.#heap[0];
    if (top === undefined || top.at > now) return undefined;
    const last = this.#heap.pop();
    if (last !== undefined && this.#heap.length > 0) {
      this.#heap[0] = last;
      this.#siftDown(0);
    }
    return top;
  }

  /** Removes everything. */
  clear(): void {
    this.#heap.length = 0;
  }

  #less(a: number, b: number): boolean {
    const x = this.#heap[a];
    const y = this.#heap[b];
    if (x === undefined || y === undefined) return false;
    return x.at < y.at || (x.at === y.at && x.order < y.order);
  }

  #swap(a: number, b: number): void {
    const heap = this.#heap;
    const t = heap[a];
    const u = heap[b];
    if (t === undefined || u === undefined) return;
    heap[a] = u;
    heap[b] = t;
  }

  #siftDown(start: number): void {
    const n = this.#heap.length;
    let i = start;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < n && this.#less(l, m)) m = l;
      if (r < n && this.#less(r, m)) m = r;
      if (m === i) return;
      this.#swap(i, m);
      i = m;
    }
  }
}
