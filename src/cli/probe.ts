/** `udplab probe HOST PORT`: the largest datagram the stack accepts, and the largest that makes the round trip. */
import type { Command } from 'commander';
import { parsePort } from '../address.js';
import type { BaseEvent } from '../events.js';
import { probe, type ProbeEvent } from '../probe.js';
import { n, pathMtuOrigin } from './bigsend.js';
import { openOutput, withCommonOptions, withExamples, type CommandContext } from './context.js';
import { ep, type Colors } from './output.js';
import { positiveInt, secondsToMs } from './parse.js';

const PHASE = { local: 'local stack', peer: 'echo peer', 'round-trip': 'round trip' } as const;

/** Human lines for probe's events. */
export function renderProbe(event: BaseEvent, c: Colors): string | undefined {
  const e = event as ProbeEvent;
  switch (e.event) {
    case 'progress': {
      const what = e.ok ? 'ok' : `failed${e.detail ? ` (${e.detail})` : ''}`;
      const range = e.phase === 'peer' ? '' : ` — boundary in [${n(e.low)}, ${n(e.high)})`;
      return c.dim(`${PHASE[e.phase]}: ${n(e.bytes)} bytes ${what}${range}`);
    }
    case 'summary': {
      const lines = [
        `Largest datagram the local stack accepts for ${e.to.address}: ${c.bold(n(e.localMax))} bytes` +
          ` (the UDP limit over ${e.family} is ${n(e.limit)})`,
        e.roundTripMax === null
          ? c.yellow(`No echo peer answered at ${ep(e.to)}: round trip not measured`)
          : `Largest datagram that made the round trip through ${ep(e.to)}: ${c.bold(n(e.roundTripMax))} bytes`,
      ];
      if (e.mtu === null || e.interface === null) {
        lines.push('Path MTU: unknown (the system did not tell)');
      } else {
        const biggest = e.roundTripMax ?? e.localMax;
        // A route figure is the path's, not the interface's: name both (mtu-netns.test.ts).
        const where =
          e.source === 'learned' || e.source === 'route'
            ? `Path MTU to ${e.to.address}: ${n(e.mtu)} bytes, ${pathMtuOrigin(e)} (\`ip route get\`); ` +
              `interface ${e.interface}, its own MTU ${e.interfaceMtu === null ? 'unknown' : `${n(e.interfaceMtu)} bytes`}`
            : `Path: interface ${e.interface}, MTU ${n(e.mtu)} bytes`;
        lines.push(
          `${where} — a ${n(biggest)}-byte datagram ` +
            (e.fragments === 1
              ? 'travels as one IP packet'
              : `leaves as ${e.fragments ?? '?'} IP fragments of at most ${n(e.fragmentBytes ?? 0)} bytes`),
        );
      }
      return lines.join('\n');
    }
    default:
      return undefined;
  }
}

/** Defines `udplab probe`. */
export function defineProbe(cmd: Command, ctx: CommandContext): void {
  withExamples(
    withCommonOptions(
      cmd
        .description(
          'find by binary search (a) the largest datagram the local stack accepts for HOST (the EMSGSIZE\n' +
            'boundary: 65,507 bytes over IPv4, 65,527 over IPv6) and (b), when an echo peer answers at\n' +
            'HOST PORT (udplab echo-client, or any UDP echo service), the largest datagram that comes\n' +
            'back intact; report both with the path MTU (a learned or route figure, from `ip route get`)\n' +
            'and the MTU of the interface the route uses.\n' +
            'Both searches really send to HOST PORT (the sizes the kernel accepts, even with --local-only):\n' +
            'point it only at loopback or at a host that may receive them (~720 kB for the local search alone).',
        )
        .argument('<host>', 'destination address or name')
        .argument('<port>', 'destination port (an echo peer, for the round trip)')
        .option('-t, --timeout <s>', 'wait for each echo, in seconds (default 0.5)', secondsToMs)
        .option(
          '-a, --attempts <n>',
          'tries per size before it counts as lost (default 2)',
          positiveInt,
        )
        .option(
          '--local-only',
          'local boundary only: no echo awaited, but the sizes the kernel accepts (~13, up to 65,507 bytes) still go to HOST:PORT',
        )
        .option(
          '--bind <host:port>',
          'local address to send the round trip from (the server address an udplab echo-client was\n' +
            'given); bound before anything is sent: an address in use fails at once (exit 1)',
        ),
    ),
    [
      'udplab probe 127.0.0.1 9                     # local boundary (nothing echoes at port 9)',
      'udplab probe ::1 9 --local-only --json       # IPv6, figures as JSON',
      'udplab echo-client 127.0.0.1 6001 --bind 127.0.0.1:6000 --idle 30 &',
      'udplab probe 127.0.0.1 6000 --bind 127.0.0.1:6001   # round trip through udplab’s echo client',
    ],
  ).action(
    async (
      host: string,
      portText: string,
      opts: {
        timeout?: number;
        attempts?: number;
        localOnly?: boolean;
        bind?: string;
        json?: boolean;
      },
    ) => {
      const port = parsePort(portText, false);
      const out = openOutput(ctx, opts.json ?? false, renderProbe);
      // On a terminal the progress is one line on stderr, rewritten in place; in a pipe or a log,
      // one line per size tried on stdout.
      const stderr = ctx.io.stderr;
      const live = !(opts.json ?? false) && stderr.isTTY === true;
      const onEvent = (e: ProbeEvent): void => {
        if (!live) return out.emit(e);
        if (e.event === 'progress') {
          stderr.write(`\r\x1b[K${renderProbe({ ...e }, out.colors) ?? ''}`);
          return;
        }
        stderr.write('\r\x1b[K');
        out.emit(e);
      };
      await probe({
        host,
        port,
        ...(opts.timeout === undefined ? {} : { timeoutMs: opts.timeout }),
        ...(opts.attempts === undefined ? {} : { attempts: opts.attempts }),
        ...(opts.bind === undefined ? {} : { bind: opts.bind }),
        roundTrip: !(opts.localOnly ?? false),
        onEvent,
        ...(ctx.io.signal ? { signal: ctx.io.signal } : {}),
      });
      out.flush();
    },
  );
}
