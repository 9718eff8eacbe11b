/** `udplab server HOST PORT`: the lab's reply server (Task 1; `--drop` for Task 2). */
import { InvalidArgumentError, type Command } from 'commander';
import { parsePort } from '../address.js';
import type { BaseEvent } from '../events.js';
import { rngFor } from '../rng.js';
import { BACKEND_CHOICES, type BackendChoice } from '../backend/types.js';
import { createServer, type ServerEvent } from '../server.js';
import { openOutput, withCommonOptions, withExamples, type CommandContext } from './context.js';
import { ep, quote, type Colors } from './output.js';
import { nonNegativeInt, probability } from './parse.js';

function bindingHint(address: string): string {
  if (address === '0.0.0.0')
    return 'all IPv4 interfaces: reachable at any of this machine’s addresses';
  if (address === '::') return 'all interfaces, IPv6 and IPv4';
  if (address.startsWith('127.') || address === '::1')
    return 'loopback only: other machines cannot reach it';
  return 'this interface only: datagrams to the machine’s other addresses are not delivered here';
}

/** `--backend`: one of auto, native, dgram. */
function backendChoice(text: string): BackendChoice {
  const choice = BACKEND_CHOICES.find((c) => c === text.trim());
  if (choice === undefined) {
    throw new InvalidArgumentError(`expected one of ${BACKEND_CHOICES.join(', ')}`);
  }
  return choice;
}

/** Human lines for the server's events. */
export function renderServer(event: BaseEvent, c: Colors): string | undefined {
  const e = event as ServerEvent;
  switch (e.event) {
    case 'listening':
      return `Listening at ${c.bold(ep(e))} (UDP/${e.family}; ${bindingHint(e.address)})`;
    case 'message':
      return `The client at ${c.cyan(ep(e.from))} says ${quote(e.text)} (${e.bytes} bytes${e.id === undefined ? '' : `, id ${e.id}`})`;
    case 'dropped':
      return c.yellow(`Dropped packet from ${ep(e.from)}`);
    case 'summary':
      return `Received ${e.received} datagrams, replied to ${e.replied}, dropped ${e.dropped}${e.sendFailed ? `, ${e.sendFailed} replies failed to send` : ''}`;
    default:
      return undefined;
  }
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
            '0.0.0.0 or "" (all IPv4 interfaces), :: (all interfaces). PORT 0 lets the OS choose.',
        )
        .argument('<host>', 'interface address or name to bind ("" = all IPv4 interfaces)')
        .argument('<port>', 'UDP port to bind (0 = any free port)')
        .option('-q, --quiet', 'no line per datagram: only the start line and the summary')
        .option(
          '--drop <p>',
          'drop each datagram with probability P before replying (the lab’s "remote" server uses 0.5)',
          probability,
        )
        .option('--seed <n>', 'seed the drop decisions so that runs repeat exactly', nonNegativeInt)
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
      'udplab server 127.0.0.1 1060 --quiet --backend native  # batched recvmmsg/sendmmsg (Linux)',
    ],
  ).action(
    async (
      host: string,
      portText: string,
      opts: {
        quiet?: boolean;
        drop?: number;
        seed?: number;
        json?: boolean;
        backend: BackendChoice;
      },
    ) => {
      const port = parsePort(portText, true);
      const out = openOutput(ctx, opts.json ?? false, renderServer);
      const server = await createServer({
        host,
        port,
        dropProbability: opts.drop ?? 0,
        rng: rngFor(opts.seed),
        perDatagramEvents: !opts.quiet,
        backend: opts.backend,
        onEvent: out.emit,
        ...(ctx.io.signal ? { signal: ctx.io.signal } : {}),
      });
      out.flush();
      await server.closed;
      out.flush();
    },
  );
}
