/**
 * The impairment decisions of `udplab proxy`, free of sockets and clocks: for each datagram,
 * given its size and its time since the start, decide whether it is lost (and why), how many
 * copies go on, each copy's delay and whether one of its bits is flipped, and whether it is
 * held back behind later datagrams. The vocabulary is netem's (tc-netem(8)); the queueing and
 * the rate live in impair/link.ts.
 *
 * Randomness comes from the injected `rng`, in a fixed order per datagram (loss, duplicate,
 * then per copy jitter and corruption, then reorder), and every enabled impairment draws
 * whether or not an earlier one already decided the datagram's fate. So datagram n gets the
 * same decisions for the same seed, whatever the timing: a seeded run repeats exactly for the
 * same input order.
 */
import {
  GilbertElliott,
  checkGilbertElliott,
  type GilbertElliottParams,
} from './impair/gilbert-elliott.js';
import type { Rng } from './rng.js';

/** How the jitter is spread around the delay (docs/proxy.md). */
export type JitterDistribution = 'uniform' | 'normal';

/** A window, relative to the proxy's start, during which the link carries nothing. */
export interface Blackout {
  /** Start, in ms after the start (inclusive). */
  fromMs: number;
  /** End, in ms after the start (exclusive). */
  toMs: number;
}

/** The impairments of one direction. Every field is optional; an empty spec is a clean link. */
export interface ImpairmentSpec {
  /** Independent (Bernoulli) loss probability per datagram, [0, 1]. Default 0. */
  loss?: number;
  /** Gilbert–Elliott burst loss instead of `loss` (impair/gilbert-elliott.ts). */
  lossBurst?: GilbertElliottParams;
  /** Base one-way delay, ms. Default 0. */
  delayMs?: number;
  /** Jitter around the delay, ms: the half-width (uniform) or the standard deviation (normal). Default 0; needs `delayMs` > 0. */
  jitterMs?: number;
  /** Default `uniform` (netem's default without a distribution table). */
  jitterDistribution?: JitterDistribution;
  /** Probability of sending a datagram twice, [0, 1]. Default 0. */
  duplicate?: number;
  /** Probability of holding a datagram back behind later ones, [0, 1]. Default 0. */
  reorder?: number;
  /** A held-back datagram is released after this many later datagrams have gone out. Default 1. */
  reorderGap?: number;
  /** …or after this long (ms) if fewer came. Default 50. */
  reorderHoldMs?: number;
  /** Probability of flipping one random bit of a datagram, [0, 1]. Default 0. */
  corrupt?: number;
  /** Bottleneck rate in bits per second (token bucket). Default unlimited. */
  rateBitsPerSecond?: number;
  /** Token bucket depth in bytes. Default 0 (netem's pacing: datagrams leave back to back); above 0 it needs `rateBitsPerSecond`. */
  burstBytes?: number;
  /** At most this many datagrams held in the direction (delayed, paced or held back); more are dropped. Default 1000 (netem's `limit`). */
  queueLimit?: number;
  /** Windows during which everything is dropped. */
  blackouts?: readonly Blackout[];
}

/** Why a datagram was lost. */
export type LossReason = 'loss' | 'burst' | 'blackout' | 'queue-full';

/** One copy of a datagram that goes on. */
export interface CopyPlan {
  /** Propagation delay with jitter, ms (≥ 0). */
  delayMs: number;
  /** The bit to flip (0 = the most significant bit of byte 0), or undefined. */
  corruptBit: number | undefined;
}

/** The decision for one datagram. */
export type Decision =
  | { fate: 'lost'; reason: 'loss' | 'burst' | 'blackout' }
  | { fate: 'sent'; copies: CopyPlan[]; reorder: boolean };

/** Defaults of the fields that have one. */
export const IMPAIRMENT_DEFAULTS = {
  jitterDistribution: 'uniform',
  reorderGap: 1,
  reorderHoldMs: 50,
  burstBytes: 0,
  queueLimit: 1000,
} as const;

