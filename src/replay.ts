/**
 * The server's replay rules for sealed requests (docs/sealed.md, "Replays and retransmissions").
 *
 * A request is fresh when its time is within ±window of the server's clock and its request ID has
 * not been seen. The cache remembers every accepted ID until a copy of any of its datagrams would be
 * stale anyway (its latest time + window), together with the sealed reply, so that:
 *
 * - a retransmission (same ID, a higher attempt number: only a key holder can seal one) gets the
 *   cached reply again, without the request being executed twice or counted as an attack;
 * - a replay (same ID, an attempt number already seen: a copy of a datagram that was on the wire)
 *   is rejected;
 * - a request older or newer than the window is rejected as stale, so the cache never needs to
 *   remember an ID for longer than 2 × window; so is a request sealed before the server started
 *   (`notBeforeMs`), which closes the gap a restart (and its empty cache) would open.
 *
 * Storage: no object, BigInt or Buffer per entry (at thousands of new requests a second, per-entry
 * objects that live for a window are what the garbage collector would spend its time on). Per slot,
 * flat typed arrays hold the ID (two 32-bit words), the attempt, the expiry and the reply's bytes;
 * an open-addressing hash table (linear probing, at most half full) maps the ID's words to its slot,
 * keeping the words beside the slot number so that a lookup touches one cache line; a ring of slot
 * numbers keeps the arrival order, for the sweep. All grow by doubling up to `capacity` slots, and
 * freed slots are reused. The server passes the ID as two words ({@link ReplayCache.checkWords}),
 * so a request needs no BigInt at all.
 *
 * Memory: at most `capacity` entries (default 65,536). When the cache is full of unexpired entries,
 * new requests are rejected (`cache-full`): failing closed, never forgetting an ID early (that
 * would let a replay through) and never growing. Only authenticated requests reach the cache, so a
 * stranger without the key cannot fill it.
 */

/** Default timestamp window: ±30 s. */
export const DEFAULT_WINDOW_MS = 30_000;
/** Default cache capacity in entries. */
export const DEFAULT_REPLAY_CAPACITY = 65_536;
/**
 * The largest capacity: 2^24 entries, ~3.2 GB when full (~190 bytes an entry, docs/sealed.md). Its
 * reply slab (128 bytes a slot) then takes 2 GiB, within one typed array; a bound this high is for
 * a fast server with a long window, and it keeps "bounded memory" a number.
 */
export const MAX_REPLAY_CAPACITY = 16_777_216;

/** Options of {@link ReplayCache}. */
export interface ReplayCacheOptions {
  /** A request is fresh when |server time − request time| ≤ windowMs. Default 30,000 ms. */
  windowMs?: number;
  /** The most IDs remembered at once. Default 65,536. */
  capacity?: number;
  /**
   * Requests sealed before this time are stale (default: none). The server passes its start time:
   * the cache lives in memory, so without this a restarted server would accept copies of requests
   * sealed during the last window before the restart.
   */
  notBeforeMs?: number;
}

/** The verdict on an authenticated request. */
export type ReplayVerdict =
  | { kind: 'new' }
  | { kind: 'retransmission'; reply: Uint8Array }
  | { kind: 'stale' }
  | { kind: 'replay' }
  | { kind: 'cache-full' };

/** Bytes of reply kept in the slab per slot; a longer reply is kept as a copy of its own. */
const REPLY_SLOT = 128;
/** Slots allocated at first (the arrays double as the cache fills, up to its capacity). */
const INITIAL_SLOTS = 1024;
/** Int32s per hash table cell: the ID's high word, its low word, slot + 1 (0: empty), padding. */
const CELL = 4;

const NEW: ReplayVerdict = { kind: 'new' };
const STALE: ReplayVerdict = { kind: 'stale' };
const REPLAY: ReplayVerdict = { kind: 'replay' };
const FULL: ReplayVerdict = { kind: 'cache-full' };

/** Where the ID's words hash to in a table of `mask + 1` cells (murmur3's 32-bit finaliser). */
function hashOf(hi: number, lo: number, mask: number): number {
  let h = lo ^ Math.imul(hi, 0x9e3779b1);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) & mask;
}

/** The ID's high and low 32-bit words (as signed int32s, which is how the table keeps them). */
function wordsOf(id: bigint): [number, number] {
  return [Number(BigInt.asIntN(32, id >> 32n)), Number(BigInt.asIntN(32, id))];
}

