/**
 * The lab's client: sends one request and waits for the reply, retransmitting on the
 * schedule of backoff.ts. Safe by default: a connected socket, so the kernel delivers only
 * datagrams from the exact address and port the request went to (RFC 8085 §5.1 asks
 * applications to check this); `promiscuous` reproduces the lab's unsafe client.
 */
import dgram from 'node:dgram';
import { sameEndpoint } from './address.js';
import type { BackoffOptions } from './backoff.js';
import type { ClientEvent, IgnoreReason } from './client-events.js';
import { GaveUpError, matchReply } from './client-match.js';
import { prepareRequest, requestDatagram } from './client-prepare.js';
import { ErrorCodes, UdplabError, abortError, connectError, isErrno } from './errors.js';
import type { Endpoint, EventSink } from './events.js';
import { ignoreEvents, isoNow } from './events.js';
import { formatCount } from './format.js';
import type { SealKey } from './keys.js';

export type {
  BoundEvent,
  SentEvent,
  ReceivedEvent,
  IgnoreReason,
  IgnoredEvent,
  TimeoutEvent,
  RefusedEvent,
  GaveUpEvent,
  ClientEvent,
} from './client-events.js';

/** Options of {@link request}. Times in milliseconds. */
export interface RequestOptions extends BackoffOptions {
  /** Server host (IP or name). */
  host: string;
  /** Server port. */
  port: number;
  /** The request; default `Current time is <local date and time>`. */
  message?: string | Uint8Array;
  /** Add a request ID: true for a random one, or a given 1–20 digit ID. Default false. */
  id?: boolean | string;
  /** The lab's unsafe client: unconnected socket, accepts the first datagram from anyone. Default false. */
  promiscuous?: boolean;
  /** Keep the socket open this long after the reply, counting late duplicates. Default 0. */
  lingerMs?: number;
  /**
   * Sealed mode: seal the request with this key and accept only a reply sealed with it that answers
   * this request's ID (docs/sealed.md). `id` may then give the 64-bit ID in decimal; default random.
   */
  key?: SealKey;
  /** Receives every event. */
  onEvent?: EventSink<ClientEvent>;
  /** Aborts the request (rejects with code UDPLAB_ERR_ABORTED). */
  signal?: AbortSignal;
}

/** What {@link request} resolves to. */
export interface RequestResult {
  reply: Buffer;
  /** The reply escaped for display, without its ID token when `id` was given (else whole). */
  text: string;
  from: Endpoint;
  /** The client's own address and port. */
  local: Endpoint;
  /** From the latest transmission to the reply (Karn's ambiguity applies when attempts > 1). */
  rttMs: number;
  /** From the first transmission to the reply. */
  elapsedMs: number;
  attempts: number;
  fromServer: boolean;
  id?: string;
  /** Sealed mode: the request and the reply were sealed; `reply` is the opened reply body. */
  sealed: boolean;
  /** Datagrams ignored while waiting (strangers, wrong IDs) and late duplicates seen while lingering. */
  ignored: number;
  duplicates: number;
}

/**
 * Monotonic milliseconds for RTTs and the elapsed time. process.hrtime rather than
 * performance.now(): the first use of the global `performance` loads perf_hooks (nine internal
 * modules, ~1 ms of the client's cold start: docs/performance.md).
 */
function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/**
 * Sends one request and waits for its reply, retransmitting with exponential backoff.
 * @example
 * const r = await request({ host: '127.0.0.1', port: 5000 });
 * console.log(r.text, r.rttMs);
 * @throws RangeError for an option out of range (`port`, a plain `id` that is not 1–20 digits, the
 * schedule), before anything is sent; GaveUpError (code UDPLAB_ERR_TIMEOUT or UDPLAB_ERR_REFUSED)
 * when no reply came; UdplabError ABORTED, RESOLVE, TOO_BIG, SEND.
 */
