/**
 * The event vocabulary of `udplab proxy` (docs/events.md, section "proxy"). Per-datagram
 * events carry the direction (`up` client → server, `down` server → client), the client the
 * datagram belongs to, and the datagram's sequence number in its direction.
 */
import type { BaseEvent, Endpoint, ErrorEvent } from './events.js';
import type { ImpairmentSpec, LossReason } from './impair.js';
import type { Delivery, LinkCounters, LinkEvent } from './impair/link.js';
import type { EvictReason } from './session-table.js';

/** `up`: client → server; `down`: server → client. */
export type Direction = 'up' | 'down';

/** What every per-datagram event carries. */
export interface ProxyDatagramEvent extends BaseEvent {
  direction: Direction;
  client: Endpoint;
  /** The datagram's number in its direction, from 1 (a duplicate has its original's). */
  seq: number;
  bytes: number;
}

/**
 * `forwarded`: a datagram (or a duplicate copy) left the proxy: its socket sent it. One that could
 * not be sent gets `send-failed` instead.
 */
export interface ForwardedEvent extends ProxyDatagramEvent {
  event: 'forwarded';
  /** Time it spent inside the proxy, ms (delay, jitter, rate, hold-back). */
  delayMs: number;
  /** True for the extra copy of a duplicated datagram. */
  copy: boolean;
}

/**
 * Why a released datagram could not be sent: `socket` (the socket refused it: `code` says why,
 * e.g. EMSGSIZE when it is too big for the other side's family), `evicted` (its client was
 * forgotten while it was inside), `send-queue-full` (`sendQueueLimit` datagrams already waited in
 * the socket's send queue), `connect-queue-full` (`pendingLimit` datagrams already waited for new
 * clients' upstream sockets to connect).
 */
export type SendFailReason = 'socket' | 'evicted' | 'send-queue-full' | 'connect-queue-full';

/**
 * `send-failed`: a datagram (or its duplicate, `copy`) left the link but not the proxy; it gets
 * this event instead of `forwarded`.
 */
export interface SendFailedEvent extends ProxyDatagramEvent {
  event: 'send-failed';
  /** Where it was going: the server (`up`) or the client (`down`). */
  to: Endpoint;
  reason: SendFailReason;
  /** The socket's error code when `reason` is `socket` (EMSGSIZE, ENOBUFS, ECONNREFUSED, …). */
  code?: string;
  /** Time it spent inside the proxy before the attempt, ms. */
  delayMs: number;
  copy: boolean;
}

/** `lost`: a datagram was dropped: `loss` (random), `burst` (Gilbert–Elliott), `blackout`, `queue-full`. */
export interface LostEvent extends ProxyDatagramEvent {
  event: 'lost';
  reason: LossReason;
}

/** `duplicated`: an extra copy of the datagram will be sent. */
export interface DuplicatedEvent extends ProxyDatagramEvent {
  event: 'duplicated';
}

/** `reordered`: the datagram is held back behind later ones. */
export interface ReorderedEvent extends ProxyDatagramEvent {
  event: 'reordered';
}

/** `corrupted`: one bit of the datagram (or of its duplicate, `copy`) was flipped. */
export interface CorruptedEvent extends ProxyDatagramEvent {
  event: 'corrupted';
  /** The flipped bit: byte `bit >> 3`, mask `0x80 >> (bit & 7)`. */
  bit: number;
  copy: boolean;
}

/** `client-added`: a new client got its own upstream socket. */
export interface ClientAddedEvent extends BaseEvent {
  event: 'client-added';
  client: Endpoint;
  /** The upstream socket's address: what the server sees as the source. */
  upstream: Endpoint;
}

/** `client-evicted`: a client's upstream socket was closed (`idle`, or `table-full` for the least recently active). */
export interface ClientEvictedEvent extends BaseEvent {
  event: 'client-evicted';
  client: Endpoint;
  reason: EvictReason;
}

/** `refused`: ICMP port unreachable from the server for a client's datagram (nothing listens there). */
export interface RefusedEvent extends BaseEvent {
  event: 'refused';
  client: Endpoint;
  to: Endpoint;
}

/** `listening`: the proxy is bound; where, where it relays to, and the impairments of each direction. */
export interface ProxyListeningEvent extends BaseEvent {
  event: 'listening';
  address: string;
  port: number;
  family: 'IPv4' | 'IPv6';
  to: Endpoint;
  up: ImpairmentSpec;
  down: ImpairmentSpec;
  maxClients: number;
  idleTimeoutMs: number;
}

/**
 * Totals of one direction: the link's counters (impair/link.ts), with the mean delay in place of
 * the running sum, and the sends that failed.
 */
