/**
 * The server's reply logic, free of sockets: it takes a batch of received datagrams and
 * produces a batch of replies and events. The dgram backend hands it batches of one; a
 * batched backend can hand it many (see ../shared/STYLE.md, "the server thinks in batches").
 */
import type { BaseEvent, Endpoint } from './events.js';
import type { Rng } from './rng.js';
import { defaultRng } from './rng.js';
import { escapePayload } from './wire/escape.js';
import { parseId, replyText, withId } from './wire/text.js';

/** A datagram as received: its bytes and who sent it. */
export interface Datagram {
  data: Uint8Array;
  from: Endpoint;
}

/** A reply to send. */
export interface Reply {
  data: Uint8Array;
  to: Endpoint;
}

/** `message`: a datagram arrived. `text` is the payload escaped for display (docs/events.md). */
export interface MessageEvent extends BaseEvent {
  event: 'message';
  from: Endpoint;
  bytes: number;
  text: string;
  id?: string;
}

/** `replied`: the reply to a datagram was handed to the socket. */
export interface RepliedEvent extends BaseEvent {
  event: 'replied';
  to: Endpoint;
  bytes: number;
}

/** `dropped`: the simulated lossy network (`--drop P`) ate a datagram before any reply. */
export interface DroppedEvent extends BaseEvent {
  event: 'dropped';
  from: Endpoint;
  bytes: number;
}

/** The per-datagram events of the reply logic. */
export type CoreEvent = MessageEvent | RepliedEvent | DroppedEvent;

/** Running totals, reported in the `summary` event. */
export interface ServerCounters {
  received: number;
  replied: number;
  dropped: number;
  /** Replies the socket could not send (error or full send queue). */
  sendFailed: number;
}

/** Options of the reply logic. */
export interface ServerCoreOptions {
  /** Probability in [0, 1] that a datagram is dropped before any reply (the lab's remote server: 0.5). Default 0. */
  dropProbability?: number;
  /** Random source for drops (seeded for `--seed`). Default Math.random. */
  rng?: Rng;
  /** Build per-datagram events (`message`, `replied`, `dropped`). Off for `--quiet`. Default true. */
  perDatagramEvents?: boolean;
}

/** The `message` event of a datagram (built without a spread: this runs for every datagram). */
function messageEvent(
  data: Uint8Array,
  from: Endpoint,
  id: string | undefined,
  time: string,
): MessageEvent {
  const e: MessageEvent = {
    event: 'message',
    time,
    from,
    bytes: data.length,
    text: escapePayload(data),
  };
  if (id !== undefined) e.id = id;
  return e;
}

/** How many distinct request lengths keep a ready-made reply (about 64 KiB of buffers at most). */
const REPLY_CACHE_SIZE = 1024;

/** The lab's reply logic: one reply per datagram, with the request ID echoed when present. */
export class ServerCore {
  readonly counters: ServerCounters = { received: 0, replied: 0, dropped: 0, sendFailed: 0 };
  readonly #drop: number;
  readonly #rng: Rng;
  readonly #events: boolean;

  /**
   * The reply without ID for each request length seen, so that a busy server does not format
   * and encode the same text for every datagram. Bounded: at most REPLY_CACHE_SIZE lengths
   * are kept (a datagram has at most 65,535 bytes, so the text is under 60 bytes each).
   * Replies are never written to after creation, so one buffer can be in many sends at once.
   */
  readonly #replies = new Map<number, Buffer>();

  constructor(options: ServerCoreOptions = {}) {
    const drop = options.dropProbability ?? 0;
    if (!(drop >= 0 && drop <= 1)) throw new RangeError('dropProbability must be in [0, 1]');
    this.#drop = drop;
    this.#rng = options.rng ?? defaultRng;
    this.#events = options.perDatagramEvents ?? true;
  }

  #plainReply(length: number): Buffer {
    let reply = this.#replies.get(length);
    if (reply === undefined) {
      reply = Buffer.from(replyText(length), 'latin1');
      if (this.#replies.size < REPLY_CACHE_SIZE) this.#replies.set(length, reply);
    }
    return reply;
  }

  /**
   * Handles a batch: appends the replies to `replies` and the events to `events`.
   * @param time - the ISO time stamped on this batch's events.
   */
  handleBatch(
    batch: readonly Datagram[],
    time: string,
    replies: Reply[],
    events: CoreEvent[],
  ): void {
    for (const { data, from } of batch) {
      this.counters.received++;
      const id = parseId(data);
      if (this.#drop > 0 && this.#rng() < this.#drop) {
        this.counters.dropped++;
        if (this.#events) {
          events.push(messageEvent(data, from, id, time));
          events.push({ event: 'dropped', time, from, bytes: data.length });
        }
        continue;
      }
      const reply =
        id === undefined
          ? this.#plainReply(data.length)
          : Buffer.from(withId(id, replyText(data.length)), 'latin1');
      replies.push({ data: reply, to: from });
      this.counters.replied++;
      if (this.#events) {
        events.push(messageEvent(data, from, id, time));
        events.push({ event: 'replied', time, to: from, bytes: reply.length });
      }
    }
  }
}
