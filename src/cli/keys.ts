/** Loading `--key-file` for the commands that take one (server, client, bench, demo). */
import { readKeyFile, type SealKey } from '../keys.js';
import type { CommandContext } from './context.js';
import { safeText } from './report.js';

/** `path` as one shell word, shown safely: quoted when it holds more than [A-Za-z0-9_./+-]. */
export function shellWord(path: string): string {
  const word = /^[A-Za-z0-9_./+-]+$/.test(path) ? path : `'${path.replaceAll("'", `'\\''`)}'`;
  return safeText(word);
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
      `udplab: warning: key file ${safeText(path)} is readable by other users; run: chmod 600 ${shellWord(path)}\n`,
    );
  }
  return key;
}
