/**
 * The events of one client request (client.ts; docs/events.md, "udplab client"). Types only:
 * nothing here is loaded at run time.
 */
import type { BaseEvent, Endpoint, ErrorEvent } from './events.js';
import type { ErrorCodes } from './errors.js';

/** `bound`: the address and port the OS gave the client's socket. */
export interface BoundEvent extends BaseEvent {
  event: 'bound';
  address: string;
  port: number;
}
/** `sent`: one transmission of the request. */
export interface SentEvent extends BaseEvent {
  event: 'sent';
  to: Endpoint;
  bytes: number;
  attempt: number;
  id?: string;
  /** Sealed mode: the transmission was sealed (each one afresh: new nonce, time and attempt number). */
  sealed?: true;
}
/** `received`: the accepted reply. `rttMs` is measured from the latest transmission. */
export interface ReceivedEvent extends BaseEvent {
  event: 'received';
  from: Endpoint;
  bytes: number;
  text: string;
  rttMs: number;
  attempt: number;
  /** False only in promiscuous mode, when someone other than the server answered. */
  fromServer: boolean;
  id?: string;
  /** Sealed mode: the reply authenticated; `bytes` and `text` are its opened body. */
  sealed?: true;
}
/**
 * Why a datagram was not taken as the reply. Sealed mode adds `not-sealed` (plain text: a server
 * without a key, or a spoofer) and `forged` (does not authenticate with the client's key, or is not a
 * reply); `wrong-id` is then an authentic reply to another request.
 */
export type IgnoreReason = 'stranger' | 'wrong-id' | 'duplicate' | 'forged' | 'not-sealed';
/** `ignored`: a datagram that is not the reply. */
export interface IgnoredEvent extends BaseEvent {
  event: 'ignored';
  from: Endpoint;
  bytes: number;
  text: string;
  reason: IgnoreReason;
}
/** `timeout`: a wait ran out; `nextWaitMs` is null when the client gives up next. */
export interface TimeoutEvent extends BaseEvent {
  event: 'timeout';
  attempt: number;
  waitedMs: number;
  nextWaitMs: number | null;
  /** Only when `nextWaitMs` is null: why the schedule ends (`attempts`: the cap; `max-delay`: the next wait would pass it). */
  lastBecause?: 'attempts' | 'max-delay';
}
/** `refused`: ICMP port unreachable — nothing listens at the server's port (Linux, connected socket). */
export interface RefusedEvent extends BaseEvent {
  event: 'refused';
  attempt: number;
  from: Endpoint;
}
/**
 * `gave-up`: the schedule ran out. In sealed mode it also carries the client's `keyId` and how many
 * datagrams came back `forged` or `notSealed`, the clues to a key mismatch. In plain mode with a
 * request ID (`--id`) it carries `wrongId`, how many datagrams came without that ID, split into
 * `noId` (from the server, no ID: more than 0 means the server does not echo IDs), `otherId` (from
 * the server, another request's ID) and `fromElsewhere` (another address or port: possibly spoofed).
 */
export interface GaveUpEvent extends BaseEvent {
  event: 'gave-up';
  /** The code the library's GaveUpError has: UDPLAB_ERR_REFUSED or UDPLAB_ERR_TIMEOUT. */
  code: typeof ErrorCodes.REFUSED | typeof ErrorCodes.TIMEOUT;
  reason: 'timeout' | 'refused';
  attempts: number;
  elapsedMs: number;
  /** Where the request went: the address and port a reply had to come from. */
  to: Endpoint;
  /**
   * The client's own address and port (as `bound`). When it differs from `to` on loopback
   * (127.0.0.1 sending to 127.0.0.2), a server bound to 0.0.0.0 answers from `local`'s address,
   * and the connected client never sees that reply (README, Task 1).
   */
  local: Endpoint;
  keyId?: string;
  forged?: number;
  notSealed?: number;
  /** Plain mode with an ID: datagrams ignored as `wrong-id` (= noId + otherId + fromElsewhere). */
  wrongId?: number;
  /** Plain mode with an ID: from the server's own address and port, with no ID at all. */
  noId?: number;
  /** Plain mode with an ID: from the server's own address and port, with another request's ID. */
  otherId?: number;
  /** Plain mode with an ID: from another address or port (`--promiscuous`), any ID but this one. */
  fromElsewhere?: number;
}
/** Every event of one request. */
export type ClientEvent =
  | BoundEvent
  | SentEvent
  | ReceivedEvent
  | IgnoredEvent
  | TimeoutEvent
  | RefusedEvent
  | GaveUpEvent
  | ErrorEvent;
