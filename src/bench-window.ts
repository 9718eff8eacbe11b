/**
 * The requests in flight of `udplab bench`, in send order: a growable ring of send times
 * indexed by sequence number. Sequence numbers are consecutive, so finding a request is one
 * subtraction; an answered request in the middle leaves a tombstone (NaN) that is skipped when
 * it reaches the head. Sends are in time order, so the expired requests are always a prefix.
 */
export class InFlight {
  #times = new Float64Array(64);
  #head = 0; // ring index of the oldest entry
  #size = 0; // entries, tombstones included
  #headSeq = 1; // sequence number of the oldest entry
  #live = 0;

  /** Requests still waiting for a reply. */
  get live(): number {
    return this.#live;
  }

  /** Sequence number the next {@link push} must use. */
  get nextSeq(): number {
    return this.#headSeq + this.#size;
  }

  /** Records request `nextSeq`, sent (or due) at `time` (ms). */
  push(time: number): void {
    if (this.#size === this.#times.length) this.#grow();
    this.#times[(this.#head + this.#size) % this.#times.length] = time;
    this.#size++;
    this.#live++;
  }

  /**
   * Takes request `seq` as answered. Returns its send time, or undefined when it is not in
   * flight (already answered, already given up, or never sent).
   */
  take(seq: number): number | undefined {
    const offset = seq - this.#headSeq;
    if (!Number.isInteger(offset) || offset < 0 || offset >= this.#size) return undefined;
    const i = (this.#head + offset) % this.#times.length;
    const time = this.#times[i];
    if (time === undefined || Number.isNaN(time)) return undefined;
    this.#times[i] = Number.NaN;
    this.#live--;
    if (offset === 0) this.#trim();
    return time;
  }

  /** Takes the oldest request in flight (plain mode, where replies carry no identity). */
  takeOldest(): { seq: number; time: number } | undefined {
    this.#trim();
    if (this.#size === 0) return undefined;
    const seq = this.#headSeq;
    const time = this.take(seq);
    return time === undefined ? undefined : { seq, time };
  }

  /**
   * Gives up every request sent at or before `deadline`; calls `onExpired(seq)` for each.
   */
  expire(deadline: number, onExpired: (seq: number) => void): void {
    this.#trim();
    while (this.#size > 0) {
      const time = this.#times[this.#head] ?? Number.NaN;
      if (time > deadline) return;
      const seq = this.#headSeq;
      this.#times[this.#head] = Number.NaN;
      this.#live--;
      onExpired(seq);
      this.#trim();
    }
  }

  /** Drops answered entries from the head. */
  #trim(): void {
    while (this.#size > 0 && Number.isNaN(this.#times[this.#head])) {
      this.#head = (this.#head + 1) % this.#times.length;
      this.#size--;
      this.#headSeq++;
    }
  }

  #grow(): void {
    const next = new Float64Array(this.#times.length * 2);
    for (let k = 0; k < this.#size; k++) {
      next[k] = this.#times[(this.#head + k) % this.#times.length] ?? Number.NaN;
    }
    this.#times = next;
    this.#head = 0;
  }
}
