/**
 * Random numbers for simulated loss, jitter and impairments. Every component takes an
 * injected `Rng` so that tests and `--seed` runs are reproducible.
 */

/** A source of uniform random numbers in [0, 1). */
export type Rng = () => number;

/**
 * A seeded generator (mulberry32: 32-bit state, fast, good enough for simulations —
 * not for keys or IDs, which come from node:crypto).
 * @param seed - any integer; the same seed gives the same sequence.
 */
export function seededRng(seed: number): Rng {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The default, unseeded generator. */
export const defaultRng: Rng = Math.random;

/** A seeded generator when `seed` is given, else the default one. */
export function rngFor(seed: number | undefined): Rng {
  return seed === undefined ? defaultRng : seededRng(seed);
}

/**
 * The longest delay a Node timer honours: 2^31 − 1 ms (about 24.8 days). A longer one fires after
 * 1 ms with a TimeoutOverflowWarning, so every duration udplab accepts stays at or below it.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;
