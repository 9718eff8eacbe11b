/**
 * The udplab command line: `main(argv, io)` returns the exit code (0 success, 1 the job failed,
 * 2 usage error). It never calls process.exit and never prints a stack trace.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { UdplabError, UsageError } from '../errors.js';
import { isoNow } from '../events.js';
import { defineClient } from './client.js';
import type { CommandContext } from './context.js';
import { defineDemo } from './demo.js';
import type { CliIo } from './io.js';
import { defineServer } from './server.js';
import { defineSpoof } from './spoof.js';

/** Exit codes (docs/exit-codes.md). */
export const ExitCode = { OK: 0, FAILED: 1, USAGE: 2 } as const;

function packageVersion(): string {
  try {
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
  const program = new Command('udplab');
  program
    .description(
      'udplab — the UDP socket-programming lab, made real: a reply server, a safe client with\n' +
        'retransmission, the spoofing demonstration and more. Start with: udplab demo',
    )
    .version(packageVersion(), '-V, --version')
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      outputError: (s, write) => write(`udplab: error: ${oneLine(s)} (see 'udplab --help')\n`),
    })
    .addHelpText(
      'after',
      '\nExit codes: 0 success, 1 the job failed (no reply, cannot bind), 2 usage error.\n' +
        'Every command takes --json for one JSON event a line. Docs: docs/events.md',
    );

  defineServer(program.command('server'), ctx);
  defineClient(program.command('client'), ctx);
  defineSpoof(program.command('spoof'), ctx);
  defineDemo(program.command('demo'), ctx);

  try {
    await program.parseAsync([...argv], { from: 'user' });
    ctx.output?.flush();
    return ctx.exitCode;
  } catch (err) {
    ctx.output?.flush();
    return report(err, ctx);
  }
}

function report(err: unknown, ctx: CommandContext): number {
  const { io } = ctx;
  if (err instanceof CommanderError) {
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
    io.stderr.write(`udplab: error: ${message} (see 'udplab --help')\n`);
    return ExitCode.USAGE;
  }
  if (err instanceof UdplabError) {
    io.stderr.write(`udplab: error: ${message}\n`);
    return ExitCode.FAILED;
  }
  io.stderr.write(`udplab: internal error: ${message} (please report it)\n`);
  return ExitCode.FAILED;
}
