/**
 * `udplab proxy`: a UDP relay that impairs the path, for any UDP program, without root.
 * Clients send to the proxy; each client gets its own upstream socket connected to the server
 * (proxy-upstream.ts), so the server sees one peer per client and replies find their way back.
 * The datagrams of each direction go through a Link (impair/link.ts) whose decisions are pure.
 * This file owns the listening socket and the one timer that releases delayed datagrams; the
 * options and their checks are proxy-config.ts.
 */
import { resolveHost } from './address.js';
import { abortError } from './errors.js';
import type { Endpoint } from './events.js';
import { formatEndpoint, ignoreEvents, isoNow } from './events.js';
import type { ImpairmentSpec } from './impair.js';
import { Link, type Delivery, type LinkEvent } from './impair/link.js';
import { proxySettings, relaysToItself, type ProxyOptions } from './proxy-config.js';
import {
  decisionEvent,
  directionStats,
  forwardedEvent,
  sendFailedEvent,
  type Direction,
  type ProxyReport,
  type SendFailure,
  type SendFailures,
} from './proxy-events.js';
import { UpstreamTable, type Upstream } from './proxy-upstream.js';
import { MAX_TIMER_MS, defaultRng, seededRng, type Rng } from './rng.js';
import { bindSocket } from './server.js';

export { PROXY_DEFAULTS, type ProxyOptions } from './proxy-config.js';

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

const SEND_QUEUE_FULL: SendFailure = { reason: 'send-queue-full' };

function errnoCode(err: Error): string {
  return (err as NodeJS.ErrnoException).code ?? 'ERR';
}

