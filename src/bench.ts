/**
 * `udplab bench`: a load generator for any server that answers each datagram (udplab's server,
 * the lab's Python server, an echo service). One connected socket keeps `concurrency` requests
 * in flight (closed loop) or sends `rate` requests a second (open loop, latency measured from
 * the time each request was due, so a slow server cannot hide its queueing: no coordinated
 * omission). Latencies go to an HDR histogram (hdr-histogram-js, 3 significant digits).
 *
 * The socket is a server backend (src/backend/) connected to the server: `native` receives the
 * replies in recvmmsg batches of up to 64 and sends the next requests of a batch with one
 * sendmmsg (Linux), `dgram` one datagram per system call and callback. The loop is the same:
 * take a batch of replies, then send what the window or the schedule allows, as one batch.
 *
 * Every run is bounded: it stops after `durationMs` of measurement, after `requests` requests,
 * or when aborted, then waits at most `timeoutMs` for the replies still in flight.
 */
import { resolveHost } from './address.js';
import { checkBackendChoice, openBackend } from './backend/select.js';
import type { BackendChoice, BackendName, SocketBackend } from './backend/types.js';
import { idCodec, plainCodec, type BenchCodec, type ReplyMatch } from './bench-codec.js';
import { latencySummary, newHistogram, type LatencySummary } from './bench-latency.js';
import { InFlight } from './bench-window.js';
import { abortError } from './errors.js';
import type { BaseEvent, Endpoint, EventSink } from './events.js';
import { ignoreEvents, isoNow } from './events.js';
import type { Datagram, Reply } from './server-events.js';

/** `started`: the socket is connected and the first requests leave. */
export interface BenchStartedEvent extends BaseEvent {
  event: 'started';
  to: Endpoint;
  local: Endpoint;
  /** The socket backend that runs: `native` (recvmmsg/sendmmsg batches) or `dgram`. */
  backend: BackendName;
  mode: string;
  bytes: number;
  concurrency: number;
  rate: number | null;
  durationMs: number;
  requests: number | null;
  warmupMs: number;
  timeoutMs: number;
}

/** The counters of a run (requests sent in the warm-up are not counted). */
export interface BenchCounts {
  /** Requests sent in the measurement. */
  sent: number;
  /** Valid replies to those requests. */
  replies: number;
  /** Requests with no reply within `timeoutMs`. */
  lost: number;
  /** Replies to requests already answered or given up (and, in plain mode, replies when none was in flight). */
  late: number;
  /** Replies that are not a valid answer (wrong text, wrong or missing ID, failed authentication). */
  bad: number;
  /**
   * Send errors and ICMP errors (port unreachable) reported by the socket, and (native backend)
   * requests dropped because the socket would block with `concurrency` already waiting.
   */
  errors: number;
  /** Open loop only: requests that fell due but never left because `concurrency` were in flight. */
  unsent: number;
}

/** `progress`: once a second (`progressIntervalMs`) during the run. */
export interface BenchProgressEvent extends BaseEvent, BenchCounts {
  event: 'progress';
  phase: 'warmup' | 'measure';
  /** Since the start of the measurement (negative during the warm-up). */
  elapsedMs: number;
  /**
   * Valid replies a second over the last interval, the warm-up's included (the counts leave the
   * warm-up out), so that the rate shows from the first second on.
   */
  rps: number;
}

/** `summary`: the result of the run. `sent = replies + lost + bad` always holds. */
export interface BenchSummaryEvent extends BaseEvent, BenchCounts {
  event: 'summary';
  to: Endpoint;
  mode: string;
  bytes: number;
  concurrency: number;
  rate: number | null;
  /** The socket backend that ran (as in `started`). */
  backend: BackendName;
  /**
   * The measured window: from the end of the warm-up to the stop (the duration ran out, or the
   * signal), or to the last measured reply (or send) when later; with a request count, to the
   * last measured reply (or send), so the drain of lost requests is not counted.
   */
  elapsedMs: number;
  /** Replies a second over `elapsedMs`. */
  rps: number;
  latencyMs: LatencySummary;
  stoppedBy: 'duration' | 'requests' | 'signal';
}

/** Every event of a bench run. */
export type BenchEvent = BenchStartedEvent | BenchProgressEvent | BenchSummaryEvent;
export type { LatencySummary };

