/**
 * What the CLI needs from the outside world, injected so that tests can call `main()` with
 * captured streams (citty's pattern). Only bin.ts passes the real process.
 */

/** A writable text stream (process.stdout, or a test's capture). */
export interface TextSink {
  write(chunk: string): unknown;
  isTTY?: boolean;
}

/** The CLI's environment. */
export interface CliIo {
  stdout: TextSink;
  stderr: TextSink;
  /** Aborted on SIGINT / SIGTERM. */
  signal?: AbortSignal;
  /** Environment variables (NO_COLOR, FORCE_COLOR). Default: none. */
  env?: Record<string, string | undefined>;
  /** Registers a function to run synchronously when the process exits (flushes output on a crash). */
  atExit?: (fn: () => void) => void;
}
