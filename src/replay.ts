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
 * Storage: a Map from ID to a slot number, and per slot the attempt, the expiry and the reply's
 * bytes in flat typed arrays (grown by doubling up to `capacity` slots; freed slots are reused), so
 * that an entry costs no object and no Buffer of its own: at thousands of new requests a second,
 * per-entry objects that live for a window are what the garbage collector would spend its time on.
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

const NEW: ReplayVerdict = { kind: 'new' };
const STALE: ReplayVerdict = { kind: 'stale' };
const REPLAY: ReplayVerdict = { kind: 'replay' };
const FULL: ReplayVerdict = { kind: 'cache-full' };

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
  /** ID → slot. In insertion order, which is nearly expiry order (the cheap sweep relies on it). */
  readonly #slots = new Map<bigint, number>();
  /** Per slot: the highest attempt number accepted for its ID. */
  #attempts = new Uint32Array(0);
  /** Per slot: when a copy of any accepted datagram of its ID turns stale: max(time) + window. */
  #expires = new Float64Array(0);
  /** Per slot: the reply's length, and its bytes at slot × REPLY_SLOT (or in #long). */
  #lengths = new Uint32Array(0);
  #bytes = new Uint8Array(0);
  /** Replies longer than REPLY_SLOT, by slot. */
  readonly #long = new Map<number, Uint8Array>();
  /** Slots given back by the sweep, and the first slot never used. */
  #free: number[] = [];
  #used = 0;
  #nextFullSweepMs = -Infinity;

  /** @throws RangeError when windowMs is not > 0 or capacity not an integer ≥ 1. */
  constructor(options: ReplayCacheOptions = {}) {
    const windowMs = options.windowMs ?? DEFAULT_WINDOW_MS;
    const capacity = options.capacity ?? DEFAULT_REPLAY_CAPACITY;
    if (!(windowMs > 0 && Number.isFinite(windowMs)))
      throw new RangeError('windowMs must be a positive number');
    if (!(Number.isSafeInteger(capacity) && capacity >= 1))
      throw new RangeError('capacity must be an integer ≥ 1');
    this.windowMs = windowMs;
    this.capacity = capacity;
    this.notBeforeMs = options.notBeforeMs ?? -Infinity;
  }

  /** How many IDs are remembered now (never more than `capacity`). */
  get size(): number {
    return this.#slots.size;
  }

  /**
   * Judges an authenticated request. For `new`, the caller answers and then calls {@link remember}.
   * For `retransmission` the entry is updated (its attempt and expiry) and the cached reply returned.
   * @param nowMs - the server's clock, ms since 1970.
   */
  check(id: bigint, timeMs: number, attempt: number, nowMs: number): ReplayVerdict {
    if (!(Math.abs(nowMs - timeMs) <= this.windowMs) || timeMs < this.notBeforeMs) return STALE;
    const slot = this.#slots.get(id);
    if (slot !== undefined) {
      if (attempt <= (this.#attempts[slot] ?? 0)) return REPLAY;
      this.#attempts[slot] = attempt;
      this.#expires[slot] = Math.max(this.#expires[slot] ?? 0, timeMs + this.windowMs);
      return { kind: 'retransmission', reply: this.#reply(slot) };
    }
    this.#sweep(nowMs);
    if (this.#slots.size >= this.capacity) return FULL;
    return NEW;
  }

  /** Remembers a new request (after {@link check} said `new`) and the sealed reply to it. */
  remember(id: bigint, timeMs: number, attempt: number, reply: Uint8Array): void {
    if (this.#slots.has(id)) return; // check() said it is not new
    if (this.#slots.size >= this.capacity) return; // check() said full
    const slot = this.#free.pop() ?? this.#newSlot();
    this.#attempts[slot] = attempt;
    this.#expires[slot] = timeMs + this.windowMs;
    this.#lengths[slot] = reply.length;
    if (reply.length <= REPLY_SLOT) this.#bytes.set(reply, slot * REPLY_SLOT);
    else this.#long.set(slot, Uint8Array.from(reply));
    this.#slots.set(id, slot);
  }

  /** A copy of the reply kept in a slot (the slot may be reused once its entry expires). */
  #reply(slot: number): Uint8Array {
    const long = this.#long.get(slot);
    if (long !== undefined) return Buffer.from(long);
    const at = slot * REPLY_SLOT;
    return Buffer.from(this.#bytes.subarray(at, at + (this.#lengths[slot] ?? 0)));
  }

  /** A slot never used before, doubling the arrays when they are full (never past capacity). */
  #newSlot(): number {
    const slot = this.#used++;
    if (slot >= this.#attempts.length) {
      const size = Math.min(this.capacity, Math.max(INITIAL_SLOTS, this.#attempts.length * 2));
      const attempts = new Uint32Array(size);
      const expires = new Float64Array(size);
      const lengths = new Uint32Array(size);
      const bytes = new Uint8Array(size * REPLY_SLOT);
      attempts.set(this.#attempts);
      expires.set(this.#expires);
      lengths.set(this.#lengths);
      bytes.set(this.#bytes);
      this.#attempts = attempts;
      this.#expires = expires;
      this.#lengths = lengths;
      this.#bytes = bytes;
    }
    return slot;
  }

  #forget(id: bigint, slot: number): void {
    this.#slots.delete(id);
    this.#long.delete(slot);
    this.#free.push(slot);
  }

  /**
   * Forgets expired entries. Entries sit in arrival order, which is nearly expiry order (clients'
   * clocks differ); the cheap sweep drops expired ones from the front, and when the cache is full a
   * complete sweep (at most once a second, so a full cache cannot make every request cost O(n))
   * finds the rest.
   */
  #lastSweepMs = Number.NaN;

  #sweep(nowMs: number): void {
    // The cheap sweep runs at most once per millisecond: an entry lives ≥ 1 ms past expiry, and
    // thousands of requests a second no longer each pay for a Map iterator (docs/performance.md).
    if (nowMs === this.#lastSweepMs && this.#slots.size < this.capacity) return;
    this.#lastSweepMs = nowMs;
    for (const [id, slot] of this.#slots) {
      if ((this.#expires[slot] ?? 0) >= nowMs) break;
      this.#forget(id, slot);
    }
    if (this.#slots.size < this.capacity || nowMs < this.#nextFullSweepMs) return;
    this.#nextFullSweepMs = nowMs + 1000;
    for (const [id, slot] of this.#slots)
      if ((this.#expires[slot] ?? 0) < nowMs) this.#forget(id, slot);
  }
}
