/**
 * The proxy's upstream side: one socket per client, connected to the server, in a bounded,
 * idle-evicting table (session-table.ts). A connected socket means the kernel delivers only the
 * server's datagrams to it and reports ICMP port unreachable as ECONNREFUSED.
 */
import dgram from 'node:dgram';
import type { Family } from './address.js';
import { connectError, isErrno } from './errors.js';
import type { Endpoint, ErrorEvent, EventSink } from './events.js';
import { formatEndpoint, isoNow } from './events.js';
import type {
  ClientAddedEvent,
  ClientEvictedEvent,
  DatagramEvent,
  RefusedEvent,
  SendFailure,
} from './proxy-events.js';
import { SessionTable, type EvictReason } from './session-table.js';

/** One client's upstream socket. */
export interface Upstream {
  /** The client's address: where its replies go. */
  readonly client: Endpoint;
}

/** Called once for every datagram given to {@link UpstreamTable.send}: null when it was sent. */
export type SendDone = (failure: SendFailure | null) => void;

interface PendingSend {
  data: Uint8Array;
  done: SendDone;
}

interface Session extends Upstream {
  readonly key: string;
  readonly socket: dgram.Socket;
  ready: boolean;
  closed: boolean;
  /** Datagrams released before the socket finished connecting (a few ms). */
  pending: PendingSend[];
  /** Events of the client's datagrams that wait for its `client-added` (the socket connecting). */
  held: DatagramEvent[];
  /**
   * Set when the socket could not connect: the client's datagrams fail with it, without a new
   * socket or error event each, until `retryAt` (ms, the table's clock), when one is tried again.
   */
  failed?: SendFailure;
  retryAt?: number;
}

/** How long a client whose upstream socket could not connect waits before one is tried again. */
export const CONNECT_RETRY_MS = 1000;

const EVICTED: SendFailure = { reason: 'evicted' };
const SEND_QUEUE_FULL: SendFailure = { reason: 'send-queue-full' };
const CONNECT_QUEUE_FULL: SendFailure = { reason: 'connect-queue-full' };

function errno(err: Error): string {
  return (err as NodeJS.ErrnoException).code ?? 'ERR';
}

/** Events of the upstream side, and the datagram events it orders after `client-added`. */
export type UpstreamEvent =
  ClientAddedEvent | ClientEvictedEvent | RefusedEvent | ErrorEvent | DatagramEvent;

/** Options of an {@link UpstreamTable}. */
export interface UpstreamOptions {
  target: Endpoint;
  family: Family;
  maxClients: number;
  idleTimeoutMs: number;
  /** Datagrams kept over all clients while their sockets connect. */
  pendingLimit: number;
  /**
   * Datagram events held, over all clients, until their client's `client-added`; beyond, they
   * are emitted at once (before it).
   */
  heldEventLimit: number;
  /** Datagrams waiting in a socket's send queue beyond which sends are dropped. */
  sendQueueLimit: number;
  now: () => number;
  /** A reply from the server for this client. */
  onReply: (upstream: Upstream, data: Buffer) => void;
  onEvent: EventSink<UpstreamEvent>;
  /** Emit `client-added`, `client-evicted` and `refused`. Errors are always emitted. */
  clientEvents: boolean;
}

/** The upstream sockets, one per client. */
export class UpstreamTable {
  /** Totals: clients opened, evicted (idle / table full), port unreachable reports. */
  readonly counters = { total: 0, evictedIdle: 0, evictedFull: 0, refused: 0 };
  readonly #o: UpstreamOptions;
  readonly #table: SessionTable<Session>;
  #pending = 0;
  #held = 0;

