/**
 * The proxy's client table, free of sockets: one entry per client address, in order of last
 * activity (a Map keeps insertion order, and a touch re-inserts), bounded in size and aged
 * out after an idle time — the way a NAT's UDP mapping table (RFC 4787 §4.3) works.
 */

/** Why an entry left the table. */
export type EvictReason = 'idle' | 'table-full';

/** Options of a {@link SessionTable}. */
export interface SessionTableOptions {
  /** Most entries at once; adding one more evicts the least recently active. */
  maxEntries: number;
  /** An entry with no activity for this long (ms) is evicted by `sweep`. */
  idleMs: number;
}

interface Slot<S> {
  value: S;
  lastActive: number;
}

/**
 * A bounded, idle-evicting table in least-recently-active order.
 * @example
 * const t = new SessionTable<Socket>({ maxEntries: 1024, idleMs: 60_000 });
 * const s = t.touch(key, now) ?? (t.add(key, open(), now, close), t.peek(key));
 * setInterval(() => t.sweep(performance.now(), close), 15_000);
 */
export class SessionTable<S> {
  readonly maxEntries: number;
  readonly idleMs: number;
  readonly #map = new Map<string, Slot<S>>();

  /** @throws RangeError when a bound is not positive. */
  constructor(options: SessionTableOptions) {
    if (!(Number.isInteger(options.maxEntries) && options.maxEntries >= 1)) {
      throw new RangeError('maxEntries must be an integer ≥ 1');
    }
    if (!(options.idleMs > 0)) throw new RangeError('idleMs must be > 0');
    this.maxEntries = options.maxEntries;
    this.idleMs = options.idleMs;
  }

  /** How many entries there are. */
  get size(): number {
    return this.#map.size;
  }

  /** The entry for `key` (without touching it). */
  peek(key: string): S | undefined {
    return this.#map.get(key)?.value;
  }

  /** The entry for `key`, marked active at `now`; undefined when absent. */
  touch(key: string, now: number): S | undefined {
    const slot = this.#map.get(key);
    if (slot === undefined) return undefined;
    slot.lastActive = now;
    // Re-insert so the Map's order stays least-recently-active first.
    this.#map.delete(key);
    this.#map.set(key, slot);
    return slot.value;
  }

  /**
   * Adds an entry active at `now`. When the table is full the least recently active entry is
   * evicted first and handed to `onEvict`.
   */
  add(key: string, value: S, now: number, onEvict: (value: S, reason: EvictReason) => void): void {
    this.#map.delete(key);
    while (this.#map.size >= this.maxEntries) {
      const oldest = this.#map.entries().next();
      if (oldest.done === true) break;
      const [k, slot] = oldest.value;
      this.#map.delete(k);
      onEvict(slot.value, 'table-full');
    }
    this.#map.set(key, { value, lastActive: now });
  }

  /** Evicts every entry idle for `idleMs` or more at `now`; stops at the first active one. */
  sweep(now: number, onEvict: (value: S, reason: EvictReason) => void): void {
    for (const [k, slot] of this.#map) {
      if (now - slot.lastActive < this.idleMs) return;
      this.#map.delete(k);
      onEvict(slot.value, 'idle');
    }
  }

  /** Removes `key` without reporting it. */
  delete(key: string): void {
    this.#map.delete(key);
  }

  /** Every entry, least recently active first. */
  *values(): IterableIterator<S> {
    for (const slot of this.#map.values()) yield slot.value;
  }
}
