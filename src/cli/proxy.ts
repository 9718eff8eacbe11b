/** `udplab proxy --listen HOST:PORT --to HOST:PORT [impairments]`: a UDP relay that impairs the path. */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { parseHostPort } from '../address.js';
import type { BaseEvent } from '../events.js';
import type { ImpairmentSpec } from '../impair.js';
import { describeImpairments } from '../impair/describe.js';
import { PROFILES, profileNames } from '../impair/profiles.js';
import {
  parseBlackout,
  parseBytes,
  parseLossBurst,
  parseMs,
  parseProbability,
  parseRate,
} from '../impair/units.js';
import { UsageError } from '../errors.js';
import { createProxy, mergeImpairments } from '../proxy.js';
import type { DirectionStats, ProxyEvent, ProxyReport } from '../proxy-events.js';
import { rngFor } from '../rng.js';
import { openOutput, withCommonOptions, withExamples, type CommandContext } from './context.js';
import { ep, formatMs, type Colors } from './output.js';
import { nonNegativeInt, positiveInt, secondsToMs } from './parse.js';

/** Wraps a units parser so commander reports its message as an invalid argument (exit 2). */
function arg<T>(parse: (text: string) => T): (text: string) => T {
  return (text) => {
    try {
      return parse(text);
    } catch (err) {
      throw new InvalidArgumentError(err instanceof Error ? err.message : String(err));
    }
  };
}

/** One impairment option: `--NAME`, and hidden `--up-NAME` / `--down-NAME`. */
interface ImpairmentOption {
  name: string;
  value: string;
  help: string;
  parse: (text: string, previous: unknown) => unknown;
  apply: (spec: ImpairmentSpec, value: unknown) => void;
}

const IMPAIRMENT_OPTIONS: readonly ImpairmentOption[] = [
  {
    name: 'loss',
    value: '<p>',
    help: 'lose each datagram with probability P (0.3 or 30%)',
    parse: arg(parseProbability),
    apply: (s, v) => (s.loss = v as number),
  },
  {
    name: 'loss-burst',
    value: '<p,r>',
    help: 'Gilbert–Elliott burst loss: P good→bad, R bad→good per datagram (loss ≈ P/(P+R), bursts of 1/R); optional ,1-H,1-K as netem’s gemodel',
    parse: arg(parseLossBurst),
    apply: (s, v) => (s.lossBurst = v as ImpairmentSpec['lossBurst']),
  },
  {
    name: 'delay',
    value: '<ms>',
    help: 'one-way delay in ms (100, 100ms, 0.1s)',
    parse: arg(parseMs),
    apply: (s, v) => (s.delayMs = v as number),
  },
  {
    name: 'jitter',
    value: '<ms>',
    help: 'jitter around the delay, ms: ± half-width (uniform) or σ (normal); can reorder, as netem',
    parse: arg(parseMs),
    apply: (s, v) => (s.jitterMs = v as number),
  },
  {
    name: 'jitter-dist',
    value: '<name>',
    help: 'jitter distribution: uniform (default) or normal',
    parse: arg((t) => {
      if (t !== 'uniform' && t !== 'normal') throw new RangeError('expected uniform or normal');
      return t;
    }),
    apply: (s, v) => (s.jitterDistribution = v as 'uniform' | 'normal'),
  },
  {
    name: 'duplicate',
    value: '<p>',
    help: 'send a datagram twice with probability P',
    parse: arg(parseProbability),
    apply: (s, v) => (s.duplicate = v as number),
  },
  {
    name: 'reorder',
    value: '<p>',
    help: 'hold a datagram back behind later ones with probability P',
    parse: arg(parseProbability),
    apply: (s, v) => (s.reorder = v as number),
  },
  {
    name: 'reorder-gap',
    value: '<n>',
    help: 'a held-back datagram goes out after N later ones (default 1)',
    parse: arg((t) => {
      const v = Number(t);
      if (!/^\s*[0-9]+\s*$/.test(t) || v < 1) throw new RangeError('expected a whole number ≥ 1');
      return v;
    }),
    apply: (s, v) => (s.reorderGap = v as number),
  },
  {
    name: 'reorder-hold',
    value: '<ms>',
    help: '…or after this long at most, ms (default 50)',
    parse: arg(parseMs),
    apply: (s, v) => (s.reorderHoldMs = v as number),
  },
  {
    name: 'corrupt',
    value: '<p>',
    help: 'flip one random bit of a datagram with probability P',
    parse: arg(parseProbability),
    apply: (s, v) => (s.corrupt = v as number),
  },
  {
    name: 'rate',
    value: '<bits>',
    help: 'bottleneck rate (1mbit, 768kbit, 64000 bit/s; kbps/mbps are BYTES/s, as in tc)',
    parse: arg(parseRate),
    apply: (s, v) => (s.rateBitsPerSecond = v as number),
  },
  {
    name: 'burst',
    value: '<bytes>',
    help: 'token bucket depth for --rate (default 0: back to back, as netem)',
    parse: arg(parseBytes),
    apply: (s, v) => (s.burstBytes = v as number),
  },
  {
    name: 'limit',
    value: '<n>',
    help: 'at most N datagrams held in a direction; more are dropped and counted (default 1000)',
    parse: arg((t) => {
      const v = Number(t);
      if (!/^\s*[0-9]+\s*$/.test(t) || v < 1) throw new RangeError('expected a whole number ≥ 1');
      return v;
    }),
    apply: (s, v) => (s.queueLimit = v as number),
  },
  {
    name: 'blackout',
    value: '<from-to>',
    help: 'drop everything from FROM to TO seconds after the start (repeatable)',
    parse: (t, prev) => [...((prev as unknown[] | undefined) ?? []), arg(parseBlackout)(t)],
    apply: (s, v) => (s.blackouts = v as ImpairmentSpec['blackouts']),
  },
];

