/**
 * A token bucket in its virtual-time form, the Generic Cell Rate Algorithm (ITU-T I.371;
 * RFC 2698 uses the same bucket): instead of a token count it keeps the theoretical arrival
 * time `tat` at which the bucket would be full again. A datagram of `bytes` may leave at
 * max(now, tat − burst time) and pushes `tat` on by bytes·8/rate. It is exactly a bucket of
 * depth `burstBytes` filled at `rate` bits per second, but a datagram larger than the bucket
 * still leaves (once the bucket is full), so a 64 KiB datagram cannot wedge the link.
 *
 * With `burstBytes` = 0 (the default) it is netem's `rate`: datagrams leave back to back,
 * each taking its serialization time.
 */

/** A token bucket with a rate in bits per second and a depth in bytes. */
export class TokenBucket {
  /** Rate in bits per second. */
  readonly rateBitsPerSecond: number;
  /** Bucket depth in bytes (how much may leave at once after an idle period). */
  readonly burstBytes: number;
  readonly #burstMs: number;
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
    this.#burstMs = this.costMs(burstBytes);
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
    const leave = Math.max(now, this.#tat - this.#burstMs);
    this.#tat = Math.max(this.#tat, leave) + this.costMs(bytes);
    return leave;
  }
}
