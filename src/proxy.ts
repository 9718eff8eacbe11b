/**
 * `udplab proxy`: a UDP relay that impairs the path, for any UDP program, without root.
 * Clients send to the proxy; each client address gets its own upstream socket connected to
 * the server (so the server sees one peer per client, and replies find their way back); the
 * datagrams of each direction go through a Link (impair/link.ts) whose decisions are pure.
 * This file only owns the sockets and the one timer that releases delayed datagrams.
 */
import dgram from 'node:dgram';
import { resolveHost } from './address.js';
import { isErrno } from './errors.js';
import type { Endpoint, EventSink } from './events.js';
import { ignoreEvents, isoNow } from './events.js';
import { checkImpairments, type ImpairmentSpec } from './impair.js';
import { Link, type Delivery, type LinkEvent } from './impair/link.js';
import type {
  ClientStats,
  Direction,
  DirectionStats,
  ProxyEvent,
  ProxyReport,
} from './proxy-events.js';
import { defaultRng, seededRng, type Rng } from './rng.js';
import { bindSocket } from './server.js';
import { SessionTable, type EvictReason } from './session-table.js';

/** Options of {@link createProxy}. Times in milliseconds. */
export interface ProxyOptions {
  /** Where clients send: host (IP, name, `::`, `""` for all IPv4 interfaces) and port (0 = any). */
  listen: { host?: string; port?: number };
  /** The server the datagrams are relayed to. */
  to: { host: string; port: number };
  /** Impairments of both directions. */
  impairments?: ImpairmentSpec;
  /** Client → server impairments, over `impairments` (a loss model here replaces the shared one). */
  up?: ImpairmentSpec;
  /** Server → client impairments, over `impairments`. */
  down?: ImpairmentSpec;
  /** Random source; each direction gets its own stream drawn from it. Default Math.random. */
  rng?: Rng;
  /** Clock in ms (monotonic). Default performance.now. */
  now?: () => number;
  /** A client with no traffic either way for this long loses its upstream socket. Default 60000. */
  idleTimeoutMs?: number;
  /** Most clients at once; one more evicts the least recently active. Default 1024. */
  maxClients?: number;
  /** Emit a `stats` event this often. Default never. */
  statsIntervalMs?: number;
  /** Emit per-datagram and per-client events (`forwarded`, `lost`, `client-added`, …). Default true; false for `--quiet`. */
  perDatagramEvents?: boolean;
  /** Datagrams waiting in a socket's send queue beyond which sends are dropped and counted. Default 1024. */
  sendQueueLimit?: number;
  /** Datagrams kept, over all clients, while their upstream sockets are still connecting (a few ms). Default 256. */
  pendingLimit?: number;
  onEvent?: EventSink<ProxyEvent>;
  /** Aborting it closes the proxy. */
  signal?: AbortSignal;
}

/** A running proxy. */
export interface UdpProxy {
  /** Where it listens. */
  readonly address: Endpoint & { family: 'IPv4' | 'IPv6' };
  /** The resolved server address. */
  readonly target: Endpoint;
  /** The impairments in force, per direction. */
  readonly up: Readonly<ImpairmentSpec>;
  readonly down: Readonly<ImpairmentSpec>;
  /** The totals so far. */
  report(): ProxyReport;
  /** Stops, emits `summary`, closes every socket. Idempotent. */
  close(): Promise<void>;
  /** Settles when the proxy has closed. */
  readonly closed: Promise<void>;
}

/** Defaults of the proxy's own bounds. */
export const PROXY_DEFAULTS = {
  idleTimeoutMs: 60_000,
  maxClients: 1024,
  sendQueueLimit: 1024,
  pendingLimit: 256,
} as const;

/**
 * Lays `over` on `base`. A loss model in `over` (loss or lossBurst) replaces both of base's,
 * so `--up-loss-burst` after `--loss` does not make an invalid spec with two models.
 */
export function mergeImpairments(base: ImpairmentSpec, over: ImpairmentSpec): ImpairmentSpec {
  const out: ImpairmentSpec = { ...base };
  if (over.loss !== undefined || over.lossBurst !== undefined) {
    delete out.loss;
    delete out.lossBurst;
  }
  for (const [k, v] of Object.entries(over)) {
    if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  }
  return out;
}

