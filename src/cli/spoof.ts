/** `udplab spoof HOST PORT`: the lab's fake-packet demonstration. */
import type { Command } from 'commander';
import { parsePort } from '../address.js';
import type { BaseEvent } from '../events.js';
import { spoof, type SpoofSentEvent } from '../spoof.js';
import { openOutput, withCommonOptions, withExamples, type CommandContext } from './context.js';
import { ep, type Colors } from './output.js';
import { positiveInt, secondsOrZeroToMs } from './parse.js';

/** Human lines for spoof's events. */
export function renderSpoof(event: BaseEvent, c: Colors): string | undefined {
  const e = event as SpoofSentEvent;
  if (e.event !== 'sent') return undefined;
  return `Sent a fake datagram of ${e.bytes} bytes from ${ep(e.from)} to ${c.bold(ep(e.to))}`;
}

/** Defines `udplab spoof`. */
export function defineSpoof(cmd: Command, ctx: CommandContext): void {
  withExamples(
    withCommonOptions(
      cmd
        .description(
          'send a fake datagram ("I\'m fake") to any port — e.g. a waiting client’s — from a fresh socket.\n' +
            'A --promiscuous client takes it as the server’s reply; the default (connected) client never sees it.',
        )
        .argument('<host>', 'target address (the client’s)')
        .argument('<port>', 'target port (the port the client printed)')
        .option('-m, --message <text>', 'the fake text', "I'm fake")
        .option('-c, --count <n>', 'send N datagrams', positiveInt, 1)
        .option('-i, --interval <s>', 'pause between datagrams, in seconds', secondsOrZeroToMs, 0),
    ),
    [
      'udplab spoof 127.0.0.1 53124',
      'udplab spoof 127.0.0.1 53124 --message "42; I\'m fake" --count 5',
    ],
  ).action(
    async (
      host: string,
      portText: string,
      opts: { message: string; count: number; interval: number; json?: boolean },
    ) => {
      const port = parsePort(portText, false);
      const out = openOutput(ctx, opts.json ?? false, renderSpoof);
      await spoof({
        host,
        port,
        message: opts.message,
        count: opts.count,
        intervalMs: opts.interval,
        onEvent: out.emit,
        ...(ctx.io.signal ? { signal: ctx.io.signal } : {}),
      });
      out.flush();
    },
  );
}