  constructor(options: UpstreamOptions) {
    this.#o = options;
    this.#table = new SessionTable<Session>({
      maxEntries: options.maxClients,
      idleMs: options.idleTimeoutMs,
    });
  }

  /** Clients in the table now. */
  get size(): number {
    return this.#table.size;
  }

  /** The upstream of the client at `client` (marked active), opening one if it has none. */
  get(client: Endpoint, now: number): Upstream {
    const key = `${client.address}|${client.port}`;
    const s = this.#table.touch(key, now);
    if (s?.failed === undefined) return s ?? this.#open(key, { ...client }, now);
    if (now < (s.retryAt ?? 0)) return s;
    this.#table.delete(key); // time to try again: the route may be back
    return this.#open(key, { ...client }, now);
  }

  /**
   * Emits an event about a datagram of `upstream`'s client after that client's `client-added`:
   * at once when it is out (or never will be), else once the socket has connected, a few ms
   * later. The decisions about a datagram are taken when it arrives, before that.
   */
  emitFor(upstream: Upstream, event: DatagramEvent): void {
    const s = upstream as Session;
    if (s.ready || s.closed || !this.#o.clientEvents || this.#held >= this.#o.heldEventLimit) {
      this.#o.onEvent(event);
    } else {
      s.held.push(event);
      this.#held++;
    }
  }

  /**
   * Sends a datagram to the server through the client's upstream socket; `done` says, once,
   * whether it was sent (at once when it cannot be: evicted, a full queue).
   */
  send(upstream: Upstream, data: Uint8Array, done: SendDone): void {
    const s = upstream as Session;
    if (s.failed !== undefined) {
      done(s.failed); // its socket could not connect, a moment ago
    } else if (s.closed) {
      done(EVICTED); // evicted while the datagram was inside the proxy
    } else if (!s.ready) {
      if (this.#pending >= this.#o.pendingLimit) done(CONNECT_QUEUE_FULL);
      else {
        s.pending.push({ data, done });
        this.#pending++;
      }
    } else if (s.socket.getSendQueueCount() >= this.#o.sendQueueLimit) {
      done(SEND_QUEUE_FULL);
    } else {
      this.#send(s, data, done);
    }
  }

  /** Evicts the clients idle for `idleTimeoutMs` or more. */
  sweep(now: number): void {
    this.#table.sweep(now, this.#evict);
  }

  /** Closes every upstream socket (the proxy is closing). */
  closeAll(): void {
    for (const s of [...this.#table.values()]) this.#close(s);
  }

  #send(s: Session, data: Uint8Array, done: SendDone): void {
    // Always pass a callback: without it a send error (EMSGSIZE, ENOBUFS) is lost silently.
    s.socket.send(data, (err) => {
      if (err === null) {
        done(null);
        return;
      }
      // A port unreachable reported for an earlier datagram can surface on this send instead of
      // at the 'error' listener; this datagram is then not sent either.
      if (isErrno(err, 'ECONNREFUSED')) this.#refused(s);
      done({ reason: 'socket', code: errno(err) });
    });
  }

  #refused(s: Session): void {
    this.counters.refused++;
    if (this.#o.clientEvents) {
      this.#o.onEvent({ event: 'refused', time: isoNow(), client: s.client, to: this.#o.target });
    }
  }

  /** Emits the events held for the client's `client-added`, in order. */
  #release(s: Session): void {
    if (s.held.length === 0) return;
    this.#held -= s.held.length;
    for (const e of s.held.splice(0)) this.#o.onEvent(e);
  }

  readonly #evict = (s: Session, reason: EvictReason): void => {
    if (s.closed) return;
    const pending = this.#close(s);
    if (reason === 'idle') this.counters.evictedIdle++;
    else this.counters.evictedFull++;
    if (this.#o.clientEvents) {
      this.#o.onEvent({ event: 'client-evicted', time: isoNow(), client: s.client, reason });
    }
    for (const p of pending) p.done(EVICTED);
  };

  /** Closes a session's socket; returns the datagrams that were waiting for it to connect. */
  #close(s: Session): PendingSend[] {
    if (s.closed) return [];
    s.closed = true;
    this.#release(s); // a socket that never connected: no `client-added`, but keep its events
    this.#pending -= s.pending.length;
    const pending = s.pending.splice(0);
    s.socket.close();
    return pending;
  }

  #open(key: string, client: Endpoint, now: number): Session {
    const o = this.#o;
    const socket = dgram.createSocket(o.family);
    const s: Session = {
      key,
      client,
      socket,
      ready: false,
      closed: false,
      pending: [],
      held: [],
    };
    // Without an 'error' listener a dgram socket crashes the process on the first error.
    // Every send has its callback, so what reaches here is not a failed send but an error the
    // kernel reports for the path (ICMP), or a failed connect.
    socket.on('error', (err) => {
      if (isErrno(err, 'ECONNREFUSED')) this.#refused(s);
      else {
        o.onEvent({
          event: 'error',
          time: isoNow(),
          code: errno(err),
          message: `upstream socket of ${formatEndpoint(client)}: ${err.message}`,
        });
      }
    });
    socket.on('message', (data) => {
      this.#table.touch(key, o.now()); // a reply keeps the client alive too, as in a NAT
      o.onReply(s, data);
    });
    socket.connect(o.target.port, o.target.address, (err?: Error) => {
      if (s.closed) return;
      if (err) {
        // connect(2) failed locally (no route, a link-local target without a zone): report it,
        // fail this client's waiting datagrams and, for CONNECT_RETRY_MS, its next ones (no
        // socket and error event per datagram of a busy client); then try again (the route may
        // come back).
        o.onEvent({
          event: 'error',
          time: isoNow(),
          code: errno(err),
          // The renderer adds the code: keep it out of the message.
          message: `upstream socket of ${formatEndpoint(client)}: ${connectError(err, o.target.address, o.target.port).message.replace(` (${errno(err)})`, '')}; its datagrams fail for ${String(CONNECT_RETRY_MS / 1000)} s, then it is tried again`,
        });
        const failure: SendFailure = { reason: 'socket', code: errno(err) };
        s.failed = failure;
        s.retryAt = o.now() + CONNECT_RETRY_MS;
        for (const p of this.#close(s)) p.done(failure);
        return;
      }
      s.ready = true;
      const local = socket.address();
      if (o.clientEvents) {
        o.onEvent({
          event: 'client-added',
          time: isoNow(),
          client,
          upstream: { address: local.address, port: local.port },
        });
      }
      this.#release(s);
      this.#pending -= s.pending.length;
      for (const p of s.pending.splice(0)) this.#send(s, p.data, p.done);
    });
    this.counters.total++;
    this.#table.add(key, s, now, this.#evict);
    return s;
  }
}
