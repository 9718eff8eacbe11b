/** One line that says what an impairment spec does, for people: the proxy's start line, help, docs. */
import { IMPAIRMENT_DEFAULTS, type ImpairmentSpec } from '../impair.js';
import { stationaryLoss } from './gilbert-elliott.js';
import { formatDuration, formatPercent, formatRate } from './units.js';

/**
 * Describes a spec in one line; `clean` when it does nothing.
 * @example
 * describeImpairments({ loss: 0.3, delayMs: 100, jitterMs: 20 });
 * // 'loss 30 %, delay 100 ms ± 20 ms (uniform)'
 */
export function describeImpairments(spec: ImpairmentSpec): string {
  const parts: string[] = [];
  if ((spec.loss ?? 0) > 0) parts.push(`loss ${formatPercent(spec.loss ?? 0)}`);
  if (spec.lossBurst !== undefined) {
    const g = spec.lossBurst;
    const extra =
      g.lossBad !== undefined || g.lossGood !== undefined
        ? `, 1-h ${formatPercent(g.lossBad ?? 1)}, 1-k ${formatPercent(g.lossGood ?? 0)}`
        : '';
    parts.push(
      `burst loss p ${formatPercent(g.p)} r ${formatPercent(g.r)}${extra} (≈ ${formatPercent(stationaryLoss(g))} lost, bursts of ${g.r > 0 ? (1 / g.r).toFixed(1) : '∞'} on average)`,
    );
  }
  const delay = spec.delayMs ?? 0;
  const jitter = spec.jitterMs ?? 0;
  if (delay > 0 || jitter > 0) {
    const dist = spec.jitterDistribution ?? IMPAIRMENT_DEFAULTS.jitterDistribution;
    const j = formatDuration(jitter);
    const spread =
      jitter === 0 ? '' : dist === 'normal' ? `, jitter σ ${j} (normal)` : ` ± ${j} (uniform)`;
    parts.push(`delay ${formatDuration(delay)}${spread}`);
  }
  if ((spec.duplicate ?? 0) > 0) parts.push(`duplicate ${formatPercent(spec.duplicate ?? 0)}`);
  if ((spec.reorder ?? 0) > 0) {
    const gap = spec.reorderGap ?? IMPAIRMENT_DEFAULTS.reorderGap;
    const hold = spec.reorderHoldMs ?? IMPAIRMENT_DEFAULTS.reorderHoldMs;
    parts.push(
      `reorder ${formatPercent(spec.reorder ?? 0)} (held behind ${gap} later, at most ${formatDuration(hold)})`,
    );
  }
  if ((spec.corrupt ?? 0) > 0) parts.push(`corrupt ${formatPercent(spec.corrupt ?? 0)}`);
  if (spec.rateBitsPerSecond !== undefined) {
    const burst = spec.burstBytes ?? 0;
    parts.push(
      `rate ${formatRate(spec.rateBitsPerSecond)}${burst > 0 ? ` (burst ${burst} bytes)` : ''}`,
    );
  }
  for (const b of spec.blackouts ?? []) {
    parts.push(`blackout ${trimS(b.fromMs)}–${trimS(b.toMs)} s`);
  }
  if (spec.queueLimit !== undefined && spec.queueLimit !== IMPAIRMENT_DEFAULTS.queueLimit) {
    parts.push(`limit ${spec.queueLimit}`);
  }
  return parts.length === 0 ? 'clean' : parts.join(', ');
}

function trimS(ms: number): string {
  return Number((ms / 1000).toPrecision(6)).toString();
}