/**
 * A bounded cache of recently seen request IDs and their sealed replies.
 * @example
 * const cache = new ReplayCache({ windowMs: 30_000, capacity: 65_536, notBeforeMs: Date.now() });
 * const v = cache.check(id, timeMs, attempt, Date.now());
 * if (v.kind === 'new') cache.remember(id, timeMs, attempt, sealedReply);
 */
export class ReplayCache {
  readonly windowMs: number;
  readonly capacity: number;
  readonly notBeforeMs: number;
  /** The hash table: CELL int32s per cell (see CELL), `#mask + 1` cells, never more than half full. */
  #table = new Int32Array(0);
  #mask = -1;
  /** Per slot: the ID's words. */
  #idHi = new Int32Array(0);
  #idLo = new Int32Array(0);
  /** Per slot: the highest attempt number accepted for its ID. */
  #attempts = new Uint32Array(0);
  /** Per slot: when a copy of any accepted datagram of its ID turns stale: max(time) + window. */
  #expires = new Float64Array(0);
  /** Per slot: the reply's length, and its bytes at slot × REPLY_SLOT (or in #long). */
  #lengths = new Uint32Array(0);
  #bytes = new Uint8Array(0);
  /** Replies longer than REPLY_SLOT, by slot. */
  readonly #long = new Map<number, Uint8Array>();
  /**
   * The slots in use in arrival order, which is nearly expiry order (the cheap sweep relies on
   * it): `#size` of them from `#head`, in a ring as long as the slot arrays.
   */
  #order = new Int32Array(0);
  #head = 0;
  #size = 0;
  /** Slots given back by the sweep, and the first slot never used. */
  #free: number[] = [];
  #used = 0;
  #nextFullSweepMs = -Infinity;
  /**
   * The empty cell where the ID that {@link checkWords} last found new would go; -1 when a
   * change to the table since may have moved it. Saves {@link rememberWords} its own lookup.
   */
  #pendingCell = -1;
  #pendingHi = 0;
  #pendingLo = 0;
  /**
   * The slot of an expired entry that {@link checkWords} last found for a new request (it reuses
   * the ID: every copy of the old requests is stale by now); -1 when none. {@link rememberWords}
   * then writes the new request there, in the entry's place.
   */
  #pendingSlot = -1;

  /** @throws RangeError when windowMs is not > 0 or capacity not an integer from 1 to {@link MAX_REPLAY_CAPACITY}. */
  constructor(options: ReplayCacheOptions = {}) {
    const windowMs = options.windowMs ?? DEFAULT_WINDOW_MS;
    const capacity = options.capacity ?? DEFAULT_REPLAY_CAPACITY;
    if (!(windowMs > 0 && Number.isFinite(windowMs)))
      throw new RangeError('windowMs must be a positive number');
    if (!(Number.isSafeInteger(capacity) && capacity >= 1 && capacity <= MAX_REPLAY_CAPACITY))
      throw new RangeError(`capacity must be an integer from 1 to ${String(MAX_REPLAY_CAPACITY)}`);
    this.windowMs = windowMs;
    this.capacity = capacity;
    this.notBeforeMs = options.notBeforeMs ?? -Infinity;
  }

  /** How many IDs are remembered now (never more than `capacity`). */
  get size(): number {
    return this.#size;
  }

  /**
   * Judges an authenticated request. For `new`, the caller answers and then calls {@link remember}.
   * For `retransmission` the entry is updated (its attempt and expiry) and the cached reply returned.
   * @param nowMs - the server's clock, ms since 1970.
   */
  check(id: bigint, timeMs: number, attempt: number, nowMs: number): ReplayVerdict {
    const [hi, lo] = wordsOf(id);
    return this.checkWords(hi, lo, timeMs, attempt, nowMs);
  }

  /** Remembers a new request (after {@link check} said `new`) and the sealed reply to it. */
  remember(id: bigint, timeMs: number, attempt: number, reply: Uint8Array): void {
    const [hi, lo] = wordsOf(id);
    this.rememberWords(hi, lo, timeMs, attempt, reply);
  }