/** Options of {@link bench}. Times in milliseconds. */
export interface BenchOptions {
  /** Server host (IP or name). Loopback or your own hosts only. */
  host: string;
  /** Server port. */
  port: number;
  /** Measure for this long. Default 10 000; with `requests`, the cap on the run (default 60 000). */
  durationMs?: number;
  /** Stop after this many measured requests. Default: none (time only). */
  requests?: number;
  /** Requests in flight at most. Default 1 (closed loop: one at a time). */
  concurrency?: number;
  /** Request size in bytes (plain 0–65507, id 12–65507). Default 32. */
  size?: number;
  /** Open loop: send this many requests a second (still at most `concurrency` in flight). */
  rate?: number;
  /** Load the request-ID form (every reply matched to its own request). Default false. */
  id?: boolean;
  /** A custom wire format (sealed mode); overrides `size` and `id`. */
  codec?: BenchCodec;
  /** Run this long before measuring; nothing sent then is counted. Default 0. */
  warmupMs?: number;
  /** A request unanswered after this long is lost. Default 1000. */
  timeoutMs?: number;
  /**
   * The socket backend: `native` (recvmmsg/sendmmsg batches, Linux), `dgram` (node:dgram), or
   * `auto` (native when its addon loads, dgram otherwise). Default `auto`.
   */
  backend?: BackendChoice;
  /** Interval of the `progress` events. Default 1000. */
  progressIntervalMs?: number;
  /** Receives every event. */
  onEvent?: EventSink<BenchEvent>;
  /** Aborting it ends the run early; the summary of what was measured is still returned. */
  signal?: AbortSignal;
}

/** The bounds of a run's options (the CLI states them in its own units). */
export const BENCH_LIMITS = {
  minDurationMs: 1,
  minTimeoutMs: 1,
  minRate: 0.001,
  durationMs: 3_600_000,
  requests: 1e9,
  concurrency: 65_536,
  rate: 10_000_000,
  timeoutMs: 60_000,
} as const;

function check(name: string, value: number, min: number, max: number): void {
  if (typeof value !== 'number' || !(value >= min && value <= max)) {
    throw new RangeError(`${name} must be a number from ${min} to ${max}`);
  }
}

/**
 * Runs a load test and resolves with its summary (also emitted as the `summary` event).
 * @example
 * const s = await bench({ host: '127.0.0.1', port: 1060, durationMs: 2000, concurrency: 64 });
 * console.log(s.rps, s.latencyMs.p99);
 * @throws RangeError for an option out of range (or a `backend` not one of auto, native, dgram),
 * before any socket is opened; UdplabError RESOLVE, ABORTED (aborted before
 * start), SEND (cannot connect), BACKEND (`backend: 'native'` where the addon cannot load).
 */
