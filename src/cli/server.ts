/** `udplab server HOST PORT`: the lab's reply server (Task 1; `--drop` for Task 2). */
import type { Command } from 'commander';
import { canonicalAddress, parsePort } from '../address.js';
import type { BaseEvent } from '../events.js';
import { rngFor } from '../rng.js';
import { createServer, type ServerEvent } from '../server.js';
import { openOutput, withCommonOptions, withExamples, type CommandContext } from './context.js';
import { formatCount } from '../format.js';
import { clip, ep, plural, quote, type Colors } from './output.js';
import { loadKeyOption } from './keys.js';
import {
  backendChoice,
  nonNegativeInt,
  intUpTo,
  positiveInt,
  positiveNumber,
  probability,
  secondsToMs,
} from './parse.js';
import type { BackendChoice } from '../backend/types.js';
import type { RejectReason } from '../server-events.js';
import { UsageError } from '../errors.js';
import { MAX_REPLAY_CAPACITY } from '../replay.js';

function hardeningLine(e: ServerEvent & { event: 'listening' }): string | undefined {
  const parts: string[] = [];
  if (e.keyId !== undefined) {
    parts.push(
      `Sealed: only datagrams sealed with key ID ${e.keyId} are answered; time window ±${((e.windowMs ?? 0) / 1000).toString()} s; replay cache ${String(e.replayCacheSize)} IDs`,
    );
  }
  if (e.rateLimit !== undefined)
    parts.push(
      `Rate limit: ${plural(e.rateLimit, 'reply', 'replies')}/s per source address${e.rateLimitBurst === undefined ? '' : `, bursts of ${e.rateLimitBurst.toString()}`}`,
    );
  return parts.length === 0 ? undefined : parts.join('\n');
}

function rejectedSummary(by: Record<RejectReason, number>): string {
  return Object.entries(by)
    .filter(([, n]) => n > 0)
    .map(([r, n]) => `${formatCount(n)} ${r}`)
    .join(', ');
}

/**
 * What a bind to `address` reaches. An IPv4-mapped address (`::ffff:0.0.0.0`, `::ffff:127.0.0.1`)
 * binds the IPv4 address it maps, so it is described as that one (canonicalAddress).
 */
function bindingHint(address: string): string {
  const a = canonicalAddress(address);
  if (a === '0.0.0.0') return 'all IPv4 interfaces: reachable at any of this machine’s addresses';
  if (a === '::') return 'all interfaces, IPv6 and IPv4';
  if (a.startsWith('127.') || a === '::1') return 'loopback only: other machines cannot reach it';
  return 'this interface only: datagrams to the machine’s other addresses are not delivered here';
}

/** Human lines for the server's events. */
export function renderServer(event: BaseEvent, c: Colors): string | undefined {
  const e = event as ServerEvent;
  switch (e.event) {
    case 'listening': {
      const line = `Listening at ${c.bold(ep(e))} (UDP/${e.family}; ${bindingHint(e.address)})`;
      const extra = hardeningLine(e);
      return extra === undefined ? line : `${line}\n${extra}`;
    }
    case 'message':
      return `The client at ${c.cyan(ep(e.from))} says ${quote(clip(e.text))} (${plural(e.bytes, 'byte')}${e.id === undefined ? '' : `, id ${e.id}`}${e.sealed ? `, sealed, attempt ${String(e.attempt)}` : ''})`;
    case 'rejected':
      return c.yellow(
        `Rejected ${plural(e.bytes, 'byte')} from ${ep(e.from)} (${e.reason}): no reply`,
      );
    case 'retransmission':
      return `Retransmission ${e.attempt} of request ${e.id} from ${ep(e.from)}: sending the same sealed reply again`;
    case 'rate-limited':
      return c.yellow(`Rate limit: no reply to ${plural(e.bytes, 'byte')} from ${ep(e.from)}`);
    case 'dropped':
      return c.yellow(`Dropped packet from ${ep(e.from)}`);
    case 'summary': {
      const n = formatCount;
      let line = `Received ${n(e.received)} datagram${e.received === 1 ? '' : 's'}, replied to ${n(e.replied)}, dropped ${n(e.dropped)}${e.sendFailed ? `, ${n(e.sendFailed)} replies failed to send` : ''}`;
      if (e.rejected) line += `, rejected ${n(e.rejected)} (${rejectedSummary(e.rejectedBy)})`;
      if (e.retransmissions)
        line += `, ${n(e.retransmissions)} retransmission${e.retransmissions === 1 ? '' : 's'} answered again`;
      if (e.rateLimited) line += `, ${n(e.rateLimited)} not answered (rate limit)`;
      return line;
    }
    default:
      return undefined;
  }
}

interface ServerOpts {
  quiet?: boolean;
  drop?: number;
  seed?: number;
  json?: boolean;
  keyFile?: string;
  window?: number;
  replayCache?: number;
  rateLimit?: number;
  rateBurst?: number;
  rateSources?: number;
  backend: BackendChoice;
}

