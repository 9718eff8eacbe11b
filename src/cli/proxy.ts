/** `udplab proxy --listen HOST:PORT --to HOST:PORT [impairments]`: a UDP relay that impairs the path. */
import type { Command } from 'commander';
import { maxPayload, parseHostPort } from '../address.js';
import type { BaseEvent } from '../events.js';
import { describeImpairments } from '../impair/describe.js';
import { profileNames } from '../impair/profiles.js';
import { createProxy } from '../proxy.js';
import type { DirectionStats, ProxyEvent, ProxyReport, SendFailedEvent } from '../proxy-events.js';
import { rngFor } from '../rng.js';
import { openOutput, withCommonOptions, withExamples, type CommandContext } from './context.js';
import { formatCount } from '../format.js';
import { ep, formatMs, plural, type Colors } from './output.js';
import { nonNegativeInt, positiveInt, secondsToMs } from './parse.js';
import { addImpairmentOptions, impairmentHelp, impairmentsFrom } from './proxy-options.js';

function directionLine(name: string, s: DirectionStats): string {
  const delay = s.delayMeanMs === null ? '-' : formatMs(s.delayMeanMs);
  return (
    `${name}: ${s.received} in, ${s.forwarded} forwarded, ${s.lost} lost` +
    ` (${s.lostRandom} random, ${s.lostBlackout} blackout, ${s.queueDrops} queue full),` +
    ` ${s.duplicated} duplicated, ${s.reordered} reordered, ${s.corrupted} corrupted,` +
    ` ${s.outOfOrder} out of order, mean delay ${delay}` +
    (s.sendFailed ? `, ${plural(s.sendFailed, 'send')} failed` : '') +
    (s.queued ? `, ${s.queued} still queued` : '')
  );
}

function reportLines(title: string, r: ProxyReport): string {
  const c = r.clients;
  return [
    `${title} after ${formatMs(r.elapsedMs)}:`,
    `  ${directionLine('up   (client → server)', r.up)}`,
    `  ${directionLine('down (server → client)', r.down)}`,
    `  clients: ${c.active} active, ${c.total} in all, ${c.evictedIdle} evicted idle, ${c.evictedFull} evicted (table full)` +
      (c.refused ? `, ${c.refused} port unreachable` : ''),
  ].join('\n');
}

const ARROW = { up: '→', down: '←' } as const;

/** Why a send failed, for people: the code and what it means where it is a usual one. */
function sendFailure(e: SendFailedEvent): string {
  switch (e.reason) {
    case 'evicted':
      return 'its client was forgotten while it was inside (idle or table full)';
    case 'send-queue-full':
      return 'the socket’s send queue is full';
    case 'connect-queue-full':
      return 'too many datagrams wait for new clients’ sockets to connect';
    case 'socket':
      break;
  }
  const code = e.code ?? 'ERR';
  if (code === 'EMSGSIZE') {
    const family = e.to.address.includes(':') ? 'udp6' : 'udp4';
    const limit = maxPayload(family);
    return e.bytes > limit
      ? `${code} (more than one ${family === 'udp6' ? 'IPv6' : 'IPv4'} datagram can carry: ${formatCount(limit)} bytes)`
      : `${code} (too big for the path)`;
  }
  if (code === 'ECONNREFUSED')
    return `${code} (port unreachable, reported for an earlier datagram)`;
  if (code === 'ENOBUFS' || code === 'EAGAIN')
    return `${code} (no buffer space: the socket is overloaded)`;
  return code;
}