export async function bench(options: BenchOptions): Promise<BenchSummaryEvent> {
  const onEvent = options.onEvent ?? ignoreEvents;
  const concurrency = options.concurrency ?? 1;
  const requests = options.requests ?? null;
  const durationMs = options.durationMs ?? (requests === null ? 10_000 : 60_000);
  const warmupMs = options.warmupMs ?? 0;
  const timeoutMs = options.timeoutMs ?? 1000;
  const rate = options.rate ?? null;
  const progressMs = options.progressIntervalMs ?? 1000;
  check('durationMs', durationMs, BENCH_LIMITS.minDurationMs, BENCH_LIMITS.durationMs);
  check('warmupMs', warmupMs, 0, BENCH_LIMITS.durationMs);
  check('timeoutMs', timeoutMs, BENCH_LIMITS.minTimeoutMs, BENCH_LIMITS.timeoutMs);
  check('progressIntervalMs', progressMs, 10, BENCH_LIMITS.durationMs);
  if (!Number.isInteger(options.port)) throw new RangeError('port must be an integer');
  check('port', options.port, 1, 65535);
  if (!Number.isInteger(concurrency)) throw new RangeError('concurrency must be an integer');
  check('concurrency', concurrency, 1, BENCH_LIMITS.concurrency);
  if (requests !== null) {
    if (!Number.isInteger(requests)) throw new RangeError('requests must be an integer');
    check('requests', requests, 1, BENCH_LIMITS.requests);
  }
  if (rate !== null) check('rate', rate, BENCH_LIMITS.minRate, BENCH_LIMITS.rate);
  checkBackendChoice(options.backend);
  const codec =
    options.codec ?? (options.id ? idCodec(options.size ?? 32) : plainCodec(options.size ?? 32));
  const { signal } = options;
  if (signal?.aborted) throw abortError(signal);

  const histogram = await newHistogram();
  const server = await resolveHost(options.host);
  const to: Endpoint = { address: server.address, port: options.port };
  const bytes = codec.request(1).length;

  const counts: BenchCounts = {
    sent: 0,
    replies: 0,
    lost: 0,
    late: 0,
    bad: 0,
    errors: 0,
    unsent: 0,
  };
  let measureStart = Number.POSITIVE_INFINITY; // set once the socket is open
  // The first request of the measurement (set when it is sent). Errors count only from then on:
  // an ICMP error for a warm-up request that is read just after the warm-up ends is the warm-up's.
  let firstMeasuredSeq = Number.POSITIVE_INFINITY;
  const measuring = (): boolean => firstMeasuredSeq !== Number.POSITIVE_INFINITY;
  const socket: SocketBackend = await openBackend(options.backend ?? 'auto', {
    family: server.family,
    address: server.family === 'udp6' ? '::' : '0.0.0.0',
    port: 0,
    connect: to,
    // At most `concurrency` requests are in flight, so no more can wait for the socket.
    sendQueueLimit: concurrency,
    onBatch: (batch, out) => {
      onReplies(batch, out);
    },
    // Errors in the warm-up are not counted, as nothing else of it is.
    onSendFailed: (n) => {
      if (measuring()) counts.errors += n;
    },
    // ICMP port unreachable on a connected socket (ECONNREFUSED), or a receive error.
    onError: () => {
      if (measuring()) counts.errors++;
    },
  });
  // Sealed mode on the native socket: it seals the requests and matches the replies itself (in C),
  // and the requests of a turn go out as one range of sequence numbers.
  const sendSealed =
    codec.native === undefined
      ? undefined
      : socket.sealedLoad?.(codec.native, (count, kinds, seqs) => {
          onMatched(count, kinds, seqs);
        });
  let rangeFirst = 0;
  let rangeCount = 0;
  const inFlight = new InFlight();
  const t0 = performance.now();
  measureStart = t0 + warmupMs;
  const measureEnd = measureStart + durationMs;
  let sending = true;
  // Widened: TypeScript cannot see that stop() (a closure) changes it.
  let stoppedBy = 'duration' as BenchSummaryEvent['stoppedBy'];
  let lastActivity = measureStart;
  let owed = 0; // open loop: requests due but not yet sent
  let scheduled = 0; // open loop: requests that have fallen due so far
  const interval = rate === null ? 0 : 1000 / rate;

  onEvent({
    event: 'started',
    time: isoNow(),
    to,
    local: { address: socket.address.address, port: socket.address.port },
    backend: socket.name,
    mode: codec.mode,
    bytes,
    concurrency,
    rate,
    durationMs,
    requests,
    warmupMs,
    timeoutMs,
  });

  let stoppedAt = Number.POSITIVE_INFINITY;
  const stop = (why: BenchSummaryEvent['stoppedBy']): void => {
    if (!sending) return;
    sending = false;
    stoppedBy = why;
    stoppedAt = performance.now(); // the drain waits at most timeoutMs after this
  };

  /** Adds one request to `out`, due at `due` (its latency is measured from then). */
  const sendOne = (now: number, due: number, out: Reply[]): void => {
    const seq = inFlight.nextSeq;
    if (now >= measureStart) {
      if (firstMeasuredSeq === Number.POSITIVE_INFINITY) firstMeasuredSeq = seq;
      counts.sent++;
      lastActivity = now;
      if (requests !== null && counts.sent >= requests) stop('requests');
    }
    inFlight.push(due);
    if (sendSealed === undefined) out.push({ data: codec.request(seq), to });
    else if (rangeCount++ === 0) rangeFirst = seq; // consecutive: sent by flushRange()
  };

  /** Sends the requests sendOne() left to the native socket to seal (sealed mode in C). */
  const flushRange = (): void => {
    if (rangeCount === 0 || sendSealed === undefined) return;
    const count = rangeCount;
    rangeCount = 0;
    sendSealed(rangeFirst, count);
  };

  /**
   * Tops the window up (closed loop) or takes what has fallen due (open loop): the requests to
   * send go to `out`, which the backend sends as one batch.
   */
  const fill = (now: number, out: Reply[]): void => {
    if (!sending) return;
    if (now >= measureEnd) {
      stop('duration');
      return;
    }
    if (rate === null) {
      while (sending && inFlight.live < concurrency) sendOne(now, now, out);
      return;
    }
    // Requests carried over from an earlier turn waited for a free slot: their latency counts
    // from when they fell due (no coordinated omission). Those due since the last turn count
    // from now, so the timer's own 1 ms granularity is not charged to the server.
    let carried = owed;
    // Request k (from 0) falls due at t0 + k × interval: the first at once.
    const due = Math.floor(((now - t0) * rate) / 1000) + 1;
    if (due > scheduled) {
      owed += due - scheduled;
      scheduled = due;
    }
    while (sending && owed > 0 && inFlight.live < concurrency) {
      const dueAt = carried > 0 ? t0 + (scheduled - owed) * interval : now;
      carried--;
      owed--;
      sendOne(now, dueAt, out);
    }
  };

  /** Fills outside a batch of replies (the first window, the timer) and sends at once. */
  const pending: Reply[] = [];
  const fillAndSend = (now: number): void => {
    fill(now, pending);
    flushRange();
    if (pending.length === 0) return;
    socket.send(pending);
    pending.length = 0;
  };

  /** Valid replies, the warm-up's too: the live rate of the `progress` events. */
  let answered = 0;
  const record = (seq: number, sentAt: number, now: number): void => {
    answered++;
    if (seq < firstMeasuredSeq) return; // a warm-up request
    counts.replies++;
    lastActivity = now;
    histogram.recordValue(Math.max(1, Math.round((now - sentAt) * 1000)));
  };

  const onReply = (data: Uint8Array, now: number): void => {
    onMatch(codec.match(data), now);
  };

  const onMatch = (m: ReplyMatch, now: number): void => {
    if (m === 'bad') {
      // A bad reply that names no request is charged to the oldest one in flight.
      const oldest = inFlight.takeOldest();
      if (oldest === undefined) counts.late++;
      else if (oldest.seq >= firstMeasuredSeq) counts.bad++;
    } else if (typeof m === 'object') {
      if (inFlight.take(m.bad) === undefined) counts.late++;
      else if (m.bad >= firstMeasuredSeq) counts.bad++;
    } else if (m === 'any') {
      const oldest = inFlight.takeOldest();
      if (oldest === undefined) counts.late++;
      else record(oldest.seq, oldest.time, now);
    } else {
      const sentAt = inFlight.take(m);
      if (sentAt === undefined) counts.late++;
      else record(m, sentAt, now);
    }
  };

  /**
   * A batch of replies (one on dgram, up to 64 on native, all read at `now`): each is matched,
   * then the requests they make room for go out as one batch (`out`, sent by the backend).
   */
  const onReplies = (batch: readonly Datagram[], out: Reply[]): void => {
    const now = performance.now();
    for (let i = 0; i < batch.length; i++) onReply((batch[i] as Datagram).data, now);
    fill(now, out);
    if (!sending && inFlight.live === 0) finish();
  };

  /** A batch of replies the native socket opened and matched (sealed mode in C): as onReplies. */
  function onMatched(count: number, kinds: Int32Array, seqs: Float64Array): void {
    const now = performance.now();
    for (let i = 0; i < count; i++) {
      const kind = kinds[i];
      const seq = seqs[i] ?? 0;
      onMatch(kind === 1 ? seq : kind === 2 ? { bad: seq } : 'bad', now);
    }
    fill(now, pending);
    flushRange();
    if (!sending && inFlight.live === 0) finish();
  }

  let lastProgress = { at: t0, answered: 0 };
  const expireLost = (now: number): void => {
    inFlight.expire(now - timeoutMs, (seq) => {
      if (seq >= firstMeasuredSeq) counts.lost++;
    });
  };
  const tickMs = Math.max(1, Math.min(rate === null ? 50 : 1, timeoutMs / 4, progressMs));
  let nextProgress = t0 + progressMs;
  const ticker = setInterval(() => {
    const now = performance.now();
    expireLost(now);
    fillAndSend(now);
    if (now >= nextProgress) {
      nextProgress += progressMs;
      const secs = (now - lastProgress.at) / 1000;
      onEvent({
        event: 'progress',
        time: isoNow(),
        phase: now < measureStart ? 'warmup' : 'measure',
        elapsedMs: Math.round(now - measureStart),
        ...counts,
        // Over the last interval, warm-up or not (the counts above leave the warm-up out).
        rps: secs > 0 ? Math.round((answered - lastProgress.answered) / secs) : 0,
      });
      lastProgress = { at: now, answered };
    }
    if (!sending && (inFlight.live === 0 || now >= stoppedAt + timeoutMs)) finish();
  }, tickMs);

  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  let finished = false;
  function finish(): void {
    if (finished) return;
    finished = true;
    resolveDone();
  }
  const onAbort = (): void => stop('signal');
  signal?.addEventListener('abort', onAbort, { once: true });
  if (signal?.aborted) stop('signal'); // aborted while resolving or connecting

  try {
    fillAndSend(performance.now());
    await done;
  } finally {
    clearInterval(ticker);
    signal?.removeEventListener('abort', onAbort);
    await socket.close();
  }
  expireLost(Number.POSITIVE_INFINITY); // whatever is still in flight after the drain is lost
  counts.unsent = owed;
  // A run stopped by the clock or a signal measured its whole window, even if nothing answered.
  const end =
    stoppedBy === 'requests'
      ? lastActivity
      : Math.max(lastActivity, Math.min(stoppedAt, measureEnd));
  const elapsedMs = Math.round(Math.max(0, end - measureStart) * 1000) / 1000;
  const summary: BenchSummaryEvent = {
    event: 'summary',
    time: isoNow(),
    to,
    mode: codec.mode,
    bytes,
    concurrency,
    rate,
    backend: socket.name,
    elapsedMs,
    rps: elapsedMs > 0 ? Math.round((counts.replies * 1000) / elapsedMs) : 0,
    latencyMs: latencySummary(histogram),
    stoppedBy,
    ...counts,
  };
  onEvent(summary);
  return summary;
}
