/**
 * The udplab command line: `main(argv, io)` returns the exit code (0 success, 1 the job failed,
 * 2 usage error). It never calls process.exit and never prints a stack trace.
 */
import type { Command } from 'commander';
import { UdplabError, UsageError } from '../errors.js';
import { isoNow } from '../events.js';
import type { CommandContext } from './context.js';
import type { CliIo } from './io.js';
import { loadColors } from './output.js';

/** A command module: defines its options and action on the commander Command it is given. */
type Define = (cmd: Command, ctx: CommandContext) => void;

/**
 * The commands, loaded lazily: only the module of the command being run is imported, so that
 * `udplab client` starts nearly as fast as a bare Node script. Add new commands here.
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

/** Exit codes (docs/exit-codes.md). */
export const ExitCode = { OK: 0, FAILED: 1, USAGE: 2 } as const;

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

/**
 * Runs the CLI.
 * @param argv - the arguments after the program name.
 * @returns the exit code.
 */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  const ctx: CommandContext = { io, exitCode: ExitCode.OK };
  // Usage errors point to the help of the command being run, when there is one.
  const helpHint = COMMANDS.some((c) => c.name === argv[0])
    ? `udplab ${argv[0] ?? ''} --help`
    : 'udplab --help';
  try {
    await loadColors(io);
    // Fast path: a plain `udplab client HOST PORT` runs without loading commander (its import
    // is half of the start-up cost; docs/performance.md). Anything else falls through.
    if (argv[0] === 'client') {
      const { runClientFast } = await import('./client-fast.js');
      if (await runClientFast(argv.slice(1), ctx)) {
        ctx.output?.flush();
        return ctx.exitCode;
      }
    }
  } catch (err) {
    ctx.output?.flush();
    return report(err, ctx, helpHint);
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
      outputError: (s, write) => write(`udplab: error: ${oneLine(s)} (see '${helpHint}')\n`),
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
    for (const c of COMMANDS) {
      const cmd = program.command(c.name).summary(c.summary);
      if (c.name === wanted) (await c.load())(cmd, ctx);
    }
    await program.parseAsync([...argv], { from: 'user' });
    ctx.output?.flush();
    return ctx.exitCode;
  } catch (err) {
    ctx.output?.flush();
    return report(err, ctx, helpHint);
  }
}

/** Commander's errors carry a `commander.*` code (checked so that commander loads lazily). */
function isCommanderError(err: unknown): err is Error & { exitCode: number } {
  const code = (err as { code?: unknown } | null)?.code;
  return err instanceof Error && typeof code === 'string' && code.startsWith('commander.');
}

function report(err: unknown, ctx: CommandContext, helpHint: string): number {
  const { io } = ctx;
  if (isCommanderError(err)) {
    // Help and version "errors" are how commander says it printed them.
    if (err.exitCode === 0) return ExitCode.OK;
    return ExitCode.USAGE; // commander printed the one-line message through outputError
  }
  const usage = err instanceof UsageError || err instanceof RangeError || err instanceof TypeError;
  const message = err instanceof Error ? err.message : String(err);
  const code =
    err instanceof UdplabError ? err.code : usage ? 'UDPLAB_ERR_USAGE' : 'UDPLAB_ERR_INTERNAL';
  if (ctx.output?.json) {
    io.stdout.write(JSON.stringify({ event: 'error', time: isoNow(), code, message }) + '\n');
  }
  if (usage) {
    io.stderr.write(`udplab: error: ${message} (see '${helpHint}')\n`);
    return ExitCode.USAGE;
  }
  if (err instanceof UdplabError) {
    io.stderr.write(`udplab: error: ${message}\n`);
    return ExitCode.FAILED;
  }
  io.stderr.write(`udplab: internal error: ${message} (please report it)\n`);
  return ExitCode.FAILED;
}