function probability(v: number | undefined, name: string): void {
  if (v !== undefined && !(typeof v === 'number' && v >= 0 && v <= 1)) {
    throw new RangeError(`${name} must be a probability in [0, 1]`);
  }
}

function nonNegative(v: number | undefined, name: string): void {
  if (v !== undefined && !(typeof v === 'number' && v >= 0 && Number.isFinite(v))) {
    throw new RangeError(`${name} must be a number ≥ 0`);
  }
}

/**
 * Validates a spec: each field in its range, one loss model at most, no `burstBytes` without
 * `rateBitsPerSecond` and no `jitterMs` without a `delayMs` above 0.
 * @throws RangeError or TypeError naming the field.
 */
export function checkImpairments(spec: ImpairmentSpec): void {
  probability(spec.loss, 'loss');
  if (spec.lossBurst !== undefined) {
    checkGilbertElliott(spec.lossBurst);
    if ((spec.loss ?? 0) > 0) throw new RangeError('loss and lossBurst cannot both be set');
  }
  nonNegative(spec.delayMs, 'delayMs');
  nonNegative(spec.jitterMs, 'jitterMs');
  if (
    spec.jitterDistribution !== undefined &&
    spec.jitterDistribution !== 'uniform' &&
    spec.jitterDistribution !== 'normal'
  ) {
    throw new TypeError("jitterDistribution must be 'uniform' or 'normal'");
  }
  probability(spec.duplicate, 'duplicate');
  probability(spec.reorder, 'reorder');
  if (
    spec.reorderGap !== undefined &&
    !(Number.isInteger(spec.reorderGap) && spec.reorderGap >= 1)
  ) {
    throw new RangeError('reorderGap must be an integer ≥ 1');
  }
  nonNegative(spec.reorderHoldMs, 'reorderHoldMs');
  probability(spec.corrupt, 'corrupt');
  if (
    spec.rateBitsPerSecond !== undefined &&
    !(spec.rateBitsPerSecond > 0 && Number.isFinite(spec.rateBitsPerSecond))
  ) {
    throw new RangeError('rateBitsPerSecond must be a positive number');
  }
  nonNegative(spec.burstBytes, 'burstBytes');
  // A depth without a rate would be ignored, and jitter around no delay would lose the half of
  // its range below 0 to clipping: both are mistakes, not impairments (netem has no jitter
  // without a delay either: `delay TIME [JITTER]`).
  if ((spec.burstBytes ?? 0) > 0 && spec.rateBitsPerSecond === undefined) {
    throw new RangeError(
      'burstBytes needs rateBitsPerSecond: a bucket depth without a rate does nothing',
    );
  }
  if ((spec.jitterMs ?? 0) > 0 && !((spec.delayMs ?? 0) > 0)) {
    throw new RangeError('jitterMs needs delayMs > 0 to vary around');
  }
  if (
    spec.queueLimit !== undefined &&
    !(Number.isInteger(spec.queueLimit) && spec.queueLimit >= 1)
  ) {
    throw new RangeError('queueLimit must be an integer ≥ 1');
  }
  for (const b of spec.blackouts ?? []) {
    if (!(b.fromMs >= 0 && b.toMs > b.fromMs && Number.isFinite(b.toMs))) {
      throw new RangeError('each blackout needs 0 ≤ fromMs < toMs');
    }
  }
}

/**
 * Lays `over` on `base` (fields of `over` that are set win). A loss model in `over` (`loss` or
 * `lossBurst`) replaces both of base's, so a per-direction burst model over a shared `loss`
 * does not make a spec with two loss models.
 */
export function mergeImpairments(base: ImpairmentSpec, over: ImpairmentSpec): ImpairmentSpec {
  const out: ImpairmentSpec = { ...base };
  if (over.loss !== undefined || over.lossBurst !== undefined) {
    delete out.loss;
    delete out.lossBurst;
  }
  for (const [k, v] of Object.entries(over)) {
    if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  }
  return out;
}

