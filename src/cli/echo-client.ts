/** `udplab echo-client HOST PORT`: the lab's echo client for Task 3. */
import type { Command } from 'commander';
import { parsePort } from '../address.js';
import { echoClient, type EchoClientEvent, type EchoClientResult } from '../echo-client.js';
import type { BaseEvent } from '../events.js';
import { n } from './bigsend.js';
import { openOutput, withCommonOptions, withExamples, type CommandContext } from './context.js';
import { ep, type Colors } from './output.js';
import { secondsToMs } from './parse.js';

/** Human lines for the echo client's events. */
export function renderEchoClient(event: BaseEvent, c: Colors): string | undefined {
  const e = event as EchoClientEvent;
  switch (e.event) {
    case 'bound':
      return `Echo client at ${c.bold(ep(e))}, echoing what ${ep(e.server)} sends (and nothing else)`;
    case 'hello-sent':
      return e.attempt === 1
        ? `Said hello to ${ep(e.to)}`
        : c.dim(`No word from the server yet: hello again (${e.attempt})`);
    case 'refused':
      return c.yellow(`Port unreachable: nothing listens at ${ep(e.from)} yet`);
    case 'echoed':
      return c.dim(`Echoed ${n(e.bytes)} bytes`);
    case 'summary': {
      const why =
        e.reason === 'done'
          ? 'the server said it is done'
          : e.reason === 'aborted'
            ? 'interrupted'
            : e.reason === 'reply-server'
              ? 'the server answered with the lab’s reply text — it is a reply server (udplab server), not bigsend; echoing it would loop forever'
              : e.heard
                ? 'the server went quiet'
                : 'the server never answered';
      const line = `Echoed ${n(e.datagrams)} datagram${e.datagrams === 1 ? '' : 's'} (${n(e.bytes)} bytes); stopped: ${why}${e.failed ? `; ${e.failed} echoes failed to send` : ''}`;
      return e.heard && e.reason !== 'reply-server' && !e.failed ? line : c.red(line);
    }
    default:
      return undefined;
  }
}

/** Defines `udplab echo-client`. */
/**
 * The echo client's exit code. Its job is echoing bigsend's pieces: 1 when the server never
 * answered, when it is a reply server (nothing to echo), or when an echo could not be sent (the
 * sender misses that piece); else 0.
 */
export function echoClientExitCode(
  r: Pick<EchoClientResult, 'heard' | 'reason' | 'failed'>,
): 0 | 1 {
  return r.heard && r.reason !== 'reply-server' && r.failed === 0 ? 0 : 1;
}

export function defineEchoClient(cmd: Command, ctx: CommandContext): void {
  withExamples(
    withCommonOptions(
      cmd
        .description(
          'the lab’s echo client: say hello to the server at HOST PORT (repeated each second until it\n' +
            'answers), then send back every datagram that comes from that server — and only from it.\n' +
            'Stops after --idle seconds with nothing, or when the server sends an empty datagram (done).\n' +
            'Exit 1 when the server never answered, answered as a reply server (nothing to echo),\n' +
            'or an echo could not be sent.',
        )
        .argument('<host>', 'server address or name')
        .argument('<port>', 'server port')
        .option(
          '--idle <s>',
          'stop after this long with nothing from the server (default 5)',
          secondsToMs,
        )
        .option(
          '--bind <host:port>',
          'local address to bind (for udplab probe --bind, which must know where to send)',
        ),
    ),
    [
      'udplab echo-client 127.0.0.1 1060             # with: udplab bigsend 127.0.0.1 1060',
      'udplab echo-client ::1 1060 --idle 2 --json',
      'udplab echo-client 127.0.0.1 6001 --bind 127.0.0.1:6000 --idle 30',
      '                                              # with: udplab probe 127.0.0.1 6000 --bind 127.0.0.1:6001',
    ],
  ).action(
    async (
      host: string,
      portText: string,
      opts: { idle?: number; bind?: string; json?: boolean },
    ) => {
      const port = parsePort(portText, false);
      const out = openOutput(ctx, opts.json ?? false, renderEchoClient);
      const r = await echoClient({
        host,
        port,
        ...(opts.idle === undefined ? {} : { idleMs: opts.idle }),
        ...(opts.bind === undefined ? {} : { bind: opts.bind }),
        onEvent: out.emit,
        ...(ctx.io.signal ? { signal: ctx.io.signal } : {}),
      });
      out.flush();
      ctx.exitCode = echoClientExitCode(r);
    },
  );
}
