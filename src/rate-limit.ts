/**
 * `--rate-limit N`: a token bucket per source address, so that the server cannot be turned into a
 * flood against a victim whose address an attacker forges (docs/hardening.md). Each source may
 * receive `burst` replies at once and `ratePerSecond` on average; datagrams beyond that get no
 * reply and are counted.
 *
 * The table of sources is bounded (`maxSources`, default 4,096 entries; each holds two numbers). It
 * is kept in least-recently-used order: a new source beyond the bound evicts the source that has
 * been quiet longest. An evicted source starts again with a full bucket, so an attacker cycling
 * through more than `maxSources` forged addresses can obtain at most `burst` replies per victim
 * address per cycle — far less than the victim would get without the limit — and memory stays flat.
 */

/** Default bound of the source table. */
export const DEFAULT_MAX_SOURCES = 4096;

/** Options of {@link RateLimiter}. */
export interface RateLimitOptions {
  /** Average replies per second allowed to one source address. */
  ratePerSecond: number;
  /** Replies a quiet source may get at once (the bucket size). Default max(1, ⌈ratePerSecond⌉). */
  burst?: number;
  /** The most sources tracked at once. Default 4,096. */
  maxSources?: number;
}

interface Bucket {
  tokens: number;
  lastMs: number;
}

/**
 * Token buckets keyed by source address, in a bounded LRU table.
 * @example
 * const limiter = new RateLimiter({ ratePerSecond: 10 });
 * if (limiter.allow(rinfo.address, Date.now())) socket.send(reply, rinfo.port, rinfo.address);
 */
export class RateLimiter {
  readonly ratePerSecond: number;
  readonly burst: number;
  readonly maxSources: number;
  /** Sources evicted from the full table so far. */
  evictions = 0;
  readonly #buckets = new Map<string, Bucket>();
  readonly #perMs: number;

  /** @throws RangeError when a bound is not positive. */
  constructor(options: RateLimitOptions) {
    const { ratePerSecond } = options;
    if (!(ratePerSecond > 0 && Number.isFinite(ratePerSecond)))
      throw new RangeError('ratePerSecond must be a positive number');
    const burst = options.burst ?? Math.max(1, Math.ceil(ratePerSecond));
    if (!(burst >= 1 && Number.isFinite(burst))) throw new RangeError('burst must be ≥ 1');
    const maxSources = options.maxSources ?? DEFAULT_MAX_SOURCES;
    if (!(Number.isSafeInteger(maxSources) && maxSources >= 1))
      throw new RangeError('maxSources must be an integer ≥ 1');
    this.ratePerSecond = ratePerSecond;
    this.burst = burst;
    this.maxSources = maxSources;
    this.#perMs = ratePerSecond / 1000;
  }

  /** Sources tracked now (never more than `maxSources`). */
  get size(): number {
    return this.#buckets.size;
  }

  /**
   * Takes one token from `source`'s bucket.
   * @param source - the source address (IPv4-mapped IPv6 addresses count as their IPv4 address).
   * @param nowMs - a clock in ms; going backwards refills nothing (the new reading becomes the baseline).
   * @returns true when the reply may be sent.
   */
  allow(source: string, nowMs: number): boolean {
    const key = source.startsWith('::ffff:') ? source.slice(7) : source;
    let b = this.#buckets.get(key);
    if (b === undefined) {
      b = { tokens: this.burst, lastMs: nowMs };
      if (this.#buckets.size >= this.maxSources) {
        const oldest = this.#buckets.keys().next();
        if (!oldest.done) this.#buckets.delete(oldest.value);
        this.evictions++;
      }
    } else {
      // Refill, then move to the back: Map order is least recently used first.
      const elapsed = nowMs - b.lastMs;
      if (elapsed > 0) b.tokens = Math.min(this.burst, b.tokens + elapsed * this.#perMs);
      b.lastMs = nowMs;
      this.#buckets.delete(key);
    }
    this.#buckets.set(key, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }
}
