/** `udplab bench HOST PORT`: a bounded load generator for any server that answers each datagram. */
import type { Command } from 'commander';
import { parsePort } from '../address.js';
import {
  BENCH_LIMITS,
  bench,
  type BenchEvent,
  type BenchProgressEvent,
  type BenchSummaryEvent,
  type LatencySummary,
} from '../bench.js';
import type { BaseEvent } from '../events.js';
import { UsageError } from '../errors.js';
import { openOutput, withCommonOptions, withExamples, type CommandContext } from './context.js';
import { formatCount } from '../format.js';
import { ep, plural, type Colors } from './output.js';
import { backendChoice, decimal, intUpTo, secondsFromTo } from './parse.js';
import type { BackendChoice } from '../backend/types.js';
import { InvalidArgumentError } from 'commander';

const int = (n: number): string => formatCount(Math.round(n));
const secs = (ms: number): string => `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
/** `1 request`, `2 requests`, `1,000 requests`. */
const count = (n: number, one: string, many?: string): string => plural(n, one, many, int);
/** A rate as given: `20,000`, `0.5`, `2.25` (up to three decimals, as --rate takes them). */
const rateText = (r: number): string => r.toLocaleString('en-US', { maximumFractionDigits: 3 });

function latencyLine(l: LatencySummary): string {
  const f = (v: number | null): string => (v === null ? '-' : v.toFixed(3));
  return `min ${f(l.min)}  p50 ${f(l.p50)}  p90 ${f(l.p90)}  p99 ${f(l.p99)}  p99.9 ${f(l.p999)}  max ${f(l.max)} ms`;
}

/** The live progress line (TTY only). */
export function progressLine(e: BenchProgressEvent): string {
  const phase = e.phase === 'warmup' ? 'warm-up' : `${(e.elapsedMs / 1000).toFixed(0)} s`;
  return `${phase}: ${int(e.rps)} replies/s, ${int(e.sent)} sent, ${int(e.replies)} replies, ${int(e.lost)} lost, ${int(e.bad)} bad`;
}

/** Human lines for the bench events (the final table is the `summary`). */
export function renderBench(event: BaseEvent, c: Colors): string | undefined {
  const e = event as BenchEvent;
  switch (e.event) {
    case 'started': {
      const load =
        e.rate === null
          ? `${int(e.concurrency)} in flight`
          : `${rateText(e.rate)} request${e.rate === 1 ? '' : 's'}/s open loop, at most ${int(e.concurrency)} in flight`;
      const bound =
        e.requests === null
          ? `for ${secs(e.durationMs)}`
          : `${count(e.requests, 'request')} (at most ${secs(e.durationMs)})`;
      const warm = e.warmupMs > 0 ? ` after ${secs(e.warmupMs)} of warm-up` : '';
      return `Benchmarking ${c.bold(ep(e.to))} from ${ep(e.local)} (${e.backend} backend): ${e.mode} requests of ${int(e.bytes)} bytes, ${load}, ${bound}${warm}`;
    }
    case 'summary': {
      const rows: [string, string][] = [
        [
          'Target',
          `${ep(e.to)} (${e.mode}, ${int(e.bytes)}-byte requests, ${int(e.concurrency)} in flight${e.rate === null ? '' : `, ${rateText(e.rate)}/s`})`,
        ],
        ['Measured', `${secs(e.elapsedMs)} (stopped by ${e.stoppedBy})`],
        [
          'Requests',
          `${int(e.sent)} sent, ${count(e.replies, 'reply', 'replies')}, ${int(e.lost)} lost, ${int(e.late)} late, ${int(e.bad)} bad, ${count(e.errors, 'error')}${e.unsent ? `, ${int(e.unsent)} unsent` : ''}`,
        ],
        ['Throughput', c.bold(`${int(e.rps)} replies/s`)],
        ['Latency', latencyLine(e.latencyMs)],
      ];
      const lines = rows.map(([k, v]) => `${k.padEnd(11)} ${v}`);
      if (e.replies === 0) lines.push(c.red(noReplyHint(e)));
      else if (e.lost + e.bad > 0) {
        const n = e.lost + e.bad;
        lines.push(
          c.yellow(
            `${count(n, 'request')} got no valid reply${e.mode === 'sealed' && e.lost > 0 ? SEALED_LOST : ''}`,
          ),
        );
      }
      return lines.join('\n');
    }
    default:
      return undefined;
  }
}

function nonNegativeBytes(text: string): number {
  const v = Number(text);
  if (!/^\s*[0-9]+\s*$/.test(text) || v > 65507) {
    throw new InvalidArgumentError('expected a whole number of bytes from 0 to 65507');
  }
  return v;
}

/** `--warmup`: 0 (none), or from the shortest duration a run may have to its longest. */
function warmupSeconds(text: string): number {
  const min = BENCH_LIMITS.minDurationMs / 1000;
  const max = BENCH_LIMITS.durationMs / 1000;
  const v = decimal(text);
  if (!(v === 0 || (v >= min && v <= max))) {
    throw new InvalidArgumentError(
      `expected 0 or a number of seconds from ${String(min)} to ${String(max)} (e.g. 0.5)`,
    );
  }
  return v * 1000;
}

function perSecond(text: string): number {
  const v = decimal(text);
  if (!(v >= BENCH_LIMITS.minRate && v <= BENCH_LIMITS.rate)) {
    throw new InvalidArgumentError(
      `expected requests per second from ${String(BENCH_LIMITS.minRate)} to ${BENCH_LIMITS.rate.toLocaleString('en-US')}`,
    );
  }
  return v;
}

/** Why sealed requests may go unanswered by a server that answers others (docs/sealed.md). */
const SEALED_LOST =
  ' (a sealed server answers nothing once its replay cache is full: its summary counts cache-full; see --replay-cache and --window)';

/** Why a run got no valid reply, as far as its counts tell. */
function noReplyHint(e: BenchSummaryEvent): string {
  if (e.bad === 0) {
    if (e.errors > 0)
      return 'No reply: nothing listens there (the port answered with ICMP port unreachable)';
    if (e.late > 0)
      return `No reply in time: ${count(e.late, 'reply', 'replies')} came after the request was counted lost: raise --timeout`;
    // Silence from a sealed server: another key, or this key and a full replay cache (fail closed).
    // A sealed server is silent to plain requests too, as the client's give-up causes say.
    return e.mode === 'sealed'
      ? 'No reply: is a sealed server listening there, with this key? (one with another key stays silent; so does one with this key while its replay cache is full, its summary counting cache-full: see --replay-cache and --window; and to requests its clock calls stale, its summary counting stale: the clocks differ by more than its --window, or it started less than that difference ago)'
      : 'No reply: is a server listening there, and does it answer each datagram within --timeout? (a sealed server, --key-file, stays silent to plain requests: bench it with -k and its key)';
  }
  const why: Record<string, string> = {
    plain: 'it answers, but not with the lab’s reply text',
    id: 'it answers, but without the request’s ID in front (does it echo it? the lab’s Python server does not)',
    sealed: 'it answers, but nothing sealed with this key (is it a plain server?)',
  };
  return `No valid reply: every answer was bad: ${why[e.mode] ?? 'it answers in another form'}`;
}

interface BenchOpts {
  duration?: number;
  requests?: number;
  concurrency?: number;
  size?: number;
  rate?: number;
  id?: boolean;
  keyFile?: string;
  warmup?: number;
  timeout?: number;
  backend: BackendChoice;
  json?: boolean;
}

/** Defines `udplab bench`. */
export function defineBench(cmd: Command, ctx: CommandContext): void {
  withExamples(
    withCommonOptions(
      cmd
        .description(
          'load a server that answers each datagram (udplab server, the lab’s Python server, an\n' +
            'echo service) and measure replies per second, latency percentiles (p50, p90, p99,\n' +
            'p99.9, max) and lost, late and bad replies. Every run is bounded and stops by itself.\n' +
            'Only load loopback or hosts that are your own: this sends as fast as it can.',
        )
        .argument('<host>', 'server address or name (loopback or your own hosts only)')
        .argument('<port>', 'server port')
        .option(
          '-d, --duration <s>',
          'measure for S seconds (default 10; with --requests, the cap, default 60)',
          secondsFromTo(BENCH_LIMITS.minDurationMs / 1000, BENCH_LIMITS.durationMs / 1000),
        )
        .option('-n, --requests <n>', 'stop after N requests', intUpTo(BENCH_LIMITS.requests))
        .option(
          '-c, --concurrency <n>',
          'requests in flight (default 1; 64 with --rate)',
          intUpTo(BENCH_LIMITS.concurrency),
        )
        .option('-s, --size <bytes>', 'request size in bytes (default 32)', nonNegativeBytes)
        .option(
          '-r, --rate <r>',
          'open loop: send R requests a second, latency counted from when each fell due',
          perSecond,
        )
        .option(
          '--id',
          'send the request-ID form ("<ID>; xxx…") and match every reply to its request',
        )
        .option(
          '-k, --key-file <file>',
          'sealed mode: seal every request with this key (udplab keygen); only authentic replies count',
        )
        .option('-w, --warmup <s>', 'run S seconds before measuring (default 0)', warmupSeconds)
        .option(
          '-t, --timeout <s>',
          'a request unanswered after S seconds is lost (default 1)',
          secondsFromTo(BENCH_LIMITS.minTimeoutMs / 1000, BENCH_LIMITS.timeoutMs / 1000),
        )
        .option(
          '--backend <name>',
          'socket backend: native (Linux, recvmmsg/sendmmsg batches of 64), dgram (node:dgram),\n' +
            'or auto: native when its addon loads, dgram otherwise (the started line says which)',
          backendChoice,
          'auto',
        ),
    ),
    [
      'udplab bench 127.0.0.1 1060 -d 5 -c 64 -w 1     # throughput: 64 in flight for 5 s',
      'udplab bench 127.0.0.1 1060 -n 10000            # latency: one at a time, 10,000 requests',
      'udplab bench 127.0.0.1 1060 -r 20000 -d 5       # open loop at 20,000 requests/s',
      'udplab bench 127.0.0.1 1060 -c 64 --id --json   # ID mode, JSON summary',
      'udplab bench 127.0.0.1 1060 -c 64 -k lab.key    # sealed mode (the server runs --key-file lab.key)',
      'udplab bench 127.0.0.1 1060 -c 64 --backend dgram  # node:dgram sockets instead of recvmmsg/sendmmsg',
    ],
  ).action(async (host: string, portText: string, opts: BenchOpts) => {
    const port = parsePort(portText, false);
    if (opts.keyFile !== undefined && opts.id === true) {
      throw new UsageError('--id and --key-file: sealed requests always carry their own ID');
    }
    // Every usage error before the key file is read: a bad option is exit 2, whatever the file.
    const sealedMax = 65507 - 49; // the sealed form adds 49 bytes (docs/wire-format.md)
    if (opts.keyFile !== undefined && (opts.size ?? 32) > sealedMax) {
      throw new UsageError(
        `--size: at most ${formatCount(sealedMax)} bytes with --key-file (the sealed datagram is 49 bytes longer)`,
      );
    }
    // Sealed mode: the key and the sealed codec (node:crypto) are loaded only for --key-file.
    const key =
      opts.keyFile === undefined
        ? undefined
        : await (await import('./keys.js')).loadKeyOption(ctx, opts.keyFile);
    const codec =
      key === undefined
        ? undefined
        : (await import('../bench-sealed.js')).sealedCodec(key, opts.size ?? 32);
    const json = opts.json ?? false;
    const out = openOutput(ctx, json, renderBench);
    const stderr = ctx.io.stderr;
    const live = !json && stderr.isTTY === true;
    let shown = false;
    // A second Ctrl-C exits at once: leave the terminal on a clean line.
    ctx.io.atExit?.(() => {
      if (shown) stderr.write('\r\x1b[2K');
    });
    // The first one stops the sending; say what the run still waits for.
    if (live) {
      ctx.io.signal?.addEventListener(
        'abort',
        () => {
          const wait = secs(opts.timeout ?? 1000);
          stderr.write(
            `\r\x1b[2Kstopping: waiting up to ${wait} for the replies in flight (Ctrl-C again to quit now)\n`,
          );
          shown = false;
        },
        { once: true },
      );
    }
    const onEvent = (e: BenchEvent): void => {
      if (e.event === 'progress') {
        if (json) out.emit(e);
        else if (live) {
          stderr.write(`\r\x1b[2K${progressLine(e)}`);
          shown = true;
        }
        return;
      }
      if (shown) {
        stderr.write('\r\x1b[2K');
        shown = false;
      }
      out.emit(e);
    };
    const summary = await bench({
      host,
      port,
      ...(opts.duration === undefined ? {} : { durationMs: opts.duration }),
      ...(opts.requests === undefined ? {} : { requests: opts.requests }),
      concurrency: opts.concurrency ?? (opts.rate === undefined ? 1 : 64),
      ...(opts.size === undefined ? {} : { size: opts.size }),
      ...(opts.rate === undefined ? {} : { rate: opts.rate }),
      id: opts.id ?? false,
      ...(codec === undefined ? {} : { codec }),
      ...(opts.warmup === undefined ? {} : { warmupMs: opts.warmup }),
      ...(opts.timeout === undefined ? {} : { timeoutMs: opts.timeout }),
      backend: opts.backend,
      onEvent,
      ...(ctx.io.signal ? { signal: ctx.io.signal } : {}),
    });
    out.flush();
    ctx.exitCode = summary.replies > 0 ? 0 : 1;
  });
}
