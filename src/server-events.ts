/**
 * What the server's reply logic (server-core.ts) takes and gives: datagrams in, replies out, the
 * per-datagram events (docs/events.md, "udplab server") and the running counters of the summary.
 */
import type { BaseEvent, Endpoint } from './events.js';

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
  /** Bytes of the message: the whole datagram in plain mode, the opened body in sealed mode. */
  bytes: number;
  text: string;
  id?: string;
  /** Sealed mode: the request authenticated; `attempt` is the client's transmission number. */
  sealed?: true;
  attempt?: number;
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

/**
 * Why a sealed server refused a datagram (docs/sealed.md): not sealed at all, a header it cannot
 * use, a tag that does not verify, an authentic reply sent back to it, a time outside the window,
 * an ID already answered, or a full replay cache (failing closed).
 */
export type RejectReason =
  'not-sealed' | 'malformed' | 'bad-auth' | 'wrong-type' | 'stale' | 'replay' | 'cache-full';

/** Every reject reason, in a fixed order (counters, docs, tests). */
export const REJECT_REASONS: readonly RejectReason[] = [
  'not-sealed',
  'malformed',
  'bad-auth',
  'wrong-type',
  'stale',
  'replay',
  'cache-full',
];

/** `rejected`: a sealed server answered nothing to this datagram. */
export interface RejectedEvent extends BaseEvent {
  event: 'rejected';
  from: Endpoint;
  bytes: number;
  reason: RejectReason;
}

/** `retransmission`: an authenticated retransmission of a request already answered; the cached reply goes again. */
export interface RetransmissionEvent extends BaseEvent {
  event: 'retransmission';
  from: Endpoint;
  id: string;
  attempt: number;
}

/** `rate-limited`: the source's token bucket was empty; no reply. */
export interface RateLimitedEvent extends BaseEvent {
  event: 'rate-limited';
  from: Endpoint;
  bytes: number;
}

/** The per-datagram events of the reply logic. */
export type CoreEvent =
  | MessageEvent
  | RepliedEvent
  | DroppedEvent
  | RejectedEvent
  | RetransmissionEvent
  | RateLimitedEvent;

/** Running totals, reported in the `summary` event. */
export interface ServerCounters {
  received: number;
  replied: number;
  dropped: number;
  /** Replies the socket could not send (error or full send queue). */
  sendFailed: number;
  /** Sealed mode: datagrams answered with nothing (the sum of `rejectedBy`). */
  rejected: number;
  /** Sealed mode: rejections by reason. */
  rejectedBy: Record<RejectReason, number>;
  /** Sealed mode: retransmissions answered with the cached reply. */
  retransmissions: number;
  /** `--rate-limit`: replies not sent because the source's bucket was empty. */
  rateLimited: number;
}
