/**
 * The Gilbert–Elliott two-state burst-loss model, with netem's parameters (`loss gemodel
 * p r 1-h 1-k`, Hasslinger & Hohlfeld, "The Gilbert-Elliott Model for Packet Loss in Real
 * Time Services on the Internet", 2008):
 *
 * - two states, Good and Bad; the link starts Good;
 * - `p`: probability of moving Good → Bad after a datagram; `r`: Bad → Good;
 * - `lossBad` (netem's 1−h): loss probability in the Bad state, default 1;
 * - `lossGood` (netem's 1−k): loss probability in the Good state, default 0.
 *
 * With the defaults (the simple Gilbert model) every datagram in the Bad state is lost, so
 * loss bursts have a geometric length with mean 1/r, and the long-run loss rate is the
 * stationary probability of Bad, p / (p + r). In general it is
 * lossGood · r/(p+r) + lossBad · p/(p+r).
 *
 * Each datagram uses exactly two draws (loss in the current state, then the transition), so
 * a seeded run makes the same decisions whatever else happens.
 */
import type { Rng } from '../rng.js';

/** Parameters of the model (probabilities in [0, 1]). */
export interface GilbertElliottParams {
  /** Good → Bad transition probability per datagram. */
  p: number;
  /** Bad → Good transition probability per datagram (mean burst length 1/r). */
  r: number;
  /** Loss probability in the Bad state (netem's 1−h). Default 1. */
  lossBad?: number;
  /** Loss probability in the Good state (netem's 1−k). Default 0. */
  lossGood?: number;
}

function checkProbability(v: number, name: string): void {
  if (!(typeof v === 'number' && v >= 0 && v <= 1)) {
    throw new RangeError(`${name} must be a probability in [0, 1]`);
  }
}

/** Validates Gilbert–Elliott parameters. @throws RangeError naming the parameter. */
export function checkGilbertElliott(params: GilbertElliottParams): void {
  checkProbability(params.p, 'lossBurst.p');
  checkProbability(params.r, 'lossBurst.r');
  if (params.lossBad !== undefined) checkProbability(params.lossBad, 'lossBurst.lossBad');
  if (params.lossGood !== undefined) checkProbability(params.lossGood, 'lossBurst.lossGood');
  if (params.p > 0 && params.r === 0 && (params.lossBad ?? 1) === 1) {
    // Not an error in the maths, but a link that goes dead for good after the first burst
    // is almost certainly a typo for a blackout.
    throw new RangeError('lossBurst.r must be > 0 (with r = 0 the link never recovers)');
  }
}

/** The long-run loss rate of the model (the stationary probability-weighted loss). */
export function stationaryLoss(params: GilbertElliottParams): number {
  const { p, r } = params;
  const lossBad = params.lossBad ?? 1;
  const lossGood = params.lossGood ?? 0;
  if (p + r === 0) return lossGood; // never leaves Good
  const bad = p / (p + r);
  return lossGood * (1 - bad) + lossBad * bad;
}

/**
 * A Gilbert–Elliott loss process.
 * @example
 * const ge = new GilbertElliott({ p: 0.05, r: 0.25 }, seededRng(1)); // ≈ 16.7 % loss, bursts of 4
 * const lost = ge.lose();
 */
export class GilbertElliott {
  readonly #p: number;
  readonly #r: number;
  readonly #lossBad: number;
  readonly #lossGood: number;
  readonly #rng: Rng;
  #bad = false;

  /** @throws RangeError on parameters out of range. */
  constructor(params: GilbertElliottParams, rng: Rng) {
    checkGilbertElliott(params);
    this.#p = params.p;
    this.#r = params.r;
    this.#lossBad = params.lossBad ?? 1;
    this.#lossGood = params.lossGood ?? 0;
    this.#rng = rng;
  }

  /** The current state. */
  get state(): 'good' | 'bad' {
    return this.#bad ? 'bad' : 'good';
  }

  /** Decides the fate of the next datagram: true = lost. Then moves the chain one step. */
  lose(): boolean {
    const lost = this.#rng() < (this.#bad ? this.#lossBad : this.#lossGood);
    const u = this.#rng();
    this.#bad = this.#bad ? !(u < this.#r) : u < this.#p;
    return lost;
  }
}
