/**
 * The proxy's upstream side: one socket per client, connected to the server, in a bounded,
 * idle-evicting table (session-table.ts). A connected socket means the kernel delivers only the
 * server's datagrams to it and reports ICMP port unreachable as ECONNREFUSED.
 */
import dgram from 'node:dgram';
import type { Family } from './address.js';
import { isErrno } from './errors.js';
import type { Endpoint, ErrorEvent, EventSink } from './events.js';
import { isoNow } from './events.js';
import type { ClientAddedEvent, ClientEvictedEvent, RefusedEvent } from './proxy-events.js';
import { SessionTable, type EvictReason } from './session-table.js';

/** One client's upstream socket. */
export interface Upstream {
  /** The client's address: where its replies go. */
  readonly client: Endpoint;
}

interface Session extends Upstream {
  readonly key: string;
  readonly socket: dgram.Socket;
  ready: boolean;
  closed: boolean;
  /** Datagrams released before the socket finished connecting (a few ms). */
  pending: Uint8Array[];
}

/** Events of the upstream side. */
export type UpstreamEvent = ClientAddedEvent | ClientEvictedEvent | RefusedEvent | ErrorEvent;

/** Options of an {@link UpstreamTable}. */
export interface UpstreamOptions {
  target: Endpoint;
  family: Family;
  maxClients: number;
  idleTimeoutMs: number;
  /** Datagrams kept over all clients while their sockets connect. */
  pendingLimit: number;
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
  /** Sends towards the server that failed (socket error, full queue, evicted, connect backlog). */
  sendFailed = 0;
  readonly #o: UpstreamOptions;
  readonly #table: SessionTable<Session>;
  #pending = 0;

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
    return this.#table.touch(key, now) ?? this.#open(key, { ...client }, now);
  }

  /** Sends a datagram to the server through the client's upstream socket. */
  send(upstream: Upstream, data: Uint8Array): void {
    const s = upstream as Session;
    if (s.closed) {
      this.sendFailed++; // evicted while the datagram was inside the proxy
    } else if (!s.ready) {
      if (this.#pending >= this.#o.pendingLimit) this.sendFailed++;
      else {
        s.pending.push(data);
        this.#pending++;
      }
    } else if (s.socket.getSendQueueCount() >= this.#o.sendQueueLimit) {
      this.sendFailed++;
    } else {
      // Always pass the callback: without it a send error (EMSGSIZE, ENOBUFS) is lost silently.
      s.socket.send(data, this.#onSent);
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

  readonly #onSent = (err: Error | null): void => {
    // ECONNREFUSED is reported by the socket's 'error' listener as `refused`.
    if (err && !isErrno(err, 'ECONNREFUSED')) this.sendFailed++;
  };

  readonly #evict = (s: Session, reason: EvictReason): void => {
    if (s.closed) return;
    this.#close(s);
    if (reason === 'idle') this.counters.evictedIdle++;
    else this.counters.evictedFull++;
    if (this.#o.clientEvents) {
      this.#o.onEvent({ event: 'client-evicted', time: isoNow(), client: s.client, reason });
    }
  };

  #close(s: Session): void {
    if (s.closed) return;
    s.closed = true;
    this.#pending -= s.pending.length;
    s.pending.length = 0;
    s.socket.close();
  }

  #open(key: string, client: Endpoint, now: number): Session {
    const o = this.#o;
    const socket = dgram.createSocket(o.family);
    const s: Session = { key, client, socket, ready: false, closed: false, pending: [] };
    // Without an 'error' listener a dgram socket crashes the process on the first error.
    socket.on('error', (err) => {
      if (isErrno(err, 'ECONNREFUSED')) {
        this.counters.refused++;
        if (o.clientEvents) o.onEvent({ event: 'refused', time: isoNow(), client, to: o.target });
      } else {
        this.sendFailed++;
        const code = (err as NodeJS.ErrnoException).code ?? 'ERR';
        o.onEvent({
          event: 'error',
          time: isoNow(),
          code,
          message: `upstream socket: ${err.message}`,
        });
      }
    });
    socket.on('message', (data) => {
      this.#table.touch(key, o.now()); // a reply keeps the client alive too, as in a NAT
      o.onReply(s, data);
    });
    socket.connect(o.target.port, o.target.address, () => {
      if (s.closed) return;
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
      this.#pending -= s.pending.length;
      for (const data of s.pending.splice(0)) socket.send(data, this.#onSent);
    });
    this.counters.total++;
    this.#table.add(key, s, now, this.#evict);
    return s;
  }
}
