/** `udplab bigsend HOST PORT`: the lab's Task 3 server — one 80,000-byte datagram, then 16 pieces. */
import type { Command } from 'commander';
import { parsePort } from '../address.js';
import { BIGSEND_DEFAULTS, bigsend, type BigsendEvent, type PathMtuEvent } from '../bigsend.js';
import { ipFragments } from '../chunks.js';
import type { BaseEvent } from '../events.js';
import { formatCount } from '../format.js';
import type { MtuSource } from '../mtu.js';
import { openOutput, withCommonOptions, withExamples, type CommandContext } from './context.js';
import { ep, type Colors } from './output.js';
import { positiveInt, secondsOrZeroToMs } from './parse.js';

/** 80000 → `80,000`. */
export const n = formatCount;

function headerBytes(family: 'IPv4' | 'IPv6'): string {
  return family === 'IPv6'
    ? '65,535 bytes of IPv6 payload − 8 of UDP header'
    : '65,535 bytes of IPv4 packet − 20 of IP header − 8 of UDP header';
}

/**
 * Where a path MTU that is not the interface's came from, in words: learned by path MTU
 * discovery and cached (ICMP "fragmentation needed", IPv6 "packet too big"), or the route's own
 * `mtu` attribute.
 */
export function pathMtuOrigin(e: {
  source: MtuSource | null;
  family: 'IPv4' | 'IPv6';
  expiresSec: number | null;
}): string {
  if (e.source === 'route') return 'the route’s `mtu` attribute';
  const icmp = e.family === 'IPv6' ? 'ICMPv6 “packet too big”' : 'ICMP “fragmentation needed”';
  const left = e.expiresSec === null ? '' : `, for ${n(e.expiresSec)} s more`;
  return (
    `learned by path MTU discovery (a router on the way answered a larger packet with ${icmp}) ` +
    `and cached by the kernel for this destination${left}`
  );
}

/** `whose own MTU is 1,500 bytes (read from /sys/class/net/IF/mtu)`, or that it is unknown. */
function ownMtu(dev: string, mtu: number | null): string {
  return mtu === null
    ? 'whose own MTU could not be read'
    : `whose own MTU is ${n(mtu)} bytes (read from /sys/class/net/${dev}/mtu)`;
}

/**
 * The "why" of Task 3 as one paragraph, from the figures of a `path-mtu` event: the UDP payload
 * limit, whether the whole payload fit under it (the EMSGSIZE sentence only when the kernel really
 * refused it, i.e. `wholeSent` is false), the path's MTU read from the system, and how many IP
 * fragments a piece becomes.
 */
export function explainPath(e: Omit<PathMtuEvent, 'event' | 'time'>): string {
  const fam = e.family === 'IPv6' ? 'udp6' : 'udp4';
  /** `below that limit`, or `exactly at that limit` for a size equal to it. */
  const under = (bytes: number): string =>
    bytes < e.limit ? 'below that limit' : 'exactly at that limit';
  const onePiece = e.pieceBytes === e.size;
  const piece = onePiece ? 'the datagram' : 'each piece';
  const why =
    `Why: a UDP datagram carries at most ${n(e.limit)} bytes over ${e.family} ` +
    `(${headerBytes(e.family)}: the length fields are 16 bits)`;
  const parts = e.wholeSent
    ? [
        `${why}, and ${n(e.size)} bytes are ${under(e.size)}, so the kernel sent them as one datagram.`,
        ...(onePiece
          ? []
          : [`Each piece of ${n(e.pieceBytes)} bytes is ${under(e.pieceBytes)} too.`]),
      ]
    : [
        `${why}, so the kernel refuses ${n(e.size)} bytes in one datagram before anything leaves (EMSGSIZE).`,
        `Each piece of ${n(e.pieceBytes)} bytes is ${under(e.pieceBytes)}, so it can be sent.`,
      ];
  if (e.mtu === null || e.interface === null) {
    parts.push('The system did not tell the MTU of the path (no iproute2?).');
  } else {
    const frag = e.fragments ?? 1;
    const cut =
      frag === 1
        ? `${piece} travels as one IP packet, unfragmented.`
        : `the IP layer splits ${piece} into ${frag} fragments of at most ${n(e.fragmentBytes ?? 0)} bytes, and the receiver reassembles them.`;
    if (e.source === 'learned' || e.source === 'route') {
      // A route figure is the path's, not the interface's: a learned 1,000 on a 1,500-byte
      // Ethernet must not read as "vC, whose MTU is 1,000" (regression: mtu-netns.test.ts).
      parts.push(
        `The path MTU to ${e.to.address} is ${n(e.mtu)} bytes: ${pathMtuOrigin(e)} (read from \`ip route get\`). ` +
          `The route uses ${e.interface}, ${ownMtu(e.interface, e.interfaceMtu)}. On this path ${cut}`,
      );
    } else {
      const loop =
        e.interface === 'lo' ? '; loopback’s MTU is 65,536, far above Ethernet’s 1,500' : '';
      parts.push(
        `The route to ${e.to.address} uses ${e.interface}, whose MTU is ${n(e.mtu)} bytes ` +
          `(read from /sys/class/net/${e.interface}/mtu${loop}): there ${cut}`,
      );
    }
    if (frag === 1 && e.pieceBytes + 28 > 1500) {
      parts.push(
        `On a link with a smaller MTU, such as Ethernet’s 1,500, ${piece} would leave as ` +
          `${ipFragments(e.pieceBytes, 1500, fam)} IP fragments.`,
      );
    }
    parts.push(
      'Fragments are not retransmitted: if one fragment is lost, the whole datagram is lost.',
    );
  }
  return parts.join(' ');
}