export async function request(options: RequestOptions): Promise<RequestResult> {
  const onEvent = options.onEvent ?? ignoreEvents;
  const { signal } = options;
  if (signal?.aborted) throw abortError(signal);
  const prepared = await prepareRequest(options);
  const { waits, capReached, to, promiscuous, id, key } = prepared;

  const socket = dgram.createSocket(prepared.family);
  const cleanup: (() => void)[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      const done = (err?: Error | null): void => {
        socket.off('error', reject);
        if (err) reject(connectError(err, to.address, to.port));
        else resolve();
      };
      // Connect before asking for the address: an unbound socket has none, and only after
      // connect() does the kernel pick the source address of the route to the server.
      if (promiscuous) socket.bind(0, done);
      else socket.connect(to.port, to.address, done);
    });
    const localInfo = socket.address();
    const local: Endpoint = { address: localInfo.address, port: localInfo.port };
    onEvent({ event: 'bound', time: isoNow(), ...local });

    return await new Promise<RequestResult>((resolve, reject) => {
      const start = monotonicMs();
      let attempt = 0;
      let lastSent = start;
      let timer: NodeJS.Timeout | undefined;
      let lastSeen: 'timeout' | 'refused' = 'timeout';
      let result: RequestResult | undefined;
      let ignored = 0;
      let forged = 0;
      let notSealed = 0;
      // Plain mode with an ID: why each `wrong-id` datagram was wrong (the gave-up clues).
      const ids = { wrongId: 0, noId: 0, otherId: 0, fromElsewhere: 0 };
      cleanup.push(() => clearTimeout(timer));

      const fail = (err: unknown): void => {
        clearTimeout(timer);
        reject(err instanceof Error ? err : new Error(String(err)));
      };
      const onAbort = (): void => {
        if (result !== undefined)
          resolve(result); // aborted while lingering: the reply stands
        else fail(signal ? abortError(signal) : new Error('aborted'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      cleanup.push(() => signal?.removeEventListener('abort', onAbort));

      const onRefused = (): void => {
        lastSeen = 'refused';
        onEvent({ event: 'refused', time: isoNow(), attempt, from: to });
      };
      socket.on('error', (err) => {
        if (isErrno(err, 'ECONNREFUSED')) onRefused();
        else fail(new UdplabError(ErrorCodes.SEND, `socket error: ${err.message}`, { cause: err }));
      });

      const transmit = (): void => {
        attempt++;
        lastSent = monotonicMs();
        lastSeen = 'timeout';
        const n = attempt;
        const data = requestDatagram(prepared, n);
        const sendCb = (err: Error | null): void => {
          if (!err) return;
          if (isErrno(err, 'ECONNREFUSED')) onRefused();
          else if (isErrno(err, 'EMSGSIZE')) {
            fail(
              new UdplabError(
                ErrorCodes.TOO_BIG,
                `message of ${formatCount(data.length)} bytes is too big to send`,
                { cause: err },
              ),
            );
          } else
            fail(new UdplabError(ErrorCodes.SEND, `cannot send: ${err.message}`, { cause: err }));
        };
        if (promiscuous) socket.send(data, to.port, to.address, sendCb);
        else socket.send(data, sendCb);
        onEvent({
          event: 'sent',
          time: isoNow(),
          to,
          bytes: data.length,
          attempt: n,
          ...(id === undefined ? {} : { id }),
          ...(key === undefined ? {} : { sealed: true as const }),
        });
        const wait = waits[n - 1] ?? 0;
        timer = setTimeout(() => {
          const next = waits[n];
          onEvent({
            event: 'timeout',
            time: isoNow(),
            attempt: n,
            waitedMs: wait,
            nextWaitMs: next ?? null,
            ...(next === undefined ? { lastBecause: capReached ? 'attempts' : 'max-delay' } : {}),
          });
          if (next !== undefined) {
            transmit();
            return;
          }
          const elapsedMs = Math.round((monotonicMs() - start) * 1000) / 1000;
          // What the ignored datagrams say about the silence: a key mismatch (sealed), or a server
          // that answers without echoing the request's ID (plain, with an ID).
          const clues =
            key !== undefined
              ? { keyId: key.id, forged, notSealed }
              : id !== undefined
                ? { ...ids }
                : {};
          onEvent({
            event: 'gave-up',
            time: isoNow(),
            code: lastSeen === 'refused' ? ErrorCodes.REFUSED : ErrorCodes.TIMEOUT,
            reason: lastSeen,
            attempts: n,
            elapsedMs,
            to,
            local,
            ...clues,
          });
          fail(
            new GaveUpError({
              attempts: n,
              elapsedMs,
              reason: lastSeen,
              ...(key !== undefined ? { keyId: key.id } : id !== undefined ? { ...ids } : {}),
            }),
          );
        }, wait);
      };

      socket.on('message', (data, rinfo) => {
        const from: Endpoint = { address: rinfo.address, port: rinfo.port };
        const { reply, text, verdict, wrongKind } = matchReply(prepared, data, from);
        const ignore = (reason: IgnoreReason): void => {
          ignored++;
          if (reason === 'forged') forged++;
          else if (reason === 'not-sealed') notSealed++;
          else if (reason === 'wrong-id') {
            ids.wrongId++;
            if (key === undefined) ids[wrongKind]++;
          }
          onEvent({ event: 'ignored', time: isoNow(), from, bytes: data.length, text, reason });
        };
        // In sealed mode a forgery stays a forgery after the reply came; in plain mode anything
        // after the reply is a duplicate (the lab's counting of late copies).
        if (key !== undefined && verdict !== undefined) return ignore(verdict);
        if (result !== undefined) {
          result.duplicates++;
          ignore('duplicate');
          return;
        }
        const fromServer = sameEndpoint(from, to);
        if (!promiscuous && !fromServer) return ignore('stranger'); // kernel filters; belt and braces
        if (verdict !== undefined) return ignore(verdict);
        const now = monotonicMs();
        const rttMs = now - lastSent;
        clearTimeout(timer);
        onEvent({
          event: 'received',
          time: isoNow(),
          from,
          bytes: reply.length,
          text,
          rttMs,
          attempt,
          fromServer,
          ...(id === undefined ? {} : { id }),
          ...(key === undefined ? {} : { sealed: true as const }),
        });
        result = {
          reply,
          text,
          from,
          local,
          rttMs,
          elapsedMs: now - start,
          attempts: attempt,
          fromServer,
          sealed: key !== undefined,
          ignored,
          duplicates: 0,
          ...(id === undefined ? {} : { id }),
        };
        const linger = options.lingerMs ?? 0;
        const r = result;
        if (linger <= 0) resolve(r);
        else timer = setTimeout(() => resolve(r), linger);
      });

      transmit();
    });
  } finally {
    for (const f of cleanup) f();
    socket.close();
  }
}