function camel(flag: string): string {
  return flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** The spec given on the command line under `prefix` ('' for both directions, 'up-', 'down-'). */
function specFrom(opts: Record<string, unknown>, prefix: string): ImpairmentSpec {
  const spec: ImpairmentSpec = {};
  const seen: string[] = [];
  for (const o of IMPAIRMENT_OPTIONS) {
    const v = opts[camel(prefix + o.name)];
    if (v === undefined) continue;
    seen.push(o.name);
    o.apply(spec, v);
  }
  if (seen.includes('loss') && seen.includes('loss-burst')) {
    throw new UsageError(`--${prefix}loss and --${prefix}loss-burst cannot be used together`);
  }
  return spec;
}

/** The profiles as help text, with their numbers. */
function profilesHelp(): string {
  const lines = profileNames().map((name) => {
    const p = PROFILES[name];
    if (p === undefined) return '';
    const up = describeImpairments(mergeImpairments(p.both, p.up ?? {}));
    const down = describeImpairments(mergeImpairments(p.both, p.down ?? {}));
    const numbers = up === down ? `  both: ${up}` : `  up:   ${up}\n    down: ${down}`;
    return `  ${name.padEnd(10)} ${p.description}\n  ${numbers}`;
  });
  return `\nProfiles (--profile NAME; options given with it override its values):\n${lines.join('\n')}\n`;
}

function directionLine(name: string, s: DirectionStats): string {
  const delay = s.delayMeanMs === null ? '-' : formatMs(s.delayMeanMs);
  return (
    `${name}: ${s.received} in, ${s.forwarded} forwarded, ${s.lost} lost` +
    ` (${s.lostRandom} random, ${s.lostBlackout} blackout, ${s.queueDrops} queue full),` +
    ` ${s.duplicated} duplicated, ${s.reordered} reordered, ${s.corrupted} corrupted,` +
    ` ${s.outOfOrder} out of order, mean delay ${delay}` +
    (s.sendFailed ? `, ${s.sendFailed} sends failed` : '') +
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
  for (const o of IMPAIRMENT_OPTIONS) {
    cmd.addOption(new Option(`--${o.name} ${o.value}`, o.help).argParser(o.parse));
    for (const dir of ['up', 'down']) {
      cmd.addOption(new Option(`--${dir}-${o.name} ${o.value}`).argParser(o.parse).hideHelp());
    }
  }
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
  cmd.addHelpText(
    'after',
    '\nEvery impairment option also exists per direction: --up-NAME (client → server) and\n' +
      '--down-NAME (server → client), e.g. --down-loss 0.5 --up-rate 1mbit; they override --NAME.\n' +
      profilesHelp() +
      '\nDocs: docs/proxy.md',
  );
  cmd.action(async (opts: ProxyOpts) => {
    const listen = parseHostPort(opts.listen, true);
    const to = parseHostPort(opts.to, false);
    let up: ImpairmentSpec = {};
    let down: ImpairmentSpec = {};
    if (opts.profile !== undefined) {
      const p = PROFILES[opts.profile];
      if (p === undefined) {
        throw new UsageError(
          `unknown profile '${opts.profile}': choose from ${profileNames().join(', ')}`,
        );
      }
      up = mergeImpairments(p.both, p.up ?? {});
      down = mergeImpairments(p.both, p.down ?? {});
    }
    const both = specFrom(opts, '');
    up = mergeImpairments(mergeImpairments(up, both), specFrom(opts, 'up-'));
    down = mergeImpairments(mergeImpairments(down, both), specFrom(opts, 'down-'));
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