  /**
   * {@link check} with the ID as its two 32-bit words (high, low; either as uint32 or int32), as
   * read from the datagram: the same verdict, without a BigInt.
   */
  checkWords(
    hi: number,
    lo: number,
    timeMs: number,
    attempt: number,
    nowMs: number,
  ): ReplayVerdict {
    this.#pendingCell = -1;
    this.#pendingSlot = -1;
    if (!(Math.abs(nowMs - timeMs) <= this.windowMs) || timeMs < this.notBeforeMs) return STALE;
    let cell = this.#find(hi | 0, lo | 0);
    const slot = cell < 0 ? -1 : (this.#table[cell + 2] ?? 0) - 1;
    if (slot >= 0 && (this.#expires[slot] ?? 0) < nowMs) {
      // Remembered, but expired (not yet swept): any copy of its datagrams is stale now, so this
      // is a new request that reuses the ID, and it takes the entry's place.
      this.#pendingCell = cell;
      this.#pendingSlot = slot;
      this.#pendingHi = hi | 0;
      this.#pendingLo = lo | 0;
      return NEW;
    }
    if (slot >= 0) {
      if (attempt <= (this.#attempts[slot] ?? 0)) return REPLAY;
      this.#attempts[slot] = attempt;
      this.#expires[slot] = Math.max(this.#expires[slot] ?? 0, timeMs + this.windowMs);
      return { kind: 'retransmission', reply: this.#reply(slot) };
    }
    if (this.#sweep(nowMs)) cell = this.#find(hi | 0, lo | 0); // the sweep moved cells
    if (this.#size >= this.capacity) return FULL;
    this.#pendingCell = cell;
    this.#pendingHi = hi | 0;
    this.#pendingLo = lo | 0;
    return NEW;
  }

  /** {@link remember} with the ID as its two 32-bit words, as given to {@link checkWords}. */
  rememberWords(hi: number, lo: number, timeMs: number, attempt: number, reply: Uint8Array): void {
    hi |= 0;
    lo |= 0;
    const reuse = this.#pendingSlot;
    this.#pendingSlot = -1;
    if (reuse >= 0 && this.#pendingCell >= 0 && this.#pendingHi === hi && this.#pendingLo === lo) {
      this.#pendingCell = -1;
      this.#long.delete(reuse);
      this.#store(reuse, timeMs, attempt, reply);
      return;
    }
    if (this.#size >= this.capacity) return; // check() said full
    // One lookup per new request: checkWords() left the cell it found empty for this ID, and
    // nothing has changed the table since (every change clears it). Otherwise, look again.
    let cell = this.#pendingCell;
    this.#pendingCell = -1;
    if (cell < 0 || this.#pendingHi !== hi || this.#pendingLo !== lo) {
      cell = this.#find(hi, lo);
      if (cell >= 0 && this.#table[cell + 2] !== 0) return; // check() said it is not new
    }
    let slot = this.#free.pop();
    if (slot === undefined) {
      slot = this.#used++;
      if (slot >= this.#attempts.length) {
        this.#grow();
        cell = -1; // the table was rebuilt
      }
    }
    if (cell < 0) cell = this.#find(hi, lo);
    this.#idHi[slot] = hi;
    this.#idLo[slot] = lo;
    this.#store(slot, timeMs, attempt, reply);
    const t = this.#table;
    t[cell] = hi;
    t[cell + 1] = lo;
    t[cell + 2] = slot + 1;
    this.#order[(this.#head + this.#size) % this.#order.length] = slot;
    this.#size++;
  }

  /** Writes a request's attempt, expiry and reply into its slot. */
  #store(slot: number, timeMs: number, attempt: number, reply: Uint8Array): void {
    this.#attempts[slot] = attempt;
    this.#expires[slot] = timeMs + this.windowMs;
    this.#lengths[slot] = reply.length;
    if (reply.length <= REPLY_SLOT) this.#bytes.set(reply, slot * REPLY_SLOT);
    else this.#long.set(slot, Uint8Array.from(reply));
  }

  /**
   * The cell of (hi, lo) in the table, or the empty cell where it would go; -1 when there is no
   * table yet.
   */
  #find(hi: number, lo: number): number {
    const t = this.#table;
    if (t.length === 0) return -1;
    const wrap = t.length - 1;
    let at = hashOf(hi, lo, this.#mask) * CELL;
    for (;;) {
      if (t[at + 2] === 0 || (t[at] === hi && t[at + 1] === lo)) return at;
      at = (at + CELL) & wrap;
    }
  }

  /** A copy of the reply kept in a slot (the slot may be reused once its entry expires). */
  #reply(slot: number): Uint8Array {
    const long = this.#long.get(slot);
    if (long !== undefined) return Buffer.from(long);
    const at = slot * REPLY_SLOT;
    return Buffer.from(this.#bytes.subarray(at, at + (this.#lengths[slot] ?? 0)));
  }

  /** Doubles the slot arrays (never past capacity) and rebuilds the table and the ring to match. */
  #grow(): void {
    const old = this.#attempts.length;
    const size = Math.min(this.capacity, Math.max(INITIAL_SLOTS, old * 2));
    const widen = <T extends Int32Array | Uint32Array | Float64Array | Uint8Array>(
      a: T,
      make: new (n: number) => T,
      n: number,
    ): T => {
      const b = new make(n);
      b.set(a);
      return b;
    };
    this.#idHi = widen(this.#idHi, Int32Array, size);
    this.#idLo = widen(this.#idLo, Int32Array, size);
    this.#attempts = widen(this.#attempts, Uint32Array, size);
    this.#expires = widen(this.#expires, Float64Array, size);
    this.#lengths = widen(this.#lengths, Uint32Array, size);
    this.#bytes = widen(this.#bytes, Uint8Array, size * REPLY_SLOT);
    // The ring, unrolled from its head.
    const order = new Int32Array(size);
    for (let i = 0; i < this.#size; i++) order[i] = this.#order[(this.#head + i) % old] ?? 0;
    this.#order = order;
    this.#head = 0;
    // The table: a power of two at least twice the slots, so it is never more than half full.
    let cells = 2;
    while (cells < size * 2) cells *= 2;
    this.#table = new Int32Array(cells * CELL);
    this.#mask = cells - 1;
    for (let i = 0; i < this.#size; i++) {
      const slot = order[i] ?? 0;
      const hi = this.#idHi[slot] ?? 0;
      const lo = this.#idLo[slot] ?? 0;
      const at = this.#find(hi, lo);
      this.#table[at] = hi;
      this.#table[at + 1] = lo;
      this.#table[at + 2] = slot + 1;
    }
  }

  /** Takes a slot's ID out of the table (backward-shift deletion, so no tombstones) and frees it. */
  #forget(slot: number): void {
    const t = this.#table;
    const wrap = t.length - 1;
    let hole = this.#find(this.#idHi[slot] ?? 0, this.#idLo[slot] ?? 0);
    let at = hole;
    for (;;) {
      at = (at + CELL) & wrap;
      const s = t[at + 2] ?? 0;
      if (s === 0) break;
      // The entry at `at` may fill the hole unless its home lies cyclically in (hole, at].
      const home = hashOf(t[at] ?? 0, t[at + 1] ?? 0, this.#mask) * CELL;
      if (hole <= at ? hole < home && home <= at : hole < home || home <= at) continue;
      t[hole] = t[at] ?? 0;
      t[hole + 1] = t[at + 1] ?? 0;
      t[hole + 2] = s;
      hole = at;
    }
    t[hole + 2] = 0;
    this.#long.delete(slot);
    this.#free.push(slot);
  }

  /**
   * Forgets expired entries. Entries sit in arrival order, which is nearly expiry order (clients'
   * clocks differ); the cheap sweep drops expired ones from the front, and when the cache is full a
   * complete sweep (at most once a second, so a full cache cannot make every request cost O(n))
   * finds the rest.
   * @returns true when it forgot anything (cells may have moved).
   */
  #lastSweepMs = Number.NaN;

  #sweep(nowMs: number): boolean {
    // The cheap sweep runs at most once per millisecond: an entry lives ≥ 1 ms past expiry, and
    // thousands of requests a second no longer each pay for the walk (docs/performance.md).
    if (nowMs === this.#lastSweepMs && this.#size < this.capacity) return false;
    this.#lastSweepMs = nowMs;
    this.#pendingCell = -1;
    this.#pendingSlot = -1;
    const order = this.#order;
    const before = this.#size;
    while (this.#size > 0) {
      const slot = order[this.#head] ?? 0;
      if ((this.#expires[slot] ?? 0) >= nowMs) break;
      this.#forget(slot);
      this.#head = (this.#head + 1) % order.length;
      this.#size--;
    }
    if (this.#size < this.capacity || nowMs < this.#nextFullSweepMs) return this.#size < before;
    this.#nextFullSweepMs = nowMs + 1000;
    // Keep the unexpired in their order, packed from the head.
    let kept = 0;
    for (let i = 0; i < this.#size; i++) {
      const slot = order[(this.#head + i) % order.length] ?? 0;
      if ((this.#expires[slot] ?? 0) < nowMs) this.#forget(slot);
      else order[(this.#head + kept++) % order.length] = slot;
    }
    this.#size = kept;
    return this.#size < before;
  }
}
