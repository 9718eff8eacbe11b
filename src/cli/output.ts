/**
 * Renders an event stream for people (one short line per event, colour only on a TTY and
 * never with NO_COLOR) or as NDJSON (`--json`), and writes it in batches: lines are buffered
 * and written once per event-loop turn (or when 64 KiB pile up), never one synchronous write
 * per datagram. `flush()` runs on exit too, so no line is lost when the process ends.
 */
import pc from 'picocolors';
import type { BaseEvent } from '../events.js';
import { formatEndpoint } from '../events.js';
import type { CliIo, TextSink } from './io.js';

/** The colour functions a renderer may use (identity functions when colour is off). */
export type Colors = ReturnType<typeof pc.createColors>;

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
  #buffer = '';
  #scheduled = false;

  constructor(io: CliIo, options: { json: boolean; render: Renderer }) {
    this.json = options.json;
    this.#stream = io.stdout;
    this.#render = options.render;
    this.colors = pc.createColors(!this.json && useColor(io.stdout, io.env ?? {}));
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
    if (this.#buffer.length === 0) return;
    const chunk = this.#buffer;
    this.#buffer = '';
    this.#stream.write(chunk);
  }

  #write(text: string): void {
    this.#buffer += text + '\n';
    if (this.#buffer.length >= FLUSH_BYTES) this.flush();
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
  return `"${text.replaceAll('"', '\\"')}"`;
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
