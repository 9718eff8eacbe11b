/**
 * Round-trip statistics as ping prints them: min / avg / max / mdev, plus percentiles.
 */

/** The summary of a run of requests (the `summary` event of `udplab client --count`). */
export interface RttSummary {
  sent: number;
  answered: number;
  failed: number;
  /** Percent of requests that got no reply. */
  lossPercent: number;
  /** Transmissions beyond the first, over all requests. */
  retransmissions: number;
  /** Late duplicates and ignored datagrams. */
  duplicates: number;
  rttMinMs: number | null;
  rttAvgMs: number | null;
  rttMaxMs: number | null;
  /** ping's mdev: the standard deviation sqrt(E[x²] − E[x]²). */
  rttMdevMs: number | null;
  rttP50Ms: number | null;
  rttP99Ms: number | null;
}

/** The q-quantile (0 ≤ q ≤ 1) of sorted values, nearest-rank method. */
export function quantile(sorted: readonly number[], q: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.max(1, Math.ceil(q * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1] ?? null;
}

/** Collects round-trip times and outcomes. */
export class RttStats {
  readonly #rtts: number[] = [];
  sent = 0;
  failed = 0;
  retransmissions = 0;
  duplicates = 0;

  /** Records an answered request. */
  answered(rttMs: number, attempts: number, duplicates = 0): void {
    this.sent++;
    this.#rtts.push(rttMs);
    this.retransmissions += attempts - 1;
    this.duplicates += duplicates;
  }

  /** Records a request that got no reply after `attempts` transmissions. */
  gaveUp(attempts: number): void {
    this.sent++;
    this.failed++;
    this.retransmissions += attempts - 1;
  }

  /** The summary so far. */
  summary(): RttSummary {
    const v = [...this.#rtts].sort((a, b) => a - b);
    const n = v.length;
    const sum = v.reduce((a, b) => a + b, 0);
    const avg = n ? sum / n : null;
    const mdev =
      n && avg !== null
        ? Math.sqrt(Math.max(0, v.reduce((a, b) => a + b * b, 0) / n - avg * avg))
        : null;
    return {
      sent: this.sent,
      answered: n,
      failed: this.failed,
      lossPercent: this.sent ? (100 * this.failed) / this.sent : 0,
      retransmissions: this.retransmissions,
      duplicates: this.duplicates,
      rttMinMs: v[0] ?? null,
      rttAvgMs: avg,
      rttMaxMs: v[n - 1] ?? null,
      rttMdevMs: mdev,
      rttP50Ms: quantile(v, 0.5),
      rttP99Ms: quantile(v, 0.99),
    };
  }
}
