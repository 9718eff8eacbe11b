/**
 * What `udplab bench` puts in its requests and how it reads the replies. A codec is the only
 * part of the load generator that knows the wire format, so a new mode (sealed datagrams) is one
 * more codec passed as `BenchOptions.codec`, with no change to the send/receive loop.
 */
import type { SealedLoadParams } from './backend/types.js';
import { parseId, replyText, withId } from './wire/text.js';

/**
 * How a reply was read: the sequence number of the request it validly answers; `'any'` for a
 * valid reply when the format cannot tell which request (plain mode: the oldest one in flight
 * is taken); `{ bad: seq }` for an invalid answer to request `seq`; `'bad'` for an invalid reply
 * that names no request (the oldest in flight is charged with it, so that every request ends
 * as exactly one of answered, bad or lost).
 */
export type ReplyMatch = number | 'any' | 'bad' | { bad: number };

/** The wire format of one bench mode. */
export interface BenchCodec {
  /**
   * The same requests and checks, as the native socket can do them itself (sealed mode, in C):
   * `udplab bench` hands them over when the socket takes them, and then calls neither
   * {@link request} nor {@link match} on the hot path.
   */
  readonly native?: SealedLoadParams;
  /** The mode's name, reported in the `started` and `summary` events (`plain`, `id`, `sealed`). */
  readonly mode: string;
  /** The bytes of request number `seq` (1, 2, 3, …). Must not reuse a buffer still being sent. */
  request(seq: number): Uint8Array;
  /** Reads a reply. Must never throw. */
  match(reply: Uint8Array): ReplyMatch;
}

/** The `; ` after an ID. */
const ID_OVERHEAD = 2;

function sameBytes(a: Uint8Array, b: Uint8Array, offset: number): boolean {
  if (a.length - offset !== b.length) return false;
  for (let i = 0; i < b.length; i++) if (a[offset + i] !== b[i]) return false;
  return true;
}

/** True when bytes `from` … end of `a` are all `x` (the padding of every request). */
function allX(a: Uint8Array, from: number): boolean {
  for (let i = from; i < a.length; i++) if (a[i] !== 0x78) return false;
  return true;
}

/**
 * The lab's plain protocol: `size` bytes of `x` (as the C generator udpload sends), answered by
 * `I received from you a message of <size> bytes`, or by the request itself (an echo service).
 * Replies carry no identity.
 * @param size - request size in bytes, 0 to 65507.
 * @throws RangeError when size is out of range.
 */
export function plainCodec(size: number): BenchCodec {
  checkSize(size, 0);
  const request = Buffer.alloc(size, 'x');
  const expected = Buffer.from(replyText(size), 'latin1');
  return {
    mode: 'plain',
    request: () => request, // never written to, so one buffer serves every send
    match: (reply) =>
      sameBytes(reply, expected, 0) || sameBytes(reply, request, 0) ? 'any' : 'bad',
  };
}

/**
 * The lab's request-ID form: request `seq` is `<seq>; xxx…` padded to `size` bytes, and its
 * reply must be `<seq>; I received from you a message of <size> bytes` or the request itself
 * (an echo service), so every reply is matched to its own request (exact latency, exact late
 * count).
 * @param size - request size in bytes, 12 to 65507 (room for a 10-digit ID and `; `).
 * @throws RangeError when size is out of range.
 */
export function idCodec(size: number): BenchCodec {
  checkSize(size, 10 + ID_OVERHEAD, ' with --id (room for a 10-digit ID and "; ")');
  const expected = Buffer.from(replyText(size), 'latin1');
  return {
    mode: 'id',
    request: (seq) => {
      const head = withId(String(seq), '');
      const buf = Buffer.alloc(Math.max(size, head.length), 'x');
      buf.write(head, 0, 'latin1');
      return buf;
    },
    match: (reply) => {
      const id = parseId(reply);
      if (id === undefined || id.length > 15) return 'bad';
      const seq = Number(id);
      const head = id.length + ID_OVERHEAD;
      if (sameBytes(reply, expected, head)) return seq;
      // An echo: the request's own bytes, `<seq>; ` then `x` up to the request's size.
      const echo = reply.length === Math.max(size, head) && allX(reply, head);
      return echo ? seq : { bad: seq };
    },
  };
}

function checkSize(size: number, min: number, why = ''): void {
  if (!Number.isInteger(size) || size < min || size > 65507) {
    throw new RangeError(
      `size (--size) must be an integer from ${String(min)} to 65507 bytes${why}`,
    );
  }
}
