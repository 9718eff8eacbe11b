/**
 * Renders an event stream for people (one short line per event, colour only on a TTY and
 * never with NO_COLOR) or as NDJSON (`--json`), and writes it in batches: lines are buffered
 * and written once per event-loop turn (or when 64 KiB pile up), never one synchronous write
 * per datagram. `flush()` runs on exit too, so no line is lost when the process ends.
 */
import type { Colors as PicoColors } from 'picocolors/types.js';
import type { BaseEvent } from '../events.js';
import { formatEndpoint } from '../events.js';
import type { CliIo, TextSink } from './io.js';

/** The colour functions a renderer may use (identity functions when colour is off). */
export type Colors = PicoColors;

const keep = String;
/**
 * The colours when colour is off. picocolors itself is loaded only when colour is on (a TTY):
 * importing it costs a few milliseconds of every start (docs/performance.md).
 */
// prettier-ignore
const PLAIN: Colors = {
  isColorSupported: false,
  reset: keep, bold: keep, dim: keep, italic: keep, underline: keep, inverse: keep, hidden: keep,
  strikethrough: keep, black: keep, red: keep, green: keep, yellow: keep, blue: keep,
  magenta: keep, cyan: keep, white: keep, gray: keep, bgBlack: keep, bgRed: keep, bgGreen: keep,
  bgYellow: keep, bgBlue: keep, bgMagenta: keep, bgCyan: keep, bgWhite: keep, blackBright: keep,
  redBright: keep, greenBright: keep, yellowBright: keep, blueBright: keep, magentaBright: keep,
  cyanBright: keep, whiteBright: keep, bgBlackBright: keep, bgRedBright: keep, bgGreenBright: keep,
  bgYellowBright: keep, bgBlueBright: keep, bgMagentaBright: keep, bgCyanBright: keep,
  bgWhiteBright: keep,
};

let picocolors: { createColors(on: boolean): Colors } | undefined;

/**
 * Loads picocolors when `io` will show colour (main() calls it before running a command), so
 * that the runs that show none (pipes, files, --json, NO_COLOR) never import it.
 */
export async function loadColors(io: CliIo): Promise<void> {
  if (picocolors === undefined && useColor(io.stdout, io.env ?? {})) {
    picocolors = (await import('picocolors')).default;
  }
}

/** The colour functions, enabled or not. */
function colors(enabled: boolean): Colors {
  // picocolors is loaded by loadColors() whenever useColor() holds, which `enabled` implies.
  return enabled && picocolors !== undefined ? picocolors.createColors(true) : PLAIN;
}

/** Turns one event into human text (one or more lines, no trailing newline), or nothing. */
export type Renderer = (event: BaseEvent, c: Colors) => string | undefined;

const FLUSH_BYTES = 64 * 1024;

/** True when colour should be used on `stream`. */
export function useColor(stream: TextSink, env: Record<string, string | undefined>): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0') return true;
  return stream.isTTY === true;
}

/** The event stream of one command, rendered and batched. */
export class Output {
  readonly json: boolean;
  readonly colors: Colors;
  readonly #stream: TextSink;
  readonly #render: Renderer;
  /** Lines waiting for the next write, and their length in UTF-16 units with the newlines. */
  #lines: string[] = [];
  #pending = 0;
  #scheduled = false;

  constructor(io: CliIo, options: { json: boolean; render: Renderer }) {
    this.json = options.json;
    this.#stream = io.stdout;
    this.#render = options.render;
    this.colors = colors(!this.json && useColor(io.stdout, io.env ?? {}));
    io.atExit?.(() => {
      this.flush();
    });
  }

  /** Renders and queues one event. Must never throw: it runs inside socket callbacks. */
  emit = (event: BaseEvent): void => {
    let text: string | undefined;
    try {
      text = this.json ? JSON.stringify(event) : this.#render(event, this.colors);
    } catch (err) {
      text = this.json ? undefined : `(cannot render ${event.event}: ${String(err)})`;
    }
    if (text !== undefined) this.#write(text);
  };

  /** Queues a line of text as it is (human mode only; ignored with --json). */
  line = (text: string): void => {
    if (!this.json) this.#write(text);
  };

  /** Writes everything queued now. */
  flush(): void {
    if (this.#lines.length === 0) return;
    // One join per batch instead of a `+=` per line: fewer intermediate strings for the GC.
    this.#lines.push(''); // the last line's newline, without copying the joined text again
    const chunk = this.#lines.join('\n');
    this.#lines = [];
    this.#pending = 0;
    this.#stream.write(chunk);
  }

  #write(text: string): void {
    this.#lines.push(text);
    this.#pending += text.length + 1;
    if (this.#pending >= FLUSH_BYTES) this.flush();
    else if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => {
        this.#scheduled = false;
        this.flush();
      });
    }
  }
}

/** Renders an endpoint in an event: `127.0.0.1:5000`. */
export const ep = formatEndpoint;

/** Quotes a payload's display text. */
export function quote(text: string): string {
  // Most payloads have no quote: skip the replace (this runs for every datagram printed).
  return text.includes('"') ? `"${text.replaceAll('"', '\\"')}"` : `"${text}"`;
}

/** The most characters of a payload a human line shows (JSON events carry it whole). */
export const SHOWN_CHARS = 200;

/** The length of a `\u{…}` escape at `at`, or 2 when it is not closed (then `\u` is text). */
function braced(text: string, at: number): number {
  const close = text.indexOf('}', at + 3);
  return close < 0 ? 2 : close + 1 - at;
}

/**
 * A long payload's display text (wire/escape.ts) cut for a terminal line: at most its first
 * {@link SHOWN_CHARS} characters, then `…`. The cut never splits an escape (`\x0…` would misread
 * as a byte) or a surrogate pair; a cut escape is left out whole.
 */
export function clip(text: string): string {
  if (text.length <= SHOWN_CHARS) return text;
  let end = 0;
  for (;;) {
    const code = text.charCodeAt(end);
    const step =
      code === 0x5c // `\`: `\\`, `\n`, `\r`, `\t` take 2, `\xNN` 4, `\uNNNN` 6, `\u{NNNNN}` 9
        ? text[end + 1] === 'x'
          ? 4
          : text[end + 1] === 'u'
            ? text[end + 2] === '{'
              ? braced(text, end)
              : 6
            : 2
        : code >= 0xd800 && code <= 0xdbff
          ? 2
          : 1;
    if (end + step > SHOWN_CHARS) break;
    end += step;
  }
  return `${text.slice(0, end)}…`;
}

/**
 * A count and its noun, in the singular for 1: `1 request`, `2 requests`, `0 bytes`.
 * @param show - how the number is written (default as is; formatCount for `1,000 requests`).
 */
export function plural(
  n: number,
  one: string,
  many = `${one}s`,
  show: (n: number) => string = String,
): string {
  return `${show(n)} ${n === 1 ? one : many}`;
}

/** Formats milliseconds for people: `0.31 ms`, `120 ms`, `3.1 s`. */
export function formatMs(ms: number): string {
  if (ms < 10) return `${ms.toFixed(2)} ms`;
  if (ms < 1000) return `${ms.toFixed(0)} ms`;
  return `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`;
}

/** Renders the events every command shares (`error`). */
export function renderCommon(event: BaseEvent, c: Colors): string | undefined {
  if (event.event === 'error') {
    const e = event as BaseEvent & { code: string; message: string };
    return c.red(`error: ${e.message} (${e.code})`);
  }
  return undefined;
}
