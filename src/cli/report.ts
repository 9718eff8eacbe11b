/**
 * How the CLI turns a failure into an exit code, one line on stderr and, with --json, an `error`
 * event. Shared by the client's fast path (main.ts) and the commander path (program.ts).
 */
import { UdplabError, UsageError } from '../errors.js';
import { isoNow } from '../events.js';
import type { CommandContext } from './context.js';

/** Exit codes (docs/exit-codes.md). */
export const ExitCode = { OK: 0, FAILED: 1, USAGE: 2 } as const;

/** Commander's errors carry a `commander.*` code (checked so that commander loads lazily). */
function isCommanderError(err: unknown): err is Error & { exitCode: number } {
  const code = (err as { code?: unknown } | null)?.code;
  return err instanceof Error && typeof code === 'string' && code.startsWith('commander.');
}

/**
 * True when the arguments ask for `--json` (before a `--`): errors found before the command set
 * up its output (a bad port, a bad option) are then also printed as an `error` event.
 */
export function wantsJson(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).includes('--json');
}

/**
 * A message made safe for a terminal: control characters (C0, DEL, C1), line separators and format
 * characters and default-ignorable code points (bidi controls, zero-width characters…), which may come from the user's
 * own arguments, are shown as escapes instead of being written raw to stderr (as payloads are:
 * src/wire/escape.ts).
 */
export function safeText(text: string): string {
  return text.replace(
    // eslint-disable-next-line no-control-regex -- matching control characters is the point
    /[\x00-\x1f\x7f-\x9f\u2028\u2029\p{Cf}\p{Default_Ignorable_Code_Point}]/gu,
    (c) => {
      const cp = c.codePointAt(0) ?? 0;
      if (cp <= 0xff) return `\\x${cp.toString(16).padStart(2, '0')}`;
      return cp <= 0xffff ? `\\u${cp.toString(16).padStart(4, '0')}` : `\\u{${cp.toString(16)}}`;
    },
  );
}

/** The `error` event of the CLI's JSON output, as one line. */
export function errorLine(code: string, message: string): string {
  return JSON.stringify({ event: 'error', time: isoNow(), code, message }) + '\n';
}

/**
 * Reports an error thrown by a command and returns the exit code: 2 for usage errors (a
 * UsageError, RangeError or TypeError, or commander's own), 1 for a failed job, never a stack trace.
 * @param helpHint - the help command a usage error points to, e.g. `udplab client --help`.
 * @param json - whether `--json` was asked for, when the command's output is not set up yet.
 */
export function report(err: unknown, ctx: CommandContext, helpHint: string, json = false): number {
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
  if (ctx.output?.json ?? json) io.stdout.write(errorLine(code, message));
  const shown = safeText(message);
  if (usage) {
    io.stderr.write(`udplab: error: ${shown} (see '${helpHint}')\n`);
    return ExitCode.USAGE;
  }
  if (err instanceof UdplabError) {
    io.stderr.write(`udplab: error: ${shown}\n`);
    return ExitCode.FAILED;
  }
  io.stderr.write(`udplab: internal error: ${shown} (please report it)\n`);
  return ExitCode.FAILED;
}
