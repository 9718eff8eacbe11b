/**
 * The units people type for impairments, in tc-netem(8)'s vocabulary, and their display.
 * Each parser throws a RangeError with a one-line explanation (the CLI turns it into a usage
 * error, exit 2).
 */
import type { GilbertElliottParams } from './gilbert-elliott.js';
import type { Blackout } from '../impair.js';
import { MAX_TIMER_MS } from '../rng.js';

const NUMBER = String.raw`(\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?`;

/** A probability: `0.3` or `30%`. */
export function parseProbability(text: string): number {
  const m = new RegExp(`^\\s*(${NUMBER})\\s*(%?)\\s*$`, 'i').exec(text);
  const v = m ? Number(m[1]) / (m[3] === '%' ? 100 : 1) : Number.NaN;
  if (!(v >= 0 && v <= 1)) {
    throw new RangeError(`expected a probability from 0 to 1 or a percentage (e.g. 0.3 or 30%)`);
  }
  return v;
}

const TIME_UNITS: Record<string, number> = {
  '': 1,
  ms: 1,
  msec: 1,
  s: 1000,
  sec: 1000,
  us: 0.001,
  usec: 0.001,
};

/** A duration in milliseconds: `100` (ms, as netem's delay), `100ms`, `0.1s`, `500us`. */
export function parseMs(text: string): number {
  const m = new RegExp(`^\\s*(${NUMBER})\\s*([a-z]*)\\s*$`, 'i').exec(text);
  const unit = TIME_UNITS[(m?.[3] ?? '?').toLowerCase()];
  const v = m && unit !== undefined ? Number(m[1]) * unit : Number.NaN;
  if (!(v >= 0 && v <= MAX_TIMER_MS)) {
    throw new RangeError(
      `expected a duration from 0 to ${MAX_TIMER_MS} ms (e.g. 100, 100ms, 0.1s)`,
    );
  }
  return v;
}

/** Rate units of tc(8): `bit` suffixes are bits per second, `bps` suffixes BYTES per second. */
const RATE_UNITS: Record<string, number> = {
  '': 1,
  bit: 1,
  k: 1e3,
  kbit: 1e3,
  m: 1e6,
  mbit: 1e6,
  g: 1e9,
  gbit: 1e9,
  kibit: 1024,
  mibit: 1024 ** 2,
  gibit: 1024 ** 3,
  bps: 8,
  kbps: 8e3,
  mbps: 8e6,
  gbps: 8e9,
  kibps: 8 * 1024,
  mibps: 8 * 1024 ** 2,
  gibps: 8 * 1024 ** 3,
};

/**
 * A rate in bits per second, as tc writes it: `1mbit`, `768kbit`, `1000000`; `bps` suffixes
 * mean bytes per second (tc's convention: `1mbps` = 8 Mbit/s).
 * @example parseRate('768kbit') // 768000
 * @throws RangeError when it is not a rate > 0 with a known unit.
 */
export function parseRate(text: string): number {
  const m = new RegExp(`^\\s*(${NUMBER})\\s*([a-z]*)\\s*$`, 'i').exec(text);
  const unit = RATE_UNITS[(m?.[3] ?? '?').toLowerCase()];
  const v = m && unit !== undefined ? Number(m[1]) * unit : Number.NaN;
  if (!(v > 0 && Number.isFinite(v))) {
    throw new RangeError(
      'expected a rate > 0 in bits per second (e.g. 1mbit, 768kbit, 64000; kbps/mbps mean bytes per second, as in tc)',
    );
  }
  return v;
}

const BYTE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
};

/** A size in bytes: `1500`, `16k` / `16kb` (KiB), `1m` / `1mb` (MiB), as tc's burst. */
export function parseBytes(text: string): number {
  const m = new RegExp(`^\\s*(${NUMBER})\\s*([a-z]*)\\s*$`, 'i').exec(text);
  const unit = BYTE_UNITS[(m?.[3] ?? '?').toLowerCase()];
  const v = m && unit !== undefined ? Math.round(Number(m[1]) * unit) : Number.NaN;
  if (!(v >= 0 && Number.isFinite(v)))
    throw new RangeError('expected a size in bytes (e.g. 1500, 16k)');
  return v;
}

/** A blackout window in seconds after the start: `2-5`, `0.5-1.25`. */
export function parseBlackout(text: string): Blackout {
  const m = new RegExp(`^\\s*(${NUMBER})\\s*-\\s*(${NUMBER})\\s*$`, 'i').exec(text);
  const from = m ? Number(m[1]) : Number.NaN;
  const to = m ? Number(m[3]) : Number.NaN;
  if (!(from >= 0 && to > from && Number.isFinite(to))) {
    throw new RangeError('expected FROM-TO in seconds after the start, FROM < TO (e.g. 2-5)');
  }
  return { fromMs: from * 1000, toMs: to * 1000 };
}

/**
 * Gilbert–Elliott parameters as netem's `gemodel`: `P,R[,1-H[,1-K]]`, each 0–1 or a percentage.
 * Checked here in those letters, as people typed them: checkGilbertElliott() applies the same rule
 * later but names the library's fields (`lossBurst.r`), which mean nothing on a command line.
 */
export function parseLossBurst(text: string): GilbertElliottParams {
  const parts = text.split(',');
  if (parts.length < 2 || parts.length > 4) {
    throw new RangeError('expected P,R[,1-H[,1-K]] (e.g. 0.05,0.25 or 5%,25%)');
  }
  const [p = 0, r = 0, lossBad, lossGood] = parts.map(parseProbability);
  if (p > 0 && r === 0 && (lossBad ?? 1) === 1) {
    throw new RangeError(
      'R must be > 0 when P > 0: with R = 0 the link never recovers from its first loss (for an outage, use --blackout)',
    );
  }
  return {
    p,
    r,
    ...(lossBad === undefined ? {} : { lossBad }),
    ...(lossGood === undefined ? {} : { lossGood }),
  };
}

function trim(v: number): string {
  return Number(v.toPrecision(4)).toString();
}

/** `1 Mbit/s`, `768 kbit/s`, `64 bit/s`. */
export function formatRate(bitsPerSecond: number): string {
  if (bitsPerSecond >= 1e9) return `${trim(bitsPerSecond / 1e9)} Gbit/s`;
  if (bitsPerSecond >= 1e6) return `${trim(bitsPerSecond / 1e6)} Mbit/s`;
  if (bitsPerSecond >= 1e3) return `${trim(bitsPerSecond / 1e3)} kbit/s`;
  return `${trim(bitsPerSecond)} bit/s`;
}

/** `30 %`, `0.1 %`. */
export function formatPercent(p: number): string {
  return `${trim(p * 100)} %`;
}

/** `100 ms`, `0.5 ms`, `1.5 s`. */
export function formatDuration(ms: number): string {
  return ms >= 1000 ? `${trim(ms / 1000)} s` : `${trim(ms)} ms`;
}