/** Human lines for the proxy's events. */
export function renderProxy(event: BaseEvent, c: Colors): string | undefined {
  const e = event as ProxyEvent;
  switch (e.event) {
    case 'listening': {
      const up = describeImpairments(e.up);
      const down = describeImpairments(e.down);
      return [
        `Proxy listening at ${c.bold(ep(e))} (UDP/${e.family}), relaying to ${c.bold(ep(e.to))}`,
        up === down
          ? `  both ways: ${up}`
          : `  up (client → server): ${up}\n  down (server → client): ${down}`,
      ].join('\n');
    }
    case 'forwarded':
      return `${ARROW[e.direction]} ${ep(e.client)} #${e.seq} ${e.bytes} bytes forwarded${e.copy ? ' (duplicate)' : ''} after ${formatMs(e.delayMs)}`;
    case 'send-failed':
      return c.red(
        `${ARROW[e.direction]} ${ep(e.client)} #${e.seq} ${e.bytes} bytes${e.copy ? ' (duplicate)' : ''} NOT SENT to ${ep(e.to)}: ${sendFailure(e)}`,
      );
    case 'lost':
      return c.yellow(
        `${ARROW[e.direction]} ${ep(e.client)} #${e.seq} ${e.bytes} bytes LOST (${e.reason})`,
      );
    case 'duplicated':
      return c.cyan(`${ARROW[e.direction]} ${ep(e.client)} #${e.seq} duplicated`);
    case 'reordered':
      return c.cyan(`${ARROW[e.direction]} ${ep(e.client)} #${e.seq} held back (reordered)`);
    case 'corrupted':
      return c.magenta(
        `${ARROW[e.direction]} ${ep(e.client)} #${e.seq} corrupted: bit ${e.bit} flipped${e.copy ? ' (duplicate)' : ''}`,
      );
    case 'client-added':
      return c.dim(`New client ${ep(e.client)}: relayed from ${ep(e.upstream)}`);
    case 'client-evicted':
      return c.dim(
        `Client ${ep(e.client)} forgotten (${e.reason === 'idle' ? 'idle' : 'table full'})`,
      );
    case 'refused':
      return c.yellow(`Port unreachable: nothing listens at ${ep(e.to)} (for ${ep(e.client)})`);
    case 'stats':
      return reportLines('Stats', e);
    case 'summary':
      return reportLines('Summary', e);
    default:
      return undefined;
  }
}

interface ProxyOpts {
  listen: string;
  to: string;
  profile?: string;
  seed?: number;
  idle?: number;
  maxClients?: number;
  stats?: number;
  quiet?: boolean;
  json?: boolean;
  [key: string]: unknown;
}

/** Defines `udplab proxy`. */
export function defineProxy(cmd: Command, ctx: CommandContext): void {
  cmd
    .description(
      'relay UDP between clients and one server through an impaired path — loss, burst loss, delay,\n' +
        'jitter, duplication, reordering, corruption, a rate limit and blackouts, in netem’s vocabulary,\n' +
        'without root. Put ANY UDP program behind it: clients send to --listen, the proxy relays to --to\n' +
        'from one socket per client and relays the replies back.',
    )
    .requiredOption(
      '-l, --listen <host:port>',
      'where clients send (e.g. 127.0.0.1:9000, [::1]:9000, :9000)',
    )
    .requiredOption('-t, --to <host:port>', 'the server to relay to (e.g. 127.0.0.1:1060)')
    .option('-p, --profile <name>', `preset impairments: ${profileNames().join(', ')}`);
  addImpairmentOptions(cmd);
  cmd
    .option(
      '--seed <n>',
      'seed the decisions: the same input order gives the same decisions',
      nonNegativeInt,
    )
    .option('--idle <s>', 'forget a client after this many idle seconds (default 60)', secondsToMs)
    .option(
      '--max-clients <n>',
      'at most N clients at once; one more evicts the least recently active (default 1024)',
      positiveInt,
    )
    .option('--stats <s>', 'print the totals every S seconds', secondsToMs)
    .option('-q, --quiet', 'no line per datagram: the start line, --stats and the summary only');
  withExamples(withCommonOptions(cmd), [
    'udplab proxy --listen 127.0.0.1:9000 --to 127.0.0.1:1060 --loss 0.3',
    'udplab proxy -l :9000 -t 127.0.0.1:1060 --delay 100 --jitter 20 --jitter-dist normal',
    'udplab proxy -l :9000 -t 127.0.0.1:1060 --loss-burst 5%,25% --blackout 10-15 --stats 5',
    'udplab proxy -l [::1]:9000 -t 127.0.0.1:53 --profile 3g --up-loss 0.1 --seed 7 --json',
  ]);
  cmd.addHelpText('after', impairmentHelp() + '\nDocs: docs/proxy.md');
  cmd.action(async (opts: ProxyOpts) => {
    const listen = parseHostPort(opts.listen, true);
    const to = parseHostPort(opts.to, false);
    const { up, down } = impairmentsFrom(opts, opts.profile);
    const out = openOutput(ctx, opts.json ?? false, renderProxy);
    const proxy = await createProxy({
      listen,
      to,
      up,
      down,
      rng: rngFor(opts.seed),
      ...(opts.idle === undefined ? {} : { idleTimeoutMs: opts.idle }),
      ...(opts.maxClients === undefined ? {} : { maxClients: opts.maxClients }),
      ...(opts.stats === undefined ? {} : { statsIntervalMs: opts.stats }),
      perDatagramEvents: !opts.quiet,
      onEvent: out.emit,
      ...(ctx.io.signal ? { signal: ctx.io.signal } : {}),
    });
    out.flush();
    await proxy.closed;
    out.flush();
  });
}
