/**
 * The udplab command line: `main(argv, io)` returns the exit code (0 success, 1 the job failed,
 * 2 usage error). It never calls process.exit and never prints a stack trace.
 *
 * Two halves, for start-up time (docs/performance.md): a plain `udplab client HOST PORT` is
 * parsed and run from here without commander (client-fast.ts); everything else goes to
 * program.ts, imported only then. The build bundles bin.ts, this file and the modules they import
 * statically into one file, build/src/bin.js; program.ts and everything it loads stay tsc's
 * unbundled files (scripts/bundle-bin.mjs). Nothing passes between the two halves but `io` and
 * the exit code: keep it so (no module state, no error class crosses), since each half has its
 * own copy of the modules both use.
 */
import { runClientFast } from './client-fast.js';
import type { CommandContext } from './context.js';
import type { CliIo } from './io.js';
import { ExitCode, report, wantsJson } from './report.js';

export { ExitCode } from './report.js';

/**
 * Runs the CLI.
 * @param argv - the arguments after the program name.
 * @returns the exit code.
 */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  // Fast path: a plain `udplab client HOST PORT` runs without loading commander (its import
  // is half of the start-up cost; docs/performance.md). Anything else falls through.
  if (argv[0] === 'client') {
    const ctx: CommandContext = { io, exitCode: ExitCode.OK };
    try {
      if (await runClientFast(argv.slice(1), ctx)) {
        ctx.output?.flush();
        return ctx.exitCode;
      }
    } catch (err) {
      ctx.output?.flush();
      return report(err, ctx, 'udplab client --help', wantsJson(argv));
    }
  }
  return (await import('./program.js')).runProgram(argv, io);
}
