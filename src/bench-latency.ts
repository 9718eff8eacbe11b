/**
 * The latency record of `udplab bench`: an HDR histogram (hdr-histogram-js) and the
 * percentiles reported from it.
 */
import type * as Hdr from 'hdr-histogram-js';

/** Latency percentiles in milliseconds (null when no reply came). */
export interface LatencySummary {
  min: number | null;
  mean: number | null;
  p50: number | null;
  p90: number | null;
  p99: number | null;
  p999: number | null;
  max: number | null;
}

/**
 * Latencies are recorded in microseconds: 1 µs to 60 s at 3 significant digits. The library is
 * imported here, not at the top, so that importing udplab's API does not load it.
 */
export async function newHistogram(): Promise<Hdr.Histogram> {
  const hdr = await import('hdr-histogram-js');
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 60_000_000,
    numberOfSignificantValueDigits: 3,
    useWebAssembly: false,
  });
}

export function latencySummary(h: Hdr.Histogram): LatencySummary {
  if (h.totalCount === 0) {
    return { min: null, mean: null, p50: null, p90: null, p99: null, p999: null, max: null };
  }
  // A percentile is reported as the top of its bucket (within 0.1 %); keep it inside [min, max].
  const min = h.minNonZeroValue;
  const max = h.maxValue;
  const ms = (us: number): number => Math.round(Math.min(max, Math.max(min, us))) / 1000;
  return {
    min: ms(min),
    mean: ms(h.mean),
    p50: ms(h.getValueAtPercentile(50)),
    p90: ms(h.getValueAtPercentile(90)),
    p99: ms(h.getValueAtPercentile(99)),
    p999: ms(h.getValueAtPercentile(99.9)),
    max: ms(max),
  };
}
