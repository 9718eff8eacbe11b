/**
 * The lab's reply server on a node:dgram socket. The reply logic lives in server-core.ts;
 * this file only binds, feeds datagrams to it and sends what it returns.
 */
import dgram from 'node:dgram';
import { resolveHost, type Family } from './address.js';
import { bindError } from './errors.js';
import type { BaseEvent, Endpoint, ErrorEvent, EventSink } from './events.js';
import { ignoreEvents, isoNow } from './events.js';
import type { Rng } from './rng.js';
import {
  ServerCore,
  hardeningOf,
  type CoreEvent,
  type Datagram,
  type HardeningInfo,
  type HardeningOptions,
  type Reply,
  type ServerCounters,
} from './server-core.js';

/**
 * `listening`: the socket is bound; the real address and port (the OS's choice for port 0), and the
 * hardening in force (`keyId`, `windowMs`, `replayCacheSize` in sealed mode; `rateLimit`).
 */
export interface ListeningEvent extends BaseEvent, HardeningInfo {
  event: 'listening';
  address: string;
  port: number;
  family: 'IPv4' | 'IPv6';
}

/** `summary`: the server stopped; its totals. */
export interface ServerSummaryEvent extends BaseEvent, ServerCounters {
  event: 'summary';
}

/** Every event the server emits. */
export type ServerEvent = ListeningEvent | CoreEvent | ServerSummaryEvent | ErrorEvent;

/** Options of {@link createServer}; the hardening options (key, windowMs, rateLimit…) are ServerCore's. */
export interface ServerOptions extends HardeningOptions {
  /** Interface to bind: an IP, a name, `0.0.0.0`, `::`, or `""` for all IPv4 interfaces. Default `""`. */
  host?: string;
  /** Port to bind; 0 lets the OS choose. Default 0. */
  port?: number;
  /** Probability in [0, 1] of dropping each datagram (the lab's remote server). Default 0. */
  dropProbability?: number;
  /** Random source for drops. Default Math.random. */
  rng?: Rng;
  /** Emit `message`/`replied`/`dropped` per datagram. Default true; false for `--quiet`. */
  perDatagramEvents?: boolean;
  /** Receives every event. */
  onEvent?: EventSink<ServerEvent>;
  /** Aborting it closes the server. */
  signal?: AbortSignal;
  /** Replies waiting in the socket's send queue beyond which new replies are dropped and counted. Default 1024. */
  sendQueueLimit?: number;
}

/** A running server. */
export interface UdpServer {
  /** Where it listens. */
  readonly address: Endpoint & { family: 'IPv4' | 'IPv6' };
  /** Live totals. */
  readonly counters: Readonly<ServerCounters>;
  /** Stops receiving, emits `summary`, closes the socket. Idempotent. */
  close(): Promise<void>;
  /** Settles when the server has closed. */
  readonly closed: Promise<void>;
}

/** Binds a dgram socket, resolving once bound. @throws UdplabError BIND. */
export function bindSocket(
  family: Family,
  address: string,
  port: number,
  reuse = false,
): Promise<dgram.Socket> {
  const socket = dgram.createSocket({ type: family, reuseAddr: reuse });
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => {
      socket.close();
      reject(bindError(err, address, port));
    };
    socket.once('error', onError);
    socket.bind({ address, port, exclusive: true }, () => {
      socket.off('error', onError);
      resolve(socket);
    });
  });
}

/**
 * Starts the lab's reply server.
 * @example
 * const server = await createServer({ host: '127.0.0.1', port: 0, onEvent: console.log });
 * // … later
 * await server.close();
 * @throws UdplabError BIND (port in use, address not on this machine) or RESOLVE.
 */
export async function createServer(options: ServerOptions = {}): Promise<UdpServer> {
  const onEvent = options.onEvent ?? ignoreEvents;
  const core = new ServerCore({
    ...(options.dropProbability === undefined ? {} : { dropProbability: options.dropProbability }),
    ...(options.rng === undefined ? {} : { rng: options.rng }),
    perDatagramEvents: options.perDatagramEvents ?? true,
    ...hardeningOf(options),
  });
  const sendQueueLimit = options.sendQueueLimit ?? 1024;
  options.signal?.throwIfAborted();
  const resolved = await resolveHost(options.host ?? '');
  const socket = await bindSocket(resolved.family, resolved.address, options.port ?? 0);
  const bound = socket.address();
  const address = {
    address: bound.address,
    port: bound.port,
    family: bound.family === 'IPv6' ? ('IPv6' as const) : ('IPv4' as const),
  };
  onEvent({ event: 'listening', time: isoNow(), ...address, ...core.info });

  const replies: Reply[] = [];
  const events: CoreEvent[] = [];
  const batch: Datagram[] = [{ data: Buffer.alloc(0), from: { address: '', port: 0 } }];
  const onSent = (err: Error | null): void => {
    if (err) core.counters.sendFailed++;
  };

  socket.on('message', (data, rinfo) => {
    batch[0] = { data, from: { address: rinfo.address, port: rinfo.port } };
    core.handleBatch(batch, isoNow(), replies, events);
    // Indexed loops, and `length = 0` only on a non-empty array: emptying an array drops its
    // backing store, so the next push allocates again (this handler runs per datagram).
    if (events.length > 0) {
      for (let i = 0; i < events.length; i++) onEvent(events[i] as CoreEvent);
      events.length = 0;
    }
    for (let i = 0; i < replies.length; i++) {
      const r = replies[i] as Reply;
      if (socket.getSendQueueCount() >= sendQueueLimit) {
        core.counters.sendFailed++;
        continue;
      }
      // Always pass the callback: without it a send error (EMSGSIZE, ENOBUFS) is lost silently.
      socket.send(r.data, r.to.port, r.to.address, onSent);
    }
    replies.length = 0;
  });
  // A dgram socket without an 'error' listener crashes the process; a server must never crash.
  socket.on('error', (err) => {
    onEvent({
      event: 'error',
      time: isoNow(),
      code: (err as NodeJS.ErrnoException).code ?? 'ERR',
      message: err.message,
    });
  });

  let closing: Promise<void> | undefined;
  let resolveClosed!: () => void;
  const closed = new Promise<void>((r) => (resolveClosed = r));
  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      options.signal?.removeEventListener('abort', onAbort);
      socket.close(() => {
        onEvent({ event: 'summary', time: isoNow(), ...core.counters });
        resolve();
        resolveClosed();
      });
    });
    return closing;
  };
  const onAbort = (): void => void close();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted) void close();

  return { address, counters: core.counters, close, closed };
}
