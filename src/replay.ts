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

interface Entry {
  /** The highest attempt number accepted for this ID. */
  attempt: number;
  /** When a copy of any accepted datagram of this ID turns stale: max(time) + window. */
  expiresMs: number;
  /** The sealed reply, sent again to retransmissions. */
  reply: Uint8Array;
}

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
  readonly #entries = new Map<bigint, Entry>();
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
    return this.#entries.size;
  }

  /**
   * Judges an authenticated request. For `new`, the caller answers and then calls {@link remember}.
   * For `retransmission` the entry is updated (its attempt and expiry) and the cached reply returned.
   * @param nowMs - the server's clock, ms since 1970.
   */
  check(id: bigint, timeMs: number, attempt: number, nowMs: number): ReplayVerdict {
    if (!(Math.abs(nowMs - timeMs) <= this.windowMs) || timeMs < this.notBeforeMs) return STALE;
    const entry = this.#entries.get(id);
    if (entry !== undefined) {
      if (attempt <= entry.attempt) return REPLAY;
      entry.attempt = attempt;
      entry.expiresMs = Math.max(entry.expiresMs, timeMs + this.windowMs);
      return { kind: 'retransmission', reply: entry.reply };
    }
    this.#sweep(nowMs);
    if (this.#entries.size >= this.capacity) return FULL;
    return NEW;
  }

  /** Remembers a new request (after {@link check} said `new`) and the sealed reply to it. */
  remember(id: bigint, timeMs: number, attempt: number, reply: Uint8Array): void {
    if (this.#entries.size >= this.capacity && !this.#entries.has(id)) return; // check() said full
    this.#entries.set(id, { attempt, expiresMs: timeMs + this.windowMs, reply });
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
    if (nowMs === this.#lastSweepMs && this.#entries.size < this.capacity) return;
    this.#lastSweepMs = nowMs;
    for (const [id, e] of this.#entries) {
      if (e.expiresMs >= nowMs) break;
      this.#entries.delete(id);
    }
    if (this.#entries.size < this.capacity || nowMs < this.#nextFullSweepMs) return;
    this.#nextFullSweepMs = nowMs + 1000;
    for (const [id, e] of this.#entries) if (e.expiresMs < nowMs) this.#entries.delete(id);
  }
}
