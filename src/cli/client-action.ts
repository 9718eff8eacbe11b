/**
 * What `udplab client` does once its arguments are parsed, and how its events read. Kept apart
 * from the commander definition (client.ts) and free of commander, so that the fast path of
 * main.ts can run a plain `udplab client HOST PORT` without loading the option parser.
 */
import { parsePort } from '../address.js';
import { nominalWaits } from '../backoff.js';
import type { ClientEvent } from '../client.js';
import type { BaseEvent } from '../events.js';
import { rngFor } from '../rng.js';
import { requestSeries, type SeriesSummaryEvent } from '../series.js';
import { UsageError } from '../errors.js';
import { isValidId } from '../wire/text.js';
import { openOutput, type CommandContext } from './context.js';
import { ep, formatMs, quote, type Colors } from './output.js';

const GIVE_UP_CAUSES = [
  'the server is not running (or crashed)',
  'the request or the reply was lost on the way',
  'wrong server address or port',
  'a firewall drops the datagrams',
  'the server is bound to another interface (e.g. 127.0.0.1 while you sent to an external address)',
];

/** Human lines for the client's events. */
export function renderClient(event: BaseEvent, c: Colors): string | undefined {
  const e = event as ClientEvent | SeriesSummaryEvent;
  switch (e.event) {
    case 'bound':
      return `The OS assigned this client the address ${c.bold(ep(e))}`;
    case 'sent':
      return e.attempt === 1
        ? `Sent ${e.bytes} bytes to ${ep(e.to)}${e.id === undefined ? '' : ` with request ID ${e.id}`}`
        : c.yellow(`Retransmission: attempt ${e.attempt}, sent ${e.bytes} bytes to ${ep(e.to)}`);
    case 'timeout':
      return c.yellow(
        `No reply to attempt ${e.attempt} after ${formatMs(e.waitedMs)}; ` +
          (e.nextWaitMs === null
            ? 'the next wait would pass the limit: giving up'
            : `retransmitting and waiting ${formatMs(e.nextWaitMs)}`),
      );
    case 'refused':
      return c.yellow(
        `Port unreachable (ICMP): nothing listens at ${ep(e.from)} — attempt ${e.attempt} failed, keeping to the schedule`,
      );
    case 'received': {
      const who = e.fromServer
        ? `The server ${ep(e.from)}`
        : c.red(`NOT the server: ${ep(e.from)}`);
      const tries = e.attempt === 1 ? '1 attempt' : `${e.attempt} attempts`;
      return `${who} replied ${quote(e.text)} (rtt ${formatMs(e.rttMs)}, ${tries})`;
    }
    case 'ignored':
      return c.dim(`Ignored ${e.bytes} bytes from ${ep(e.from)} (${e.reason}): ${quote(e.text)}`);
    case 'gave-up':
      return [
        c.red(
          `Cannot receive data from server: no reply after ${e.attempts} attempt${e.attempts === 1 ? '' : 's'} over ${formatMs(e.elapsedMs)}${e.reason === 'refused' ? ' (port unreachable)' : ''}.`,
        ),
        'Likely causes:',
        ...GIVE_UP_CAUSES.map((x) => `  - ${x}`),
      ].join('\n');
    case 'summary': {
      const f = (v: number | null): string => (v === null ? '-' : v.toFixed(3));
      return [
        `${e.sent} requests sent, ${e.answered} answered, ${e.failed} failed, ${e.lossPercent.toFixed(1)}% loss, ${e.retransmissions} retransmissions${e.duplicates ? `, ${e.duplicates} late duplicates` : ''}`,
        `rtt min/avg/max/mdev = ${f(e.rttMinMs)}/${f(e.rttAvgMs)}/${f(e.rttMaxMs)}/${f(e.rttMdevMs)} ms, p50 ${f(e.rttP50Ms)} ms, p99 ${f(e.rttP99Ms)} ms`,
      ].join('\n');
    }
    default:
      return undefined;
  }
}

/** The options of `udplab client`, parsed (times in milliseconds). */
export interface ClientOpts {
  message?: string;
  timeout?: number;
  maxDelay?: number;
  attempts?: number;
  jitter?: number;
  seed?: number;
  id?: boolean | string;
  promiscuous?: boolean;
  count?: number;
  interval?: number;
  json?: boolean;
}

/** Runs `udplab client HOST PORT` with parsed options; sets `ctx.exitCode`. */
export async function runClient(
  host: string,
  portText: string,
  opts: ClientOpts,
  ctx: CommandContext,
): Promise<void> {
  const port = parsePort(portText, false);
  if (typeof opts.id === 'string' && !isValidId(opts.id)) {
    throw new UsageError(`invalid request ID '${opts.id}': expected 1 to 20 decimal digits`);
  }
  const backoff = {
    ...(opts.timeout === undefined ? {} : { timeoutMs: opts.timeout }),
    ...(opts.maxDelay === undefined ? {} : { maxDelayMs: opts.maxDelay }),
    ...(opts.attempts === undefined ? {} : { attempts: opts.attempts }),
    ...(opts.jitter === undefined ? {} : { jitter: opts.jitter }),
  };
  nominalWaits(backoff); // validates before any socket opens
  const out = openOutput(ctx, opts.json ?? false, renderClient);
  const count = opts.count ?? 1;
  const summary = await requestSeries({
    host,
    port,
    ...backoff,
    rng: rngFor(opts.seed),
    ...(opts.message === undefined ? {} : { message: opts.message }),
    ...(opts.id === undefined ? {} : { id: opts.id }),
    promiscuous: opts.promiscuous ?? false,
    count,
    ...(opts.interval === undefined ? {} : { intervalMs: opts.interval }),
    onEvent: count > 1 ? out.emit : (e) => e.event !== 'summary' && out.emit(e),
    ...(ctx.io.signal ? { signal: ctx.io.signal } : {}),
  });
  out.flush();
  ctx.exitCode = summary.answered > 0 ? 0 : 1;
}
