/**
 * Shared plumbing of the CLI commands: the injected io, the exit code, and the output.
 */
import type { Command } from 'commander';
import type { CliIo } from './io.js';
import { Output, renderCommon, type Renderer } from './output.js';

/** What every command definition receives. */
export interface CommandContext {
  readonly io: CliIo;
  /** The exit code main() returns (0 unless a command sets it). */
  exitCode: number;
  /** The Output of the running command, once created (main() uses it to report errors as events). */
  output?: Output;
}

/** Creates the Output for a command, rendering `error` events for every command. */
export function openOutput(ctx: CommandContext, json: boolean, render: Renderer): Output {
  const output = new Output(ctx.io, {
    json,
    render: (e, c) => render(e, c) ?? renderCommon(e, c),
  });
  ctx.output = output;
  return output;
}

/** Adds the options every command has. */
export function withCommonOptions(cmd: Command): Command {
  return cmd.option('--json', 'print one JSON object a line (NDJSON) instead of text');
}

/** Adds an Examples section to a command's help. */
export function withExamples(cmd: Command, examples: string[]): Command {
  return cmd.addHelpText('after', `\nExamples:\n${examples.map((e) => `  ${e}`).join('\n')}\n`);
}