/** Human lines for bigsend's events. */
export function renderBigsend(event: BaseEvent, c: Colors): string | undefined {
  const e = event as BigsendEvent;
  switch (e.event) {
    case 'listening':
      return `Waiting at ${c.bold(ep(e))} (UDP/${e.family}) for an echo client to say hello`;
    case 'hello':
      return `Hello from the echo client at ${c.cyan(ep(e.from))} (${n(e.bytes)} bytes)`;
    case 'too-big':
      return [
        c.yellow('packet too big, cannot send'),
        `  ${e.code}: ${n(e.bytes)} bytes do not fit in one UDP datagram; over ${e.family} the limit is ${n(e.limit)} bytes of payload`,
      ].join('\n');
    case 'sent-whole':
      return `packet sent (${n(e.bytes)} bytes as one datagram)`;
    case 'chunk-sent':
      return c.dim(`Sent piece ${e.index + 1} of ${e.chunks} (${n(e.bytes)} bytes)`);
    case 'chunk-echoed':
      return c.dim(`Piece ${e.index + 1} echoed back (${n(e.bytes)} bytes, content verified)`);
    case 'whole-echoed':
      return `The whole ${n(e.bytes)}-byte datagram echoed back (content verified)`;
    case 'ignored':
      return c.dim(
        `Ignored ${n(e.bytes)} bytes from ${ep(e.from)} (${
          e.reason === 'stranger'
            ? 'not the echo client'
            : e.reason === 'duplicate'
              ? 'a second copy of a piece'
              : 'not a copy of anything sent'
        })`,
      );
    case 'summary': {
      const all = e.missing.length === 0;
      const bytes = all ? n(e.bytes) : `${n(e.bytes)} of ${n(e.totalBytes)}`;
      const line = `${e.echoed} of ${e.chunks} packets echoed back (${bytes} bytes, content verified)`;
      const whole =
        e.wholeSent && !e.wholeEchoed
          ? '\n' + c.red('The whole datagram was sent but its echo did not come back.')
          : '';
      if (all) return c.green(line) + whole;
      const shown = e.missing.slice(0, 20).map((i) => `piece ${i + 1}`); // 1-based for people; JSON keeps 0-based indices
      const more = e.missing.length > 20 ? ` and ${e.missing.length - 20} more` : '';
      return c.red(`${line}; missing: ${shown.join(', ')}${more}`) + whole;
    }
    case 'path-mtu':
      return explainPath(e);
    default:
      return undefined;
  }
}

interface BigsendOpts {
  size: number;
  chunks: number;
  fill: string;
  pattern?: boolean;
  wait?: number;
  interval?: number;
  quiet?: boolean;
  json?: boolean;
}

/** Defines `udplab bigsend`. */
export function defineBigsend(cmd: Command, ctx: CommandContext): void {
  withExamples(
    withCommonOptions(
      cmd
        .description(
          'the lab’s Task 3 server: wait for an echo client’s hello, try to send SIZE bytes as ONE\n' +
            'datagram ("packet too big, cannot send" above 65,507 bytes over IPv4, 65,527 over IPv6),\n' +
            'then send the same bytes as CHUNKS datagrams, check every echo byte for byte, and explain\n' +
            'why the pieces pass (the UDP limit, the path’s MTU, IP fragments).\n' +
            'Exit 0 only when every piece came back.',
        )
        .argument('<host>', 'interface address or name to bind ("" = all IPv4 interfaces)')
        .argument('<port>', 'UDP port to bind (0 = any free port)')
        .option('--size <bytes>', 'bytes to send', positiveInt, BIGSEND_DEFAULTS.size)
        .option('--chunks <n>', 'pieces to send them in', positiveInt, BIGSEND_DEFAULTS.chunks)
        .option('--fill <char>', 'the character the payload repeats', BIGSEND_DEFAULTS.fill)
        .option(
          '--pattern',
          'fill with a counter instead, so that every piece differs and a missing one is named exactly',
        )
        .option(
          '--wait <s>',
          'wait this long for the echoes after the last piece, in seconds (default 2)',
          secondsOrZeroToMs,
        )
        .option('--interval <s>', 'pause between pieces, in seconds (default 0)', secondsOrZeroToMs)
        .option('-q, --quiet', 'no line per piece: only the results and the explanation'),
    ),
    [
      'udplab bigsend 127.0.0.1 1060                     # then: udplab echo-client 127.0.0.1 1060',
      'udplab bigsend "" 1060 --size 80001 --chunks 16   # uneven: one piece of 5,001, fifteen of 5,000',
      'udplab bigsend ::1 1060 --size 65527 --chunks 1   # IPv6: fits in one datagram',
      'udplab bigsend 127.0.0.1 0 --json                 # any port, NDJSON events',
    ],
  ).action(async (host: string, portText: string, opts: BigsendOpts) => {
    const port = parsePort(portText, true);
    const out = openOutput(ctx, opts.json ?? false, renderBigsend);
    const quietEmit = (e: BigsendEvent): void => {
      if (!opts.json && opts.quiet && (e.event === 'chunk-sent' || e.event === 'chunk-echoed')) {
        return;
      }
      out.emit(e);
    };
    const result = await bigsend({
      host,
      port,
      size: opts.size,
      chunks: opts.chunks,
      fill: opts.fill,
      pattern: opts.pattern ?? false,
      ...(opts.wait === undefined ? {} : { waitMs: opts.wait }),
      ...(opts.interval === undefined ? {} : { intervalMs: opts.interval }),
      onEvent: quietEmit,
      ...(ctx.io.signal ? { signal: ctx.io.signal } : {}),
    });
    out.flush();
    ctx.exitCode = result.missing.length === 0 && (!result.wholeSent || result.wholeEchoed) ? 0 : 1;
  });
}
