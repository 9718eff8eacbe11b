/**
 * The fast path of `udplab client`: a plain request (`HOST PORT` with `--json`, `-m TEXT`,
 * `--id`, `--promiscuous`) is parsed with node:util's parseArgs and run without loading
 * commander, whose import is about half of udplab's start-up cost (docs/performance.md).
 *
 * It only takes argument lists whose meaning is beyond doubt; anything else (help, another
 * option, a number to parse, a value that starts with `-`, `--id` followed by a word, a wrong
 * count of arguments) returns false and main() hands the whole list to commander, so both
 * paths behave the same by construction: same action, same output, same errors.
 */
import { parseArgs } from 'node:util';
import { runClient, type ClientOpts } from './client-action.js';
import type { CommandContext } from './context.js';

/** `--id` with no value is rewritten to this, which no user can type as an ID. */
const BARE_ID = '--id=\u0000';

/**
 * Runs `udplab client …` (`args` without the word `client`) when the fast path can take it.
 * @returns true when it ran (ctx.exitCode is set), false when commander must handle it.
 */
export async function runClientFast(
  args: readonly string[],
  ctx: CommandContext,
): Promise<boolean> {
  const rewritten: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? '';
    const next = args[i + 1];
    if (a === '--id') {
      // Commander's `--id [id]` takes a following word as the ID: leave those cases to it.
      if (next !== undefined && !next.startsWith('-')) return false;
      rewritten.push(BARE_ID);
    } else if (a.startsWith('--id=') && a.length === 5) return false;
    else rewritten.push(a);
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: rewritten,
      strict: true,
      allowPositionals: true,
      tokens: true,
      options: {
        json: { type: 'boolean' },
        promiscuous: { type: 'boolean' },
        message: { type: 'string', short: 'm' },
        id: { type: 'string' },
      },
    });
  } catch {
    return false;
  }
  const { values, positionals, tokens } = parsed;
  if (positionals.length !== 2) return false;
  for (const t of tokens) {
    if (t.kind === 'option-terminator') return false;
    if (t.kind === 'option' && t.inlineValue === false && t.value?.startsWith('-')) return false;
  }
  const [host = '', port = ''] = positionals;
  const opts: ClientOpts = {
    ...(values.json ? { json: true } : {}),
    ...(values.promiscuous ? { promiscuous: true } : {}),
    ...(values.message === undefined ? {} : { message: values.message }),
    ...(values.id === undefined ? {} : { id: values.id === '\u0000' ? true : values.id }),
  };
  await runClient(host, port, opts, ctx);
  return true;
}