export interface DirectionStats extends Omit<LinkCounters, 'delayTotalMs'> {
  /** Mean time inside the proxy of the forwarded datagrams, ms; null before the first. */
  delayMeanMs: number | null;
  /** Datagrams that left the link but could not be sent (each had a `send-failed` event). */
  sendFailed: number;
}

/** Totals of the client table. */
export interface ClientStats {
  active: number;
  total: number;
  evictedIdle: number;
  evictedFull: number;
  refused: number;
}

/** The report of `stats` and `summary`. */
export interface ProxyReport {
  /** Since the proxy started, ms. */
  elapsedMs: number;
  up: DirectionStats;
  down: DirectionStats;
  clients: ClientStats;
}

/** `stats`: the totals so far (every `statsIntervalMs`). */
export interface ProxyStatsEvent extends BaseEvent, ProxyReport {
  event: 'stats';
}

/** `summary`: the proxy stopped; its totals. */
export interface ProxySummaryEvent extends BaseEvent, ProxyReport {
  event: 'summary';
}

/** The events about one datagram. */
export type DatagramEvent =
  ForwardedEvent | SendFailedEvent | LostEvent | DuplicatedEvent | ReorderedEvent | CorruptedEvent;

/** Every event of the proxy. */
export type ProxyEvent =
  | ProxyListeningEvent
  | ForwardedEvent
  | SendFailedEvent
  | LostEvent
  | DuplicatedEvent
  | ReorderedEvent
  | CorruptedEvent
  | ClientAddedEvent
  | ClientEvictedEvent
  | RefusedEvent
  | ProxyStatsEvent
  | ProxySummaryEvent
  | ErrorEvent;

/** The event of a link decision, for a datagram of `client`. */
export function decisionEvent(
  direction: Direction,
  client: Endpoint,
  e: LinkEvent<unknown>,
  time: string,
): LostEvent | DuplicatedEvent | ReorderedEvent | CorruptedEvent {
  const common = { time, direction, client, seq: e.seq, bytes: e.bytes };
  switch (e.kind) {
    case 'lost':
      return { event: 'lost', ...common, reason: e.reason };
    case 'duplicated':
      return { event: 'duplicated', ...common };
    case 'reordered':
      return { event: 'reordered', ...common };
    case 'corrupted':
      return { event: 'corrupted', ...common, bit: e.bit, copy: e.copy };
  }
}

/** The `forwarded` event of a datagram that left the link. */
export function forwardedEvent(
  direction: Direction,
  client: Endpoint,
  d: Delivery<unknown>,
  time: string,
): ForwardedEvent {
  return {
    event: 'forwarded',
    time,
    direction,
    client,
    seq: d.seq,
    bytes: d.data.length,
    delayMs: d.delayMs,
    copy: d.copy,
  };
}

/** The `send-failed` event of a datagram that left the link but could not be sent. */
export function sendFailedEvent(
  direction: Direction,
  d: Delivery<{ readonly client: Endpoint }>,
  to: Endpoint,
  failure: SendFailure,
  time: string,
): SendFailedEvent {
  return {
    event: 'send-failed',
    time,
    direction,
    client: d.route.client,
    seq: d.seq,
    bytes: d.data.length,
    to,
    reason: failure.reason,
    ...(failure.code === undefined ? {} : { code: failure.code }),
    delayMs: d.delayMs,
    copy: d.copy,
  };
}

/** Why one send failed. */
export interface SendFailure {
  reason: SendFailReason;
  code?: string;
}

/** The datagrams of a direction that left its link but not the proxy. */
export interface SendFailures {
  count: number;
  /** Their time inside, ms: taken out of the mean delay of the forwarded ones. */
  delayTotalMs: number;
}

/**
 * The report of one direction from its link's counters. The link counts a datagram as forwarded
 * when it leaves the link; the ones the socket then could not send are taken out again.
 */
export function directionStats(
  c: Readonly<LinkCounters>,
  failed: Readonly<SendFailures>,
): DirectionStats {
  const forwarded = c.forwarded - failed.count;
  return {
    received: c.received,
    forwarded,
    lost: c.lost,
    lostRandom: c.lostRandom,
    lostBlackout: c.lostBlackout,
    queueDrops: c.queueDrops,
    duplicated: c.duplicated,
    reordered: c.reordered,
    corrupted: c.corrupted,
    outOfOrder: c.outOfOrder,
    delayMeanMs: forwarded > 0 ? (c.delayTotalMs - failed.delayTotalMs) / forwarded : null,
    queued: c.queued,
    queuePeak: c.queuePeak,
    sendFailed: failed.count,
  };
}
