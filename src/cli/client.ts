/** `udplab client HOST PORT`: the lab's client, safe by default, with Task 2's retransmission. */
import { InvalidArgumentError, type Command } from 'commander';
import { renderClient, runClient, type ClientOpts, type KeyLoader } from './client-action.js';
import { withCommonOptions, withExamples, type CommandContext } from './context.js';
import { fraction, nonNegativeInt, positiveInt, secondsOrZeroToMs, secondsToMs } from './parse.js';

export { renderClient };

/**
 * `--id [id]` takes the next word as its value: catch `--id 127.0.0.1 1060` (a host taken as the
 * ID) here, with a hint, instead of a puzzling "missing argument 'port'".
 */
function requestIdValue(text: string): string {
  if (!/^[0-9]{1,20}$/.test(text)) {
    throw new InvalidArgumentError(
      'expected 1 to 20 decimal digits; for a random ID put --id after HOST PORT (or write --id=ID)',
    );
  }
  return text;
}

/** Defines `udplab client`. */
export function defineClient(cmd: Command, ctx: CommandContext): void {
  withExamples(
    withCommonOptions(
      cmd
        .description(
          'send "Current time is <now>" (or --message) and print the reply.\n' +
            'Safe by default: the socket is connected, so only the server’s address and port can answer.\n' +
            'A server bound to 0.0.0.0 answers from its route’s address (127.0.0.1 when you send to\n' +
            '127.0.0.2), so that reply is dropped: send to the address it answers from, or bind it to HOST.\n' +
            'Retransmission (Task 2): wait --timeout, resend, double the wait; give up when the next\n' +
            'wait would pass --max-delay. Defaults: 0.1 + 0.2 + 0.4 + 0.8 + 1.6 = 3.1 s over 5\n' +
            'transmissions (the next wait, 3.2 s, would pass 2 s).',
        )
        .argument(
          '<host>',
          'server address or name ("", 0.0.0.0, ::, ::ffff:0.0.0.0 mean this machine)',
        )
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
          requestIdValue,
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
  ).action((host: string, portText: string, opts: ClientOpts) =>
    runClient(host, portText, opts, ctx, loadKey),
  );
}

/** `--key-file`: keys.ts (node:crypto, fs/promises) is imported only when a key is given. */
const loadKey: KeyLoader = async (ctx, path) =>
  (await import('./keys.js')).loadKeyOption(ctx, path);
