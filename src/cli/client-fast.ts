/**
 * The fast path of `udplab client`: a plain request (`HOST PORT` with `--json`, `-m TEXT`,
 * `--id`, `--promiscuous`) is parsed here and run without loading commander, whose import is
 * about half of udplab's start-up cost (docs/performance.md).
 *
 * It only takes argument lists whose meaning is beyond doubt; anything else (help, another
 * option, a number to parse, a value that starts with `-`, `--id` followed by a word, a wrong
 * count of arguments) returns false and main() hands the whole list to commander, so both
 * paths behave the same by construction: same action, same output, same errors. A few lines
 * of scanning rather than node:util's parseArgs, whose import (and util's facade) cost ~0.8 ms.
 */
import { runClient, type ClientOpts } from './client-action.js';
import type { CommandContext } from './context.js';
import { loadColors } from './output.js';

/**
 * Parses `udplab client …` (`args` without the word `client`) when the fast path can take it.
 * @returns the host, the port text and the options, or undefined for commander to handle.
 */
export function parseClientFast(
  args: readonly string[],
): { host: string; port: string; opts: ClientOpts } | undefined {
  const positionals: string[] = [];
  const opts: ClientOpts = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? '';
    const next = args[i + 1];
    if (a === '--json') opts.json = true;
    else if (a === '--promiscuous') opts.promiscuous = true;
    else if (a === '--id') {
      // Commander's `--id [id]` takes a following word as the ID: leave those cases to it.
      if (next !== undefined && !next.startsWith('-')) return undefined;
      opts.id = true;
    } else if (/^--id=[0-9]{1,20}$/.test(a)) opts.id = a.slice(5);
    else if (a === '-m' || a === '--message') {
      if (next === undefined || next.startsWith('-')) return undefined;
      opts.message = next;
      i++;
    } else if (a.startsWith('--message=')) opts.message = a.slice(10);
    else if (a.startsWith('-'))
      return undefined; // help, `--`, any other option or form
    else positionals.push(a);
  }
  const [host, port] = positionals;
  if (positionals.length !== 2 || host === undefined || port === undefined) return undefined;
  return { host, port, opts };
}

/**
 * Runs `udplab client …` (`args` without the word `client`) when the fast path can take it.
 * @returns true when it ran (ctx.exitCode is set), false when commander must handle it.
 */
export async function runClientFast(
  args: readonly string[],
  ctx: CommandContext,
): Promise<boolean> {
  const parsed = parseClientFast(args);
  if (parsed === undefined) return false;
  await loadColors(ctx.io);
  await runClient(parsed.host, parsed.port, parsed.opts, ctx);
  return true;
}