/** A new generator seeded from `rng`: independent streams for the two directions. */
function forkRng(rng: Rng): Rng {
  return seededRng(Math.floor(rng() * 2 ** 32));
}

interface Session {
  readonly key: string;
  readonly client: Endpoint;
  readonly socket: dgram.Socket;
  ready: boolean;
  closed: boolean;
  /** Datagrams released before the socket finished connecting. */
  pending: Uint8Array[];
}

function emptyStats(): DirectionStats {
  return {
    received: 0,
    forwarded: 0,
    lost: 0,
    lostRandom: 0,
    lostBlackout: 0,
    queueDrops: 0,
    duplicated: 0,
    reordered: 0,
    corrupted: 0,
    outOfOrder: 0,
    delayMeanMs: null,
    queued: 0,
    queuePeak: 0,
    sendFailed: 0,
  };
}

function directionStats(link: Link<Session>, sendFailed: number): DirectionStats {
  const c = link.counters;
  const { delayTotalMs, ...rest } = c;
  return {
    ...emptyStats(),
    ...rest,
    delayMeanMs: c.forwarded > 0 ? delayTotalMs / c.forwarded : null,
    sendFailed,
  };
}

/**
 * Starts a proxy that relays datagrams between clients and one server, impairing both ways.
 * @example
 * const proxy = await createProxy({
 *   listen: { host: '127.0.0.1', port: 0 },
 *   to: { host: '127.0.0.1', port: 1060 },
 *   impairments: { loss: 0.3, delayMs: 50, jitterMs: 10 },
 *   onEvent: console.log,
 * });
 * // clients now send to proxy.address.port …
 * await proxy.close();
 * @throws RangeError / TypeError on invalid options; UdplabError BIND or RESOLVE.
 */
