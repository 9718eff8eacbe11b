/**
 * The event vocabulary. Every command produces a stream of typed events; the human
 * text and the `--json` lines are two renderers of the same stream (docs/events.md).
 * Each module declares its own events as interfaces extending {@link BaseEvent}.
 */

/** An IP address and port, as in every event: `{ "address": "127.0.0.1", "port": 5000 }`. */
export interface Endpoint {
  address: string;
  port: number;
}

/** What every event carries: its name and an ISO 8601 time. */
export interface BaseEvent {
  event: string;
  time: string;
}

/** An `error` event: a stable code and a one-line message. */
export interface ErrorEvent extends BaseEvent {
  event: 'error';
  code: string;
  message: string;
}

/** A callback that receives events. It must not throw. */
export type EventSink<E extends BaseEvent = BaseEvent> = (event: E) => void;

let lastMs = Number.NaN;
let lastIso = '';

/**
 * The current time as the ISO string events carry. The string has millisecond resolution, so
 * it is formatted once per millisecond and reused: a busy server stamps many events a
 * millisecond, and formatting a Date was 7 % of its CPU profile (docs/performance.md).
 */
export function isoNow(): string {
  const ms = Date.now();
  if (ms !== lastMs) {
    lastMs = ms;
    lastIso = new Date(ms).toISOString();
  }
  return lastIso;
}

/** Formats an endpoint for people: `127.0.0.1:5000`, `[::1]:5000`. */
export function formatEndpoint(e: Endpoint): string {
  return e.address.includes(':') ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`;
}

/** A sink that drops everything (the default when a caller does not listen). */
export const ignoreEvents: EventSink = () => undefined;
