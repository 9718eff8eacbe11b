/**
 * The lab's reply server. The reply logic lives in server-core.ts, the sockets in backend/
 * (node:dgram, or recvmmsg/sendmmsg batches on Linux); this file wires them to the events.
 */
import { resolveHost } from './address.js';
import { checkBackendChoice, openBackend } from './backend/select.js';
import type { BackendChoice, BackendName } from './backend/types.js';
import type { BaseEvent, Endpoint, ErrorEvent, EventSink } from './events.js';
import { ignoreEvents, isoNow } from './events.js';
import { ErrorCodes, abortError } from './errors.js';
import type { Rng } from './rng.js';
import {
  ServerCore,
  hardeningOf,
  type HardeningInfo,
  type HardeningOptions,
} from './server-core.js';
import type { CoreEvent, ServerCounters } from './server-events.js';

export { bindSocket } from './backend/dgram.js';
import { checkBindPort } from './backend/dgram.js';
export type { BackendChoice, BackendName } from './backend/types.js';

/**
 * `listening`: the socket is bound; the real address and port (the OS's choice for port 0), and the
 * hardening in force (`keyId`, `windowMs`, `replayCacheSize` in sealed mode; `rateLimit`).
 */
export interface ListeningEvent extends BaseEvent, HardeningInfo {
  event: 'listening';
  address: string;
  port: number;
  family: 'IPv4' | 'IPv6';
  /** The socket backend that runs: `native` (recvmmsg/sendmmsg batches) or `dgram`. */
  backend: BackendName;
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
  /** `native` (Linux addon, batches of 64), `dgram`, or `auto`: native when it loads. Default `auto`. */
  backend?: BackendChoice;
}

/** A running server. */
export interface UdpServer {
  /** Where it listens. */
  readonly address: Endpoint & { family: 'IPv4' | 'IPv6' };
  /** The socket backend that runs. */
  readonly backend: BackendName;
  /**
   * Where replies are decided: `js` (ServerCore, src/server-core.ts), or `c` when the native socket
   * answers sealed requests itself (a sealed server without per-datagram events, drops or a rate
   * limit, on the native backend: docs/native.md).
   */
  readonly replyPath: 'js' | 'c';
  /** Live totals. */
  readonly counters: Readonly<ServerCounters>;
  /** Stops receiving, emits `summary`, closes the socket. Idempotent. */
  close(): Promise<void>;
  /** Settles when the server has closed. */
  readonly closed: Promise<void>;
}

/**
 * Starts the lab's reply server.
 * @example
 * const server = await createServer({ host: '127.0.0.1', port: 0, onEvent: console.log });
 * // … later
 * await server.close();
 * @throws RangeError for an option out of range (`port`, `sendQueueLimit`, `backend` not one of
 * auto, native, dgram, …), before any socket is opened; UdplabError BIND (port in use, address not
 * on this machine), RESOLVE, BACKEND (`backend: 'native'` where the addon cannot load), or ABORTED (the signal
 * was aborted before it started).
 */
export async function createServer(options: ServerOptions = {}): Promise<UdpServer> {
  const onEvent = options.onEvent ?? ignoreEvents;
  checkBackendChoice(options.backend);
  const core = new ServerCore({
    ...(options.dropProbability === undefined ? {} : { dropProbability: options.dropProbability }),
    ...(options.rng === undefined ? {} : { rng: options.rng }),
    perDatagramEvents: options.perDatagramEvents ?? true,
    ...hardeningOf(options),
  });
  const sendQueueLimit = options.sendQueueLimit ?? 1024;
  if (!(Number.isInteger(sendQueueLimit) && sendQueueLimit >= 1)) {
    throw new RangeError('sendQueueLimit must be an integer ≥ 1');
  }
  checkBindPort(options.port ?? 0); // before the native backend, which has its own bind
  if (options.signal?.aborted) throw abortError(options.signal);
  const resolved = await resolveHost(options.host ?? '');
  const events: CoreEvent[] = [];
  const backend = await openBackend(options.backend ?? 'auto', {
    family: resolved.family,
    address: resolved.address,
    port: options.port ?? 0,
    sendQueueLimit,
    onBatch: (batch, replies) => {
      let failure: unknown;
      try {
        core.handleBatch(batch, isoNow(), replies, events);
      } catch (err) {
        failure = err; // a bug, not the sender's doing: a throw here would end the process
      }
      // Indexed loop, and `length = 0` only on a non-empty array: emptying an array drops its
      // backing store, so the next push allocates again (this runs per batch).
      if (events.length > 0) {
        for (let i = 0; i < events.length; i++) onEvent(events[i] as CoreEvent);
        events.length = 0;
      }
      if (failure !== undefined) {
        // Keep what was decided, report it, and serve the next batch: no datagram may crash it.
        const why =
          failure instanceof Error ? failure.message : 'something not an Error was thrown';
        onEvent({
          event: 'error',
          time: isoNow(),
          code: ErrorCodes.INTERNAL,
          message: `internal error on a batch of ${String(batch.length)} datagram(s), the rest of it not answered: ${why}`,
        });
      }
    },
    onSendFailed: (count) => {
      core.counters.sendFailed += count;
    },
    onError: (err) => {
      onEvent({ event: 'error', time: isoNow(), code: err.code ?? 'ERR', message: err.message });
    },
  });
  // A sealed --quiet server on the native backend answers in C (docs/native.md), before any batch.
  const sealedPath = core.nativeSealed();
  let counts: Float64Array | undefined;
  try {
    counts = sealedPath === undefined ? undefined : backend.answerSealed?.(sealedPath);
  } catch (err) {
    await backend.close(); // a bound socket must not outlive a failed start
    throw err;
  }
  if (counts !== undefined) core.attachNative(counts);
  const address = backend.address;
  onEvent({ event: 'listening', time: isoNow(), ...address, backend: backend.name, ...core.info });

  let closing: Promise<void> | undefined;
  let resolveClosed!: () => void;
  const closed = new Promise<void>((r) => (resolveClosed = r));
  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      options.signal?.removeEventListener('abort', onAbort);
      void backend.close().then(() => {
        core.syncNative();
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

  return {
    address,
    backend: backend.name,
    replyPath: counts === undefined ? 'js' : 'c',
    get counters() {
      core.syncNative();
      return core.counters;
    },
    close,
    closed,
  };
}