export async function createProxy(options: ProxyOptions): Promise<UdpProxy> {
  const onEvent = options.onEvent ?? ignoreEvents;
  const base = options.impairments ?? {};
  const upSpec = mergeImpairments(base, options.up ?? {});
  const downSpec = mergeImpairments(base, options.down ?? {});
  checkImpairments(upSpec);
  checkImpairments(downSpec);
  const idleTimeoutMs = options.idleTimeoutMs ?? PROXY_DEFAULTS.idleTimeoutMs;
  const maxClients = options.maxClients ?? PROXY_DEFAULTS.maxClients;
  const sendQueueLimit = options.sendQueueLimit ?? PROXY_DEFAULTS.sendQueueLimit;
  const pendingLimit = options.pendingLimit ?? PROXY_DEFAULTS.pendingLimit;
  const statsIntervalMs = options.statsIntervalMs;
  if (statsIntervalMs !== undefined && !(statsIntervalMs > 0)) {
    throw new RangeError('statsIntervalMs must be > 0');
  }
  const table = new SessionTable<Session>({ maxEntries: maxClients, idleMs: idleTimeoutMs });
  // Without a listener there is no point building an event per datagram.
  const perDatagram = (options.perDatagramEvents ?? true) && options.onEvent !== undefined;
  const now = options.now ?? (() => performance.now());
  const rng = options.rng ?? defaultRng;
  const upRng = forkRng(rng);
  const downRng = forkRng(rng);

  options.signal?.throwIfAborted();
  const [listenHost, target] = await Promise.all([
    resolveHost(options.listen.host ?? ''),
    resolveHost(options.to.host),
  ]);
  const targetEp: Endpoint = { address: target.address, port: options.to.port };
  if (!(Number.isInteger(targetEp.port) && targetEp.port >= 1 && targetEp.port <= 65535)) {
    throw new RangeError('to.port must be an integer from 1 to 65535');
  }
  const socket = await bindSocket(listenHost.family, listenHost.address, options.listen.port ?? 0);
  const bound = socket.address();
  const address = {
    address: bound.address,
    port: bound.port,
    family: bound.family === 'IPv6' ? ('IPv6' as const) : ('IPv4' as const),
  };

  const startMs = now();
  const up = new Link<Session>(upSpec, { rng: upRng, startMs });
  const down = new Link<Session>(downSpec, { rng: downRng, startMs });
  const sendFailed: Record<Direction, number> = { up: 0, down: 0 };
  let pendingTotal = 0;
  const clients: ClientStats = { active: 0, total: 0, evictedIdle: 0, evictedFull: 0, refused: 0 };
  let closing: Promise<void> | undefined;

  const report = (): ProxyReport => ({
    elapsedMs: now() - startMs,
    up: directionStats(up, sendFailed.up),
    down: directionStats(down, sendFailed.down),
    clients: { ...clients, active: table.size },
  });

  // ---- per-datagram events -------------------------------------------------------------
  const linkEvents =
    (direction: Direction) =>
    (e: LinkEvent<Session>): void => {
      if (!perDatagram) return;
      const common = {
        time: isoNow(),
        direction,
        client: e.route.client,
        seq: e.seq,
        bytes: e.bytes,
      };
      switch (e.kind) {
        case 'lost':
          onEvent({ event: 'lost', ...common, reason: e.reason });
          break;
        case 'duplicated':
          onEvent({ event: 'duplicated', ...common });
          break;
        case 'reordered':
          onEvent({ event: 'reordered', ...common });
          break;
        case 'corrupted':
          onEvent({ event: 'corrupted', ...common, bit: e.bit, copy: e.copy });
          break;
      }
    };
  const onUpEvent = linkEvents('up');
  const onDownEvent = linkEvents('down');
  const forwarded = (direction: Direction, d: Delivery<Session>): void => {
    if (!perDatagram) return;
    onEvent({
      event: 'forwarded',
      time: isoNow(),
      direction,
      client: d.route.client,
      seq: d.seq,
      bytes: d.data.length,
      delayMs: d.delayMs,
      copy: d.copy,
    });
  };

  // ---- sending -------------------------------------------------------------------------
  const onUpSent = (err: Error | null): void => {
    // ECONNREFUSED is reported by the socket's 'error' listener as `refused`.
    if (err && !isErrno(err, 'ECONNREFUSED')) sendFailed.up++;
  };
  const onDownSent = (err: Error | null): void => {
    if (err) sendFailed.down++;
  };
  const deliverUp = (d: Delivery<Session>): void => {
    const s = d.route;
    if (s.closed) {
      sendFailed.up++; // evicted while the datagram was inside
      return;
    }
    forwarded('up', d);
    if (!s.ready) {
      if (pendingTotal >= pendingLimit) sendFailed.up++;
      else {
        s.pending.push(d.data);
        pendingTotal++;
      }
      return;
    }
    if (s.socket.getSendQueueCount() >= sendQueueLimit) {
      sendFailed.up++;
      return;
    }
    // Always pass the callback: without it a send error (EMSGSIZE, ENOBUFS) is lost silently.
    s.socket.send(d.data, onUpSent);
  };
  const deliverDown = (d: Delivery<Session>): void => {
    forwarded('down', d);
    if (socket.getSendQueueCount() >= sendQueueLimit) {
      sendFailed.down++;
      return;
    }
    socket.send(d.data, d.route.client.port, d.route.client.address, onDownSent);
  };

  // ---- the one timer -------------------------------------------------------------------
  let timer: NodeJS.Timeout | undefined;
  let timerAt = Number.POSITIVE_INFINITY;
  const pump = (): void => {
    if (closing) return;
    const t = now();
    up.takeDue(t, deliverUp, onUpEvent);
    down.takeDue(t, deliverDown, onDownEvent);
    const next = Math.min(up.nextDueAt() ?? Infinity, down.nextDueAt() ?? Infinity);
    if (next < timerAt) {
      clearTimeout(timer);
      timerAt = next;
      // Node's timers have 1 ms resolution: at least 1 ms, and everything due by then goes together.
      timer = setTimeout(onTimer, Math.max(1, Math.ceil(next - t)));
    }
  };
  const onTimer = (): void => {
    timer = undefined;
    timerAt = Number.POSITIVE_INFINITY;
    pump();
  };

  // ---- sessions ------------------------------------------------------------------------
  const closeSession = (s: Session, reason: EvictReason | undefined): void => {
    if (s.closed) return;
    s.closed = true;
    pendingTotal -= s.pending.length;
    s.pending.length = 0;
    s.socket.close();
    if (reason === 'idle') clients.evictedIdle++;
    else if (reason === 'table-full') clients.evictedFull++;
    if (reason !== undefined && perDatagram) {
      onEvent({ event: 'client-evicted', time: isoNow(), client: s.client, reason });
    }
  };
  const openSession = (key: string, client: Endpoint, t: number): Session => {
    const us = dgram.createSocket(target.family);
    const s: Session = { key, client, socket: us, ready: false, closed: false, pending: [] };
    // A connected socket: the kernel delivers only the server's datagrams, and reports ICMP
    // port unreachable as ECONNREFUSED. Without an 'error' listener it would crash the process.
    us.on('error', (err) => {
      if (isErrno(err, 'ECONNREFUSED')) {
        clients.refused++;
        if (perDatagram) onEvent({ event: 'refused', time: isoNow(), client, to: targetEp });
      } else {
        sendFailed.up++;
        const code = (err as NodeJS.ErrnoException).code ?? 'ERR';
        onEvent({
          event: 'error',
          time: isoNow(),
          code,
          message: `upstream socket: ${err.message}`,
        });
      }
    });
    us.on('message', (data) => {
      table.touch(key, now());
      down.submit(data, s, now(), onDownEvent);
      pump();
    });
    us.connect(targetEp.port, targetEp.address, () => {
      if (s.closed) return;
      s.ready = true;
      const local = us.address();
      if (perDatagram)
        onEvent({
          event: 'client-added',
          time: isoNow(),
          client,
          upstream: { address: local.address, port: local.port },
        });
      pendingTotal -= s.pending.length;
      for (const data of s.pending.splice(0)) us.send(data, onUpSent);
    });
    clients.total++;
    table.add(key, s, t, closeSession);
    return s;
  };

  socket.on('message', (data, rinfo) => {
    const t = now();
    const key = `${rinfo.address}|${rinfo.port}`;
    const s =
      table.touch(key, t) ?? openSession(key, { address: rinfo.address, port: rinfo.port }, t);
    up.submit(data, s, t, onUpEvent);
    pump();
  });
  // A dgram socket without an 'error' listener crashes the process; a proxy must never crash.
  socket.on('error', (err) => {
    const code = (err as NodeJS.ErrnoException).code ?? 'ERR';
    onEvent({ event: 'error', time: isoNow(), code, message: err.message });
  });

  onEvent({
    event: 'listening',
    time: isoNow(),
    ...address,
    to: targetEp,
    up: upSpec,
    down: downSpec,
    maxClients,
    idleTimeoutMs,
  });

  // Sweep often enough that an idle client lives at most ~1.25 idle times.
  const sweepMs = Math.min(Math.max(idleTimeoutMs / 4, 10), 5000);
  const sweeper = setInterval(() => table.sweep(now(), closeSession), sweepMs);
  const statsTimer =
    statsIntervalMs === undefined
      ? undefined
      : setInterval(
          () => onEvent({ event: 'stats', time: isoNow(), ...report() }),
          statsIntervalMs,
        );

  let resolveClosed!: () => void;
  const closed = new Promise<void>((r) => (resolveClosed = r));
  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      options.signal?.removeEventListener('abort', onAbort);
      clearTimeout(timer);
      clearInterval(sweeper);
      clearInterval(statsTimer);
      const final = report();
      up.clear();
      down.clear();
      for (const s of [...table.values()]) closeSession(s, undefined);
      socket.close(() => {
        onEvent({ event: 'summary', time: isoNow(), ...final });
        resolve();
        resolveClosed();
      });
    });
    return closing;
  };
  const onAbort = (): void => void close();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted) void close();

  return { address, target: targetEp, up: upSpec, down: downSpec, report, close, closed };
}