/** A new generator seeded from `rng`: independent streams for the two directions. */
function forkRng(rng: Rng): Rng {
  return seededRng(Math.floor(rng() * 2 ** 32));
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
 * @throws RangeError / TypeError on invalid options (and when `to` is the proxy itself);
 * UdplabError BIND, RESOLVE, or ABORTED (the signal was aborted before it started).
 */
export async function createProxy(options: ProxyOptions): Promise<UdpProxy> {
  const onEvent = options.onEvent ?? ignoreEvents;
  const cfg = proxySettings(options);
  const { upSpec, downSpec } = cfg;
  // Without a listener there is no point building an event per datagram.
  const perDatagram = (options.perDatagramEvents ?? true) && options.onEvent !== undefined;
  const now = options.now ?? (() => performance.now());
  const rng = options.rng ?? defaultRng;
  const upRng = forkRng(rng);
  const downRng = forkRng(rng);

  if (options.signal?.aborted) throw abortError(options.signal);
  const [listenHost, target] = await Promise.all([
    resolveHost(options.listen.host ?? ''),
    resolveHost(options.to.host),
  ]);
  const targetEp: Endpoint = { address: target.address, port: options.to.port };
  const socket = await bindSocket(listenHost.family, listenHost.address, options.listen.port ?? 0);
  const bound = socket.address();
  if (relaysToItself(bound, targetEp)) {
    socket.close();
    throw new RangeError(
      `the proxy would relay to itself (datagrams to ${formatEndpoint(targetEp)} arrive at its own socket, ${formatEndpoint(bound)})`,
    );
  }
  const address = {
    address: bound.address,
    port: bound.port,
    family: bound.family === 'IPv6' ? ('IPv6' as const) : ('IPv4' as const),
  };

  const startMs = now();
  const up = new Link<Upstream>(upSpec, { rng: upRng, startMs });
  const down = new Link<Upstream>(downSpec, { rng: downRng, startMs });
  const failed: Record<Direction, SendFailures> = {
    up: { count: 0, delayTotalMs: 0 },
    down: { count: 0, delayTotalMs: 0 },
  };
  let closing: Promise<void> | undefined;

  // ---- events --------------------------------------------------------------------------
  // Every datagram event goes through the upstream table, which holds those of a new client
  // until its `client-added` is out (its socket connects a few ms after the first datagram).
  const decisions =
    (direction: Direction) =>
    (e: LinkEvent<Upstream>): void => {
      if (perDatagram) {
        upstreams.emitFor(e.route, decisionEvent(direction, e.route.client, e, isoNow()));
      }
    };
  const onUpDecision = decisions('up');
  const onDownDecision = decisions('down');

  // ---- both directions -----------------------------------------------------------------
  const upstreams = new UpstreamTable({
    target: targetEp,
    family: target.family,
    maxClients: cfg.maxClients,
    idleTimeoutMs: cfg.idleTimeoutMs,
    pendingLimit: cfg.pendingLimit,
    // A few events a datagram (duplicated, corrupted, …) for `pendingLimit` datagrams; past it, at once.
    heldEventLimit: 4 * cfg.pendingLimit,
    sendQueueLimit: cfg.sendQueueLimit,
    now,
    onReply: (u, data) => {
      down.submit(data, u, now(), onDownDecision);
      pump();
    },
    onEvent,
    clientEvents: perDatagram,
  });
  /**
   * What became of a datagram that left a link: `forwarded` once its socket sent it, or
   * `send-failed` (counted, and taken out of the link's `forwarded`). Never both, never neither,
   * except for the sends still in flight when the proxy closes (the summary is taken first).
   */
  const sent =
    (direction: Direction, d: Delivery<Upstream>, to: Endpoint) =>
    (failure: SendFailure | null): void => {
      if (closing) return;
      if (failure === null) {
        if (perDatagram) {
          upstreams.emitFor(d.route, forwardedEvent(direction, d.route.client, d, isoNow()));
        }
        return;
      }
      failed[direction].count++;
      failed[direction].delayTotalMs += d.delayMs;
      if (perDatagram) {
        upstreams.emitFor(d.route, sendFailedEvent(direction, d, to, failure, isoNow()));
      }
    };
  const deliverUp = (d: Delivery<Upstream>): void => {
    upstreams.send(d.route, d.data, sent('up', d, targetEp));
  };
  const deliverDown = (d: Delivery<Upstream>): void => {
    const done = sent('down', d, d.route.client);
    if (socket.getSendQueueCount() >= cfg.sendQueueLimit) {
      done(SEND_QUEUE_FULL);
      return;
    }
    // Always pass the callback: without it a send error (EMSGSIZE, ENOBUFS) is lost silently.
    socket.send(d.data, d.route.client.port, d.route.client.address, (err) => {
      done(err === null ? null : { reason: 'socket', code: errnoCode(err) });
    });
  };
  socket.on('message', (data, rinfo) => {
    const t = now();
    const u = upstreams.get({ address: rinfo.address, port: rinfo.port }, t);
    up.submit(data, u, t, onUpDecision);
    pump();
  });
  // A dgram socket without an 'error' listener crashes the process; a proxy must never crash.
  socket.on('error', (err) => {
    onEvent({ event: 'error', time: isoNow(), code: errnoCode(err), message: err.message });
  });

  // ---- the one timer -------------------------------------------------------------------
  let timer: NodeJS.Timeout | undefined;
  let timerAt = Number.POSITIVE_INFINITY;
  /** Sends everything due, then arms the timer for the earliest datagram still inside. */
  const pump = (): void => {
    if (closing) return;
    const t = now();
    up.takeDue(t, deliverUp, onUpDecision);
    down.takeDue(t, deliverDown, onDownDecision);
    const next = Math.min(up.nextDueAt() ?? Infinity, down.nextDueAt() ?? Infinity);
    if (next < timerAt) {
      clearTimeout(timer);
      timerAt = next;
      // Node's timers have 1 ms resolution: at least 1 ms, and everything due by then goes together.
      timer = setTimeout(onTimer, Math.min(MAX_TIMER_MS, Math.max(1, Math.ceil(next - t))));
    }
  };
  const onTimer = (): void => {
    timer = undefined;
    timerAt = Number.POSITIVE_INFINITY;
    pump();
  };

  // ---- reports and housekeeping --------------------------------------------------------
  const report = (): ProxyReport => ({
    elapsedMs: now() - startMs,
    up: directionStats(up.counters, failed.up),
    down: directionStats(down.counters, failed.down),
    clients: { active: upstreams.size, ...upstreams.counters },
  });
  onEvent({
    event: 'listening',
    time: isoNow(),
    ...address,
    to: targetEp,
    up: upSpec,
    down: downSpec,
    maxClients: cfg.maxClients,
    idleTimeoutMs: cfg.idleTimeoutMs,
  });
  // Sweep often enough that an idle client lives at most ~1.25 idle times.
  const sweepMs = Math.min(Math.max(cfg.idleTimeoutMs / 4, 10), 5000);
  const sweeper = setInterval(() => upstreams.sweep(now()), sweepMs);
  const statsTimer =
    cfg.statsIntervalMs === undefined
      ? undefined
      : setInterval(
          () => onEvent({ event: 'stats', time: isoNow(), ...report() }),
          cfg.statsIntervalMs,
        );

  let resolveClosed!: () => void;
  const closed = new Promise<void>((r) => (resolveClosed = r));
  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      options.signal?.removeEventListener('abort', onAbort);
      clearTimeout(timer);
      clearInterval(sweeper);
      clearInterval(statsTimer);
      const final = report(); // `queued` then says what closing discards
      up.clear();
      down.clear();
      upstreams.closeAll();
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
