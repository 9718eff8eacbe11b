/**
 * `udplab client --count N`: N requests one after another, each with the full schedule,
 * then a ping-like summary. Each request uses its own socket (a new source port, as DNS stub
 * resolvers do), so a late reply to an earlier request can never be taken for the answer to a
 * later one; while pausing between requests the previous socket stays open and counts late
 * duplicates.
 */
import { request, type ClientEvent, type RequestOptions } from './client.js';
import { GaveUpError } from './client-match.js';
import { ErrorCodes, UdplabError } from './errors.js';
import type { BaseEvent, EventSink } from './events.js';
import { ignoreEvents, isoNow } from './events.js';
import { RttStats, type RttSummary } from './stats.js';

/** `summary`: the totals of a series. */
export interface SeriesSummaryEvent extends BaseEvent, RttSummary {
  event: 'summary';
}

/** Options of {@link requestSeries}. */
export interface SeriesOptions extends RequestOptions {
  /** How many requests. Default 1. */
  count?: number;
  /** Pause between requests, in ms. Default 1000 (ping's). */
  intervalMs?: number;
  /** Receives every event, including the final `summary`. */
  onEvent?: EventSink<ClientEvent | SeriesSummaryEvent>;
}

/**
 * Runs `count` requests and returns their summary. Aborting stops the series early and still
 * returns (and emits) the summary so far.
 * @throws UdplabError for failures other than a lost request (TOO_BIG, RESOLVE, SEND).
 */
export async function requestSeries(options: SeriesOptions): Promise<RttSummary> {
  const count = options.count ?? 1;
  if (!(Number.isInteger(count) && count >= 1))
    throw new RangeError('count must be an integer ≥ 1');
  const intervalMs = options.intervalMs ?? 1000;
  if (!(intervalMs >= 0)) throw new RangeError('intervalMs must be ≥ 0');
  const onEvent = options.onEvent ?? ignoreEvents;
  const stats = new RttStats();
  for (let i = 0; i < count && !options.signal?.aborted; i++) {
    const last = i === count - 1;
    let transmissions = 0;
    try {
      const r = await request({
        ...options,
        lingerMs: last ? (options.lingerMs ?? 0) : intervalMs,
        onEvent: (e) => {
          if (e.event === 'sent') transmissions++;
          onEvent(e);
        },
      });
      stats.answered(r.rttMs, r.attempts, r.duplicates);
    } catch (err) {
      if (err instanceof GaveUpError) {
        stats.gaveUp(err.details.attempts);
        if (!last) await pause(intervalMs, options.signal);
      } else if (err instanceof UdplabError && err.code === ErrorCodes.ABORTED) {
        // Interrupted while waiting: counted as sent and unanswered, as ping counts it.
        if (transmissions > 0) stats.gaveUp(transmissions);
        break;
      } else {
        throw err;
      }
    }
  }
  const summary = stats.summary();
  onEvent({ event: 'summary', time: isoNow(), ...summary });
  return summary;
}

function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted || ms <= 0) {
      resolve();
      return;
    }
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
