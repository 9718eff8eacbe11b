/** `udplab client HOST PORT`: the lab's client, safe by default, with Task 2's retransmission. */
import type { Command } from 'commander';
import { parsePort } from '../address.js';
import { nominalWaits } from '../backoff.js';
import type { ClientEvent, GaveUpEvent } from '../client.js';
import type { BaseEvent } from '../events.js';
import { rngFor } from '../rng.js';
import { requestSeries, type SeriesSummaryEvent } from '../series.js';
import { UsageError } from '../errors.js';
import { isValidId } from '../wire/text.js';
import { openOutput, withCommonOptions, withExamples, type CommandContext } from './context.js';
import { ep, formatMs, quote, type Colors } from './output.js';
import { loadKeyOption } from './keys.js';
import { fraction, nonNegativeInt, positiveInt, secondsOrZeroToMs, secondsToMs } from './parse.js';

const GIVE_UP_CAUSES = [
  'the server is not running (or crashed)',
  'the request or the reply was lost on the way',
  'wrong server address or port',
  'a firewall drops the datagrams',
  'the server is bound to another interface (e.g. 127.0.0.1 while you sent to an external address)',
  'the server runs sealed (--key-file) and answers only datagrams sealed with its key',
];

/** The key-mismatch causes a sealed client lists first when it gives up. */
function keyCauses(e: GaveUpEvent): string[] {
  if (e.keyId === undefined) return [];
  const lines: string[] = [];
  if ((e.notSealed ?? 0) > 0)
    lines.push(
      `  - the server answered in plain text (${String(e.notSealed)} ignored): it runs without --key-file`,
    );
  lines.push(
    `  - a key mismatch: this client's key ID is ${e.keyId}; a sealed server with another key answers nothing` +
      ((e.forged ?? 0) > 0 ? ` (${String(e.forged)} replies did not authenticate)` : '') +
      ' — compare with the key ID on the server’s "Sealed:" line',
  );
  return lines;
}

/** Human lines for the client's events. */
export function renderClient(event: BaseEvent, c: Colors): string | undefined {
  const e = event as ClientEvent | SeriesSummaryEvent;
  switch (e.event) {
    case 'bound':
      return `The OS assigned this client the address ${c.bold(ep(e))}`;
    case 'sent': {
      const what = e.sealed ? `${e.bytes} sealed bytes` : `${e.bytes} bytes`;
      return e.attempt === 1
        ? `Sent ${what} to ${ep(e.to)}${e.id === undefined ? '' : ` with request ID ${e.id}`}`
        : c.yellow(`Retransmission: attempt ${e.attempt}, sent ${what} to ${ep(e.to)}`);
    }
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
      return `${who} replied ${quote(e.text)} (rtt ${formatMs(e.rttMs)}, ${tries}${e.sealed ? ', sealed and authenticated' : ''})`;
    }
    case 'ignored':
      return c.dim(`Ignored ${e.bytes} bytes from ${ep(e.from)} (${e.reason}): ${quote(e.text)}`);
    case 'gave-up':
      return [
        c.red(
          `Cannot receive data from server: no reply after ${e.attempts} attempt${e.attempts === 1 ? '' : 's'} over ${formatMs(e.elapsedMs)}${e.reason === 'refused' ? ' (port unreachable)' : ''}.`,
        ),
        'Likely causes:',
        ...keyCauses(e),
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

interface ClientOpts {
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
  keyFile?: string;
}

/** Defines `udplab client`. */
export function defineClient(cmd: Command, ctx: CommandContext): void {
  withExamples(
    withCommonOptions(
      cmd
        .description(
          'send "Current time is <now>" (or --message) and print the reply.\n' +
            'Safe by default: the socket is connected, so only the server’s address and port can answer.\n' +
            'Retransmission (Task 2): wait --timeout, resend, double the wait; give up when the next\n' +
            'wait would pass --max-delay. Defaults: 0.1 + 0.2 + 0.4 + 0.8 + 1.6 = 3.1 s over 5\n' +
            'transmissions (the next wait, 3.2 s, would pass 2 s).',
        )
        .argument('<host>', 'server address or name')
        .argument('<port>', 'server port')
        .option('-m, --message <text>', 'send this text instead of the current time')
        .option(
          '-t, --timeout <s>',
          'first wait for the reply, in seconds (default 0.1)',
          secondsToMs,
        )
        .option(
          '--max-delay <s>',
          'give up when the next wait would exceed this, in seconds (default 2.0)',
          secondsToMs,
        )
        .option(
          '-a, --attempts <n>',
          'at most N transmissions (as CoAP’s MAX_RETRANSMIT + 1)',
          positiveInt,
        )
        .option(
          '--jitter <f>',
          'spread each wait over [w·(1−F), w·(1+F)], 0 ≤ F < 1 (default 0)',
          fraction,
        )
        .option('--seed <n>', 'seed the jitter', nonNegativeInt)
        .option(
          '--id [id]',
          'add a request ID ("<ID>; message"): random, or the 1–20 digit ID given',
        )
        .option('--promiscuous', 'the lab’s UNSAFE client: accept the first datagram from anyone')
        .option(
          '-k, --key-file <file>',
          'sealed mode: seal the request with this key (udplab keygen) and accept only an authentic reply to it',
        )
        .option(
          '-c, --count <n>',
          'send N requests, one after another, then print a summary',
          positiveInt,
        )
        .option(
          '-i, --interval <s>',
          'pause between requests with --count, in seconds (default 1)',
          secondsOrZeroToMs,
        ),
    ),
    [
      'udplab client 127.0.0.1 1060                      # one request, the lab’s schedule',
      'udplab client 127.0.0.1 1060 --id                 # with a random request ID',
      'udplab client 127.0.0.1 1060 -c 20 -i 0.2         # ping-like series with a summary',
      'udplab client 127.0.0.1 1060 --timeout 60 --attempts 1 --promiscuous',
      '                                                  # wait a minute: the by-hand spoofing walkthrough',
      'udplab client 127.0.0.1 1060 --key-file lab.key   # sealed: forged and replayed replies are ignored',
    ],
  ).action(async (host: string, portText: string, opts: ClientOpts) => {
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
    if (opts.keyFile !== undefined && typeof opts.id === 'string') {
      if (BigInt(opts.id) >= 2n ** 64n)
        throw new UsageError(`invalid request ID '${opts.id}': sealed IDs are at most 2^64 − 1`);
      // A sealed server answers an ID once per window: every later request with it is a replay.
      if ((opts.count ?? 1) > 1)
        throw new UsageError('--id with --key-file names one request: drop --id or --count');
    }
    const key = await loadKeyOption(ctx, opts.keyFile);
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
      ...(key === undefined ? {} : { key }),
      count,
      ...(opts.interval === undefined ? {} : { intervalMs: opts.interval }),
      onEvent: count > 1 ? out.emit : (e) => e.event !== 'summary' && out.emit(e),
      ...(ctx.io.signal ? { signal: ctx.io.signal } : {}),
    });
    out.flush();
    ctx.exitCode = summary.answered > 0 ? 0 : 1;
  });
}
