/**
 * Which datagram is the client's reply (client.ts): a datagram is matched to the request by its
 * source address and port and its request ID (plain), or by its seal and ID (sealed). When no
 * reply comes, the datagrams that did not match say why: {@link GaveUpError}'s clues.
 */
import { sameEndpoint } from './address.js';
import type { IgnoreReason } from './client-events.js';
import type { PreparedRequest } from './client-prepare.js';
import { ErrorCodes, UdplabError } from './errors.js';
import type { Endpoint } from './events.js';
import { escapePayload } from './wire/escape.js';
import { parseId, stripId } from './wire/text.js';

/** Details carried by the TIMEOUT error. */
export interface GaveUpDetails {
  attempts: number;
  elapsedMs: number;
  reason: 'timeout' | 'refused';
  /**
   * Sealed mode: the client's key ID. A sealed server stays silent to another key, and to any new
   * request while its replay cache is full (docs/sealed.md): both are possible causes.
   */
  keyId?: string;
  /**
   * Plain mode with a request ID: how many datagrams were ignored because they did not carry it
   * (reason `wrong-id`), the sum of the three counts below.
   */
  wrongId?: number;
  /**
   * Of those, from the server's own address and port with no ID at all. More than 0 means the server
   * answered but does not echo IDs (the lab's Python server does not).
   */
  noId?: number;
  /** Of those, from the server's own address and port with another request's ID. */
  otherId?: number;
  /** Of those, from any other address or port (`promiscuous` only): possibly spoofed. */
  fromElsewhere?: number;
}

/** The error {@link request} rejects with when the schedule runs out (code TIMEOUT or REFUSED). */
export class GaveUpError extends UdplabError {
  readonly details: GaveUpDetails;
  constructor(details: GaveUpDetails) {
    super(
      details.reason === 'refused' ? ErrorCodes.REFUSED : ErrorCodes.TIMEOUT,
      `Cannot receive data from server (${String(details.attempts)} attempt${details.attempts === 1 ? '' : 's'} over ${(details.elapsedMs / 1000).toFixed(1)} s)` +
        (details.keyId === undefined
          ? ''
          : `; sealed with key ID ${details.keyId}: a sealed server stays silent to another key, and to every new request while its replay cache is full (until entries expire, within twice its time window), so a key mismatch and a full replay cache are both possible causes`) +
        (details.noId
          ? `; the server answered ${details.noId === 1 ? 'once' : `${String(details.noId)} times`} without the request's ID: it does not echo request IDs`
          : '') +
        (details.otherId
          ? `; the server answered ${details.otherId === 1 ? 'once' : `${String(details.otherId)} times`} with another request's ID`
          : '') +
        (details.fromElsewhere
          ? `; ${String(details.fromElsewhere)} datagram${details.fromElsewhere === 1 ? '' : 's'} from another address or port did not carry the request's ID (possibly spoofed)`
          : ''),
    );
    this.name = 'GaveUpError';
    this.details = details;
  }
}

/** Plain mode: which of GaveUpDetails' counts a `wrong-id` datagram adds to. */
export type WrongIdKind = 'noId' | 'otherId' | 'fromElsewhere';

/** What {@link matchReply} makes of one datagram. */
export interface ReplyMatch {
  /** The reply's body: the datagram itself, or in sealed mode its opened body. */
  reply: Buffer;
  /**
   * Escaped for display: without the ID token when the request had one and it matched; whole when
   * the ID was wrong, and when the request had no ID.
   */
  text: string;
  /** Why it is not the reply, as far as its content tells (not `stranger` or `duplicate`). */
  verdict: IgnoreReason | undefined;
  /** Plain mode, verdict `wrong-id`: which count it adds to. */
  wrongKind: WrongIdKind;
}

/**
 * Checks a datagram from `from` against the request's ID (plain mode) or key and ID (sealed mode).
 * Whether it came from the server, and whether a reply came already, is the caller's to judge.
 */
export function matchReply(prepared: PreparedRequest, data: Buffer, from: Endpoint): ReplyMatch {
  const { key, wire, id, sealed, to } = prepared;
  let reply: Buffer = data;
  let text: string;
  let verdict: IgnoreReason | undefined;
  // Plain mode: which count a `wrong-id` datagram adds to (only the server's own address and
  // port without any ID means "it does not echo IDs"; test/client-id.test.ts).
  let wrongKind: WrongIdKind = 'noId';
  if (key === undefined || wire === undefined) {
    const rid = parseId(data);
    if (id !== undefined && rid !== id) {
      verdict = 'wrong-id';
      wrongKind = !sameEndpoint(from, to)
        ? 'fromElsewhere'
        : rid === undefined
          ? 'noId'
          : 'otherId';
    }
    // The ID this client sent is taken off the reply it matched; anything else is shown whole:
    // a datagram with the wrong ID (its ID is what was wrong), and every reply to a request sent
    // without an ID (its leading `N; ` is then the server's text, as the lab's client prints it).
    text = escapePayload(verdict === undefined && id !== undefined ? stripId(data, rid) : data);
  } else {
    // Sealed: nothing is believed before the tag verifies; forged datagrams are shown escaped.
    const opened = wire.openDatagram(key, data);
    if (!opened.ok) {
      verdict = opened.reason === 'not-sealed' ? 'not-sealed' : 'forged';
      text = escapePayload(data);
    } else {
      const m = opened.message;
      reply = Buffer.from(m.body.buffer, m.body.byteOffset, m.body.length);
      text = escapePayload(reply);
      if (m.type !== wire.SealedType.REPLY) verdict = 'forged';
      else if (m.id !== sealed) verdict = 'wrong-id';
    }
  }
  return { reply, text, verdict, wrongKind };
}
