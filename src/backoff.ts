/**
 * The retransmission schedule (the lab's Task 2, as CoAP — RFC 7252 §4.2 — and DNS stub
 * resolvers do it): wait `timeoutMs`, retransmit, double the wait, and give up when the next
 * wait would exceed `maxDelayMs`, or after `attempts` transmissions, whichever comes first.
 *
 * Lab defaults (0.1 s, 2.0 s): waits 100, 200, 400, 800, 1600 ms — 5 transmissions,
 * 3.1 s in all; the next wait, 3.2 s, would pass 2 s, so the client gives up.
 */
import type { Rng } from './rng.js';
import { MAX_TIMER_MS, defaultRng } from './rng.js';

/** Options of the schedule. */
export interface BackoffOptions {
  /** First wait, in ms. Default 100 (the lab's 0.1 s). */
  timeoutMs?: number;
  /** Give up once the next nominal wait would exceed this, in ms. Default 2000. */
  maxDelayMs?: number;
  /** At most this many transmissions (CoAP's MAX_RETRANSMIT + 1). Default unlimited. */
  attempts?: number;
  /** Spread each wait uniformly over [w·(1−F), w·(1+F)], 0 ≤ F < 1. Default 0 (lab parity). */
  jitter?: number;
  /** Random source for jitter. Default Math.random. */
  rng?: Rng;
}

/** Defaults of the lab's client. */
export const BACKOFF_DEFAULTS = { timeoutMs: 100, maxDelayMs: 2000, jitter: 0 } as const;

/**
 * Validates backoff options. @throws RangeError naming the option.
 */
export function checkBackoff(o: BackoffOptions): void {
  if (o.timeoutMs !== undefined && !(o.timeoutMs > 0 && o.timeoutMs <= MAX_TIMER_MS)) {
    throw new RangeError(`timeoutMs must be a positive number of at most ${MAX_TIMER_MS}`);
  }
  if (o.maxDelayMs !== undefined && !(o.maxDelayMs > 0 && Number.isFinite(o.maxDelayMs))) {
    throw new RangeError('maxDelayMs must be a positive number');
  }
  if (o.attempts !== undefined && !(Number.isInteger(o.attempts) && o.attempts >= 1)) {
    throw new RangeError('attempts must be an integer ≥ 1');
  }
  if (o.jitter !== undefined && !(o.jitter >= 0 && o.jitter < 1)) {
    throw new RangeError('jitter must be in [0, 1)');
  }
}

/**
 * The nominal waits (ms), one per transmission, before jitter.
 * There is always at least one transmission, even when `timeoutMs` > `maxDelayMs`
 * (one long wait: `--timeout 60` for the by-hand spoofing walkthrough).
 * @example nominalWaits({}) // [100, 200, 400, 800, 1600]
 */
export function nominalWaits(options: BackoffOptions = {}): number[] {
  checkBackoff(options);
  const first = options.timeoutMs ?? BACKOFF_DEFAULTS.timeoutMs;
  const max = Math.min(MAX_TIMER_MS, options.maxDelayMs ?? BACKOFF_DEFAULTS.maxDelayMs);
  const cap = options.attempts ?? Number.POSITIVE_INFINITY;
  const waits = [first];
  // The same expression as undici's retry handler, without the min(): the lab gives up instead.
  for (let n = 1; n < cap; n++) {
    const next = first * 2 ** n;
    if (next > max) break;
    waits.push(next);
  }
  return waits;
}

/**
 * The waits (ms) with jitter applied from `rng`: each nominal w becomes uniform in
 * [w·(1−F), w·(1+F)], so that many clients do not retransmit in lockstep.
 */
export function schedule(options: BackoffOptions = {}): number[] {
  const jitter = options.jitter ?? BACKOFF_DEFAULTS.jitter;
  const rng = options.rng ?? defaultRng;
  return nominalWaits(options).map((w) =>
    jitter === 0 ? w : w * (1 - jitter + 2 * jitter * rng()),
  );
}
