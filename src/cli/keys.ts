/** Loading `--key-file` for the commands that take one (server, client, bench, demo). */
import { readKeyFile, type SealKey } from '../keys.js';
import type { CommandContext } from './context.js';
import { safeText } from './report.js';

/**
 * The command that makes `path` private, as one line to copy: the path as one shell word (quoted
 * when it holds more than [A-Za-z0-9_./+-]); none when the path has characters that must be shown
 * escaped (a copied escape would name another file).
 */
export function chmodHint(path: string): string {
  if (safeText(path) !== path) return 'make it readable by you only (chmod 600)';
  const word = /^[A-Za-z0-9_./+-]+$/.test(path) ? path : `'${path.replaceAll("'", `'\\''`)}'`;
  return `run: chmod 600 ${word}`;
}

/**
 * Reads the key file named by `--key-file`, warning on stderr when others may read it.
 * @throws UdplabError KEY (exit 1) when the file is missing, not a regular file, too big or not a key.
 */
export async function loadKeyOption(
  ctx: CommandContext,
  path: string | undefined,
): Promise<SealKey | undefined> {
  if (path === undefined) return undefined;
  const { key, tooOpen } = await readKeyFile(path);
  if (tooOpen) {
    ctx.io.stderr.write(
      `udplab: warning: key file ${safeText(path)} is readable by other users; ${chmodHint(path)}\n`,
    );
  }
  return key;
}
