/**
 * The commander half of the CLI: every command but a plain `udplab client HOST PORT` (which
 * main.ts runs without loading this file, commander or any other command's module).
 */
import type { Command } from 'commander';
import type { CommandContext } from './context.js';
import type { CliIo } from './io.js';
import { loadColors } from './output.js';
import { ExitCode, errorLine, report, safeText, wantsJson } from './report.js';
import { UsageError } from '../errors.js';

/** A command module: defines its options and action on the commander Command it is given. */
type Define = (cmd: Command, ctx: CommandContext) => void;

/**
 * The commands, loaded lazily: only the module of the command being run is imported (a command
 * module and what it imports cost ~0.3 ms each to load). Add new commands here.
 */
const COMMANDS: readonly { name: string; summary: string; load: () => Promise<Define> }[] = [
  {
    name: 'demo',
    summary: 'run the whole lab on loopback, narrated (start here)',
    load: async () => (await import('./demo.js')).defineDemo,
  },
  {
    name: 'server',
    summary: 'the lab’s reply server (Task 1; --drop for Task 2)',
    load: async () => (await import('./server.js')).defineServer,
  },
  {
    name: 'client',
    summary: 'the safe client with retransmission (Tasks 1 and 2)',
    load: async () => (await import('./client.js')).defineClient,
  },
  {
    name: 'keygen',
    summary: 'make a key for sealed (authenticated) datagrams',
    load: async () => (await import('./keygen.js')).defineKeygen,
  },
  {
    name: 'bench',
    summary: 'load a reply server and measure replies/s and latency (loopback or your own hosts)',
    load: async () => (await import('./bench.js')).defineBench,
  },
  {
    name: 'spoof',
    summary: 'send a fake datagram to any port (the unsafe-client demo)',
    load: async () => (await import('./spoof.js')).defineSpoof,
  },
  {
    name: 'bigsend',
    summary: 'Task 3: one 80,000-byte datagram (too big), then 16 pieces echoed back',
    load: async () => (await import('./bigsend.js')).defineBigsend,
  },
  {
    name: 'echo-client',
    summary: 'Task 3: say hello to a server, echo back everything it sends',
    load: async () => (await import('./echo-client.js')).defineEchoClient,
  },
  {
    name: 'probe',
    summary:
      'find the largest datagram the stack accepts and the largest that makes the round trip',
    load: async () => (await import('./probe.js')).defineProbe,
  },
  {
    name: 'proxy',
    summary: 'relay UDP through an impaired path: loss, delay, jitter, reordering… (no root)',
    load: async () => (await import('./proxy.js')).defineProxy,
  },
];

async function packageVersion(): Promise<string> {
  try {
    const { readFileSync } = await import('node:fs'); // not on the client's fast path
    const pkg = JSON.parse(
      readFileSync(new URL('../../../package.json', import.meta.url), 'utf8'),
    ) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

function oneLine(text: string): string {
  return (
    text
      .replace(/^error:\s*/i, '')
      .split('\n')[0]
      ?.trim() ?? ''
  );
}

/** Levenshtein distance, for "did you mean" (short words only: command names). */
function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      next[j] = Math.min((row[j] ?? 0) + 1, (next[j - 1] ?? 0) + 1, (row[j - 1] ?? 0) + cost);
    }
    row = next;
  }
  return row[b.length] ?? 0;
}

/** `127.0.0.1:1060` or `[::1]:1060`: an address and a port written as one argument. */
const HOST_COLON_PORT = /^(?:\[[0-9a-fA-F:.%\w]+\]|[^\s:]+):\d+$/;

/**
 * A usage message with a hint for two common slips that leave the port missing: HOST:PORT written as
 * one argument, and `--id` before the port, which takes the port as the ID.
 */
function withHint(message: string, argv: readonly string[]): string {
  if (!message.includes("missing required argument 'port'")) return message;
  // `client HOST --id PORT`: the optional ID took the port (client's `--id [id]`).
  const id = argv.indexOf('--id');
  const taken = id < 0 ? undefined : argv[id + 1];
  if (taken !== undefined && /^[0-9]+$/.test(taken))
    return `${message}: --id took ${taken} as its value; put --id after HOST PORT, or write --id=ID`;
  const joined = argv.slice(1).find((a) => HOST_COLON_PORT.test(a));
  if (joined === undefined) return message;
  const at = joined.lastIndexOf(':');
  const host = joined.slice(0, at).replace(/^\[(.*)\]$/, '$1');
  return `${message}: write HOST and PORT as two arguments (${host} ${joined.slice(at + 1)})`;
}

/**
 * Runs the CLI through commander (main() calls it for everything but the client's fast path).
 * @param argv - the arguments after the program name.
 * @returns the exit code.
 */
export async function runProgram(argv: readonly string[], io: CliIo): Promise<number> {
  const ctx: CommandContext = { io, exitCode: ExitCode.OK };
  // Usage errors point to the help of the command being run, when there is one.
  const json = wantsJson(argv);
  const helpHint = COMMANDS.some((c) => c.name === argv[0])
    ? `udplab ${argv[0] ?? ''} --help`
    : 'udplab --help';
  try {
    await loadColors(io);
  } catch (err) {
    return report(err, ctx, helpHint, json);
  }
  const { Command } = await import('commander');
  const program = new Command('udplab');
  program
    .description(
      'udplab — the UDP socket-programming lab, made real: a reply server, a safe client with\n' +
        'retransmission, the spoofing demonstration and more. Start with: udplab demo',
    )
    .version(await packageVersion(), '-V, --version')
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureHelp({ helpWidth: 110 })
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      outputError: (s, write) => {
        const message = withHint(oneLine(s), argv);
        if (json) io.stdout.write(errorLine('UDPLAB_ERR_USAGE', message));
        write(`udplab: error: ${safeText(message)} (see '${helpHint}')\n`);
      },
    })
    .addHelpText(
      'after',
      '\nExit codes: 0 success, 1 the job failed (no reply, cannot bind), 2 usage error.\n' +
        'Every command takes --json for one JSON event a line. Docs: docs/events.md',
    );

  try {
    // Load the command being run (or, for `udplab help NAME`, the one asked about); the others
    // are registered with their summary only, for the top-level help and suggestions.
    const wanted = argv[0] === 'help' ? argv[1] : argv[0];
    // An unknown command (`udplab bogus`, `udplab help bogus`) is named with the list of commands.
    const unknown =
      wanted !== undefined &&
      wanted !== 'help' &&
      !wanted.startsWith('-') &&
      !COMMANDS.some((c) => c.name === wanted);
    if (unknown) {
      const names = COMMANDS.map((c) => c.name);
      const near = names.find((n) => editDistance(n, wanted) <= 2);
      throw new UsageError(
        `unknown command '${wanted}'${near === undefined ? '' : ` (did you mean ${near}?)`}; the commands: ${names.join(', ')}`,
      );
    }
    for (const c of COMMANDS) {
      const cmd = program.command(c.name).summary(c.summary);
      if (c.name === wanted) (await c.load())(cmd, ctx);
    }
    await program.parseAsync([...argv], { from: 'user' });
    ctx.output?.flush();
    return ctx.exitCode;
  } catch (err) {
    ctx.output?.flush();
    return report(err, ctx, helpHint, json);
  }
}
