/**
 * A token bucket in its virtual-time form, as the Generic Cell Rate Algorithm (ITU-T I.371)
 * keeps it: instead of a token count it keeps the time `tat` at which the bucket would be
 * full again, so the tokens at time t are depth − (tat − t)·rate. A datagram of s bytes may
 * leave once the bucket holds s tokens, at max(now, tat − (depth − s)/rate), and takes them:
 * tat becomes max(tat, leave) + s/rate. The depth is `burstBytes`, or the datagram's own size
 * when that is larger, so a 64 KiB datagram cannot wedge a small bucket: it leaves once the
 * bucket is full.
 *
 * With `burstBytes` = 0 (the default) it is netem's `rate`: datagrams leave back to back,
 * each taking its serialization time.
 */

/**
 * A token bucket with a rate in bits per second and a depth in bytes.
 * @example
 * const b = new TokenBucket(80_000); // 10 000 bytes/s
 * [b.reserve(1000, 0), b.reserve(1000, 0)]; // [0, 100]: the second leaves 100 ms later
 */
export class TokenBucket {
  /** Rate in bits per second. */
  readonly rateBitsPerSecond: number;
  /** Bucket depth in bytes (how much may leave at once after an idle period). */
  readonly burstBytes: number;
  #tat = Number.NEGATIVE_INFINITY;

  /** @throws RangeError when the rate is not > 0 or the burst is negative. */
  constructor(rateBitsPerSecond: number, burstBytes = 0) {
    if (!(rateBitsPerSecond > 0 && Number.isFinite(rateBitsPerSecond))) {
      throw new RangeError('rateBitsPerSecond must be a positive number');
    }
    if (!(burstBytes >= 0 && Number.isFinite(burstBytes))) {
      throw new RangeError('burstBytes must be ≥ 0');
    }
    this.rateBitsPerSecond = rateBitsPerSecond;
    this.burstBytes = burstBytes;
  }

  /** How long `bytes` take at the rate, in ms. */
  costMs(bytes: number): number {
    return (bytes * 8 * 1000) / this.rateBitsPerSecond;
  }

  /**
   * Reserves the bucket for a datagram of `bytes` arriving at `now` (ms) behind every datagram
   * reserved before it (FIFO), and returns the time (ms) at which it may leave.
   */
  reserve(bytes: number, now: number): number {
    const slackMs = this.costMs(Math.max(this.burstBytes, bytes) - bytes);
    const leave = Math.max(now, this.#tat - slackMs);
    this.#tat = Math.max(this.#tat, leave) + this.costMs(bytes);
    return leave;
  }
}