/** True when `atMs` (ms since the start) falls in one of the windows. */
export function inBlackout(blackouts: readonly Blackout[], atMs: number): boolean {
  for (const b of blackouts) if (atMs >= b.fromMs && atMs < b.toMs) return true;
  return false;
}

/**
 * A sample of N(0, 1) by the Box–Muller transform, from exactly two draws
 * (1 − u keeps the logarithm finite, as rng() may return 0).
 */
export function standardNormal(rng: Rng): number {
  const u1 = rng();
  const u2 = rng();
  return Math.sqrt(-2 * Math.log(1 - u1)) * Math.cos(2 * Math.PI * u2);
}

/**
 * Flips bit `bit` (0 = the most significant bit of byte 0) of a copy of `data`; the input is
 * never modified (a duplicate may share it).
 */
export function flipBit(data: Uint8Array, bit: number): Buffer {
  const out = Buffer.from(data);
  const i = bit >> 3;
  const byte = out[i];
  if (byte === undefined)
    throw new RangeError(`bit ${bit} is outside a ${data.length}-byte datagram`);
  out[i] = byte ^ (0x80 >> (bit & 7));
  return out;
}

/**
 * The per-datagram decisions of one direction.
 * @example
 * const im = new Impairment({ loss: 0.3, delayMs: 50, jitterMs: 10 }, seededRng(1));
 * const d = im.decide(100, 0); // { fate: 'sent', copies: [{ delayMs: 47.2, … }], reorder: false } or lost
 */
export class Impairment {
  readonly spec: Readonly<ImpairmentSpec>;
  readonly #rng: Rng;
  readonly #ge: GilbertElliott | undefined;

  /** @throws RangeError / TypeError on an invalid spec. */
  constructor(spec: ImpairmentSpec, rng: Rng) {
    checkImpairments(spec);
    this.spec = spec;
    this.#rng = rng;
    this.#ge = spec.lossBurst === undefined ? undefined : new GilbertElliott(spec.lossBurst, rng);
  }

  /**
   * Decides the fate of one datagram of `bytes` bytes arriving `atMs` after the start.
   */
  decide(bytes: number, atMs: number): Decision {
    const s = this.spec;
    const rng = this.#rng;
    let lost: 'loss' | 'burst' | undefined;
    if (this.#ge !== undefined) {
      if (this.#ge.lose()) lost = 'burst';
    } else if ((s.loss ?? 0) > 0 && rng() < (s.loss ?? 0)) lost = 'loss';
    const duplicate = (s.duplicate ?? 0) > 0 && rng() < (s.duplicate ?? 0);
    const copies: CopyPlan[] = [this.#copy(bytes)];
    if (duplicate) copies.push(this.#copy(bytes));
    const reorder = (s.reorder ?? 0) > 0 && rng() < (s.reorder ?? 0);
    if (s.blackouts !== undefined && inBlackout(s.blackouts, atMs)) {
      return { fate: 'lost', reason: 'blackout' };
    }
    if (lost !== undefined) return { fate: 'lost', reason: lost };
    return { fate: 'sent', copies, reorder };
  }

  #copy(bytes: number): CopyPlan {
    const s = this.spec;
    const rng = this.#rng;
    const base = s.delayMs ?? 0;
    const jitter = s.jitterMs ?? 0;
    let delayMs = base;
    if (jitter > 0) {
      delayMs +=
        (s.jitterDistribution ?? 'uniform') === 'normal'
          ? jitter * standardNormal(rng)
          : jitter * (2 * rng() - 1);
      // netem clips the same way: a packet cannot leave before it arrived.
      if (delayMs < 0) delayMs = 0;
    }
    let corruptBit: number | undefined;
    if ((s.corrupt ?? 0) > 0 && rng() < (s.corrupt ?? 0)) {
      const bit = Math.floor(rng() * bytes * 8);
      if (bytes > 0) corruptBit = bit;
    }
    return { delayMs, corruptBit };
  }
}