/** Defines `udplab server`. */
export function defineServer(cmd: Command, ctx: CommandContext): void {
  withExamples(
    withCommonOptions(
      cmd
        .description(
          'run the lab’s reply server: prints who sent what and answers every datagram with\n' +
            '"I received from you a message of N bytes" (N = the datagram’s length).\n' +
            'HOST is the interface to bind: 127.0.0.1 (this machine only), an external address,\n' +
            '0.0.0.0 or "" (all IPv4 interfaces), :: (all interfaces); an IPv4-mapped address\n' +
            '(::ffff:0.0.0.0, ::ffff:127.0.0.1) binds the IPv4 one it maps. PORT 0 lets the OS choose.\n' +
            'With --key-file it answers only sealed requests from key holders and nothing else\n' +
            '(docs/sealed.md); --rate-limit caps the replies each source address gets (docs/hardening.md).',
        )
        .argument('<host>', 'interface address or name to bind ("" = all IPv4 interfaces)')
        .argument('<port>', 'UDP port to bind (0 = any free port)')
        .option('-q, --quiet', 'no line per datagram: only the start line and the summary')
        .option(
          '--drop <p>',
          'drop each datagram with probability P before replying (the lab’s "remote" server uses 0.5)',
          probability,
        )
        .option(
          '--seed <n>',
          'seed the drop decisions so that runs repeat exactly (needs --drop)',
          nonNegativeInt,
        )
        .option(
          '-k, --key-file <file>',
          'sealed mode: answer only datagrams sealed with this key (udplab keygen), silently drop the rest',
        )
        .option(
          '--window <s>',
          'sealed mode: accept requests whose time is within ± this many seconds (default 30)',
          secondsToMs,
        )
        .option(
          '--replay-cache <n>',
          'sealed mode: remember at most N request IDs (at most 16777216, ~190 bytes each); when full, refuse new requests (default 65536)',
          intUpTo(MAX_REPLAY_CAPACITY),
        )
        .option(
          '--rate-limit <n>',
          'at most N replies per second to each source address (token bucket); drop and count the rest',
          positiveNumber,
        )
        .option(
          '--rate-burst <n>',
          'with --rate-limit: replies a quiet source may get at once (default N, at least 1)',
          positiveInt,
        )
        .option(
          '--rate-sources <n>',
          'with --rate-limit: track at most N source addresses (default 4096; least recently seen evicted)',
          positiveInt,
        )
        .option(
          '--backend <name>',
          'socket backend: native (Linux, recvmmsg/sendmmsg batches of 64), dgram (node:dgram),\n' +
            'or auto: native when its addon loads, dgram otherwise (the --json listening event says which)',
          backendChoice,
          'auto',
        ),
    ),
    [
      'udplab server 127.0.0.1 1060          # the lab’s local server',
      'udplab server "" 1060                 # all interfaces, as the lab’s udp_remote.py',
      'udplab server 0.0.0.0 1060 --drop 0.5 # the lossy "remote" server of Task 2',
      'udplab server ::1 0 --json            # IPv6 loopback, any port, NDJSON events',
      'udplab server 127.0.0.1 1060 --key-file lab.key       # sealed: only key holders get answers',
      'udplab server 0.0.0.0 1060 --rate-limit 10            # at most 10 replies/s per source',
      'udplab server 127.0.0.1 1060 --quiet --backend native  # batched recvmmsg/sendmmsg (Linux)',
    ],
  ).action(async (host: string, portText: string, opts: ServerOpts) => {
    const port = parsePort(portText, true);
    if (opts.keyFile === undefined && (opts.window ?? opts.replayCache) !== undefined)
      throw new UsageError('--window and --replay-cache need --key-file (sealed mode)');
    if (opts.rateLimit === undefined && (opts.rateBurst ?? opts.rateSources) !== undefined)
      throw new UsageError('--rate-burst and --rate-sources need --rate-limit');
    if (opts.seed !== undefined && opts.drop === undefined)
      throw new UsageError('--seed needs --drop: it seeds the drop decisions');
    const key = await loadKeyOption(ctx, opts.keyFile);
    const out = openOutput(ctx, opts.json ?? false, renderServer);
    const server = await createServer({
      host,
      port,
      dropProbability: opts.drop ?? 0,
      rng: rngFor(opts.seed),
      perDatagramEvents: !opts.quiet,
      backend: opts.backend,
      ...(key === undefined ? {} : { key }),
      ...(opts.window === undefined ? {} : { windowMs: opts.window }),
      ...(opts.replayCache === undefined ? {} : { replayCacheSize: opts.replayCache }),
      ...(opts.rateLimit === undefined ? {} : { rateLimit: opts.rateLimit }),
      ...(opts.rateBurst === undefined ? {} : { rateLimitBurst: opts.rateBurst }),
      ...(opts.rateSources === undefined ? {} : { rateLimitSources: opts.rateSources }),
      onEvent: out.emit,
      ...(ctx.io.signal ? { signal: ctx.io.signal } : {}),
    });
    out.flush();
    await server.closed;
    out.flush();
  });
}
