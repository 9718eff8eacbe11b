/** `udplab keygen [--out FILE] [--force]`: a new random 256-bit key for sealed mode. */
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import type { BaseEvent } from '../events.js';
import { isoNow } from '../events.js';
import { SealKey, writeKeyFile } from '../keys.js';
import { openOutput, withCommonOptions, withExamples, type CommandContext } from './context.js';
import type { Colors } from './output.js';
import { safeText } from './report.js';

/** `key`: a key was made; `path` when written to a file, `key` (the secret) only when printed. */
export interface KeyEvent extends BaseEvent {
  event: 'key';
  keyId: string;
  path?: string;
  key?: string;
}

/** Human lines for keygen's events. */
export function renderKeygen(event: BaseEvent, c: Colors): string | undefined {
  const e = event as KeyEvent;
  if (e.event !== 'key') return undefined;
  if (e.path === undefined) return e.key;
  return `Wrote a new 256-bit key to ${c.bold(safeText(e.path))} (mode 0600, key ID ${e.keyId}). Copy it to the other side over a safe channel.`;
}

/** Defines `udplab keygen`. */
export function defineKeygen(cmd: Command, ctx: CommandContext): void {
  withExamples(
    withCommonOptions(
      cmd
        .description(
          'make a new random 256-bit key for sealed datagrams (server and client --key-file).\n' +
            'The key is one line of base64. With --out it goes to a file only you can read (mode 0600),\n' +
            'never overwriting an existing one without --force, nor anything but a regular file\n' +
            '(a symbolic link, a FIFO, a device) even with it; without --out it is printed on stdout.',
        )
        .option('-o, --out <file>', 'write the key to FILE (mode 0600) instead of stdout')
        .option(
          '-f, --force',
          'replace FILE if it exists (the old key is lost); only a regular file is replaced',
        ),
    ),
    [
      'udplab keygen --out lab.key',
      'udplab server 127.0.0.1 1060 --key-file lab.key',
      'udplab client 127.0.0.1 1060 --key-file lab.key',
    ],
  ).action(async (opts: { out?: string; force?: boolean; json?: boolean }) => {
    if (opts.force && opts.out === undefined) throw new UsageError('--force needs --out FILE');
    const out = openOutput(ctx, opts.json ?? false, renderKeygen);
    const key = SealKey.generate();
    if (opts.out === undefined) {
      const e: KeyEvent = { event: 'key', time: isoNow(), keyId: key.id, key: key.toText().trim() };
      out.emit(e);
    } else {
      await writeKeyFile(opts.out, key, { force: opts.force ?? false });
      const e: KeyEvent = { event: 'key', time: isoNow(), keyId: key.id, path: opts.out };
      out.emit(e);
    }
    out.flush();
  });
}
