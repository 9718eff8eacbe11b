/**
 * The lab's client: sends one request and waits for the reply, retransmitting on the
 * schedule of backoff.ts. Safe by default: a connected socket, so the kernel delivers only
 * datagrams from the exact address and port the request went to (RFC 8085 §5.1 asks
 * applications to check this); `promiscuous` reproduces the lab's unsafe client.
 */
import dgram from 'node:dgram';
import { destinationOf, maxPayload, resolveHost, sameEndpoint } from './address.js';
import { schedule, type BackoffOptions } from './backoff.js';
import { ErrorCodes, UdplabError, abortError, connectError, isErrno } from './errors.js';
import type { Endpoint, EventSink } from './events.js';
import { ignoreEvents, isoNow } from './events.js';
import type { SealKey } from './keys.js';
import { escapePayload } from './wire/escape.js';
import { isValidId, parseId, randomId, stripId, withId } from './wire/text.js';
import type { ClientEvent, IgnoreReason } from './client-events.js';

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
  /** The reply without its ID token, escaped for display. */
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

/** Details carried by the TIMEOUT error. */
export interface GaveUpDetails {
  attempts: number;
  elapsedMs: number;
  reason: 'timeout' | 'refused';
  /** Sealed mode: the client's key ID (a server with another key stays silent). */
  keyId?: string;
  /**
   * Plain mode with a request ID: how many datagrams were ignored because they did not carry it
   * (reason `wrong-id`), the sum of the three counts below.
   */
  wrongId?: number;
  /**
   * Of those, from the server's own address and port with no ID at all. More than 0 means the server
   * answered but does not echo IDs (the lab's Python server does not).
   */
  noId?: number;
  /** Of those, from the server's own address and port with another request's ID. */
  otherId?: number;
  /** Of those, from any other address or port (`promiscuous` only): possibly spoofed. */
  fromElsewhere?: number;
}

/** The error {@link request} rejects with when the schedule runs out (code TIMEOUT or REFUSED). */
export class GaveUpError extends UdplabError {
  readonly details: GaveUpDetails;
  constructor(details: GaveUpDetails) {
    super(
      details.reason === 'refused' ? ErrorCodes.REFUSED : ErrorCodes.TIMEOUT,
      `Cannot receive data from server (${details.attempts} attempts over ${(details.elapsedMs / 1000).toFixed(1)} s)` +
        (details.keyId === undefined
          ? ''
          : `; sealed with key ID ${details.keyId}: a server with another key (or none) stays silent, so a key mismatch is one possible cause`) +
        (details.noId
          ? `; the server answered ${details.noId === 1 ? 'once' : `${String(details.noId)} times`} without the request's ID: it does not echo request IDs`
          : '') +
        (details.otherId
          ? `; the server answered ${details.otherId === 1 ? 'once' : `${String(details.otherId)} times`} with another request's ID`
          : '') +
        (details.fromElsewhere
          ? `; ${String(details.fromElsewhere)} datagram${details.fromElsewhere === 1 ? '' : 's'} from another address or port did not carry the request's ID (possibly spoofed)`
          : ''),
    );
    this.name = 'GaveUpError';
    this.details = details;
  }
}

/** The lab's default request text: `Current time is 2026-11-25 16:45:12.123` (local time). */
export function currentTimeMessage(now = new Date()): string {
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  const d = `${now.getFullYear()}-${p(now.getMonth() + 1)}-${p(now.getDate())}`;
  const t = `${p(now.getHours())}:${p(now.getMinutes())}:${p(now.getSeconds())}.${p(now.getMilliseconds(), 3)}`;
  return `Current time is ${d} ${t}`;
}

const MAX_U64 = 0xffff_ffff_ffff_ffffn;

/** The sealed request ID: the decimal one given, or a random 64-bit one. @throws RangeError */
async function sealedId(id: boolean | string | undefined): Promise<bigint> {
  if (typeof id !== 'string') {
    const { randomBytes } = await import('node:crypto'); // not loaded by plain requests
    return randomBytes(8).readBigUInt64BE(0);
  }
  const v = /^[0-9]{1,20}$/.test(id) ? BigInt(id) : -1n;
  if (v < 0n || v > MAX_U64) throw new RangeError('id must be a decimal number in 0 … 2^64 − 1');
  return v;
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
  const waits = schedule(options);
  // The options are checked before anything is sent, as the CLI checks its arguments.
  if (!(Number.isInteger(options.port) && options.port >= 1 && options.port <= 65535)) {
    throw new RangeError(`port must be an integer from 1 to 65535 (got ${String(options.port)})`);
  }
  if (typeof options.id === 'string' && options.key === undefined && !isValidId(options.id)) {
    throw new RangeError(`id must be 1 to 20 decimal digits (got ${JSON.stringify(options.id)})`);
  }
  const server = await resolveHost(options.host);
  // A server "at" 0.0.0.0 or :: is this machine: the kernel sends to loopback, and the reply
  // comes from there, so that is the address replies are matched against (and shown).
  const to: Endpoint = { address: destinationOf(server.address), port: options.port };
  const key = options.key;
  const sealed = key === undefined ? undefined : await sealedId(options.id);
  // The sealed codec (and node:crypto under it) is loaded only in sealed mode: plain requests,
  // the common case, start faster without it (docs/performance.md).
  const wire = key === undefined ? undefined : await import('./wire/sealed.js');
  const id =
    sealed !== undefined
      ? sealed.toString()
      : options.id === true
        ? randomId((await import('node:crypto')).randomBytes) // loaded only for --id: start-up cost
        : typeof options.id === 'string'
          ? options.id
          : undefined;
  const body = options.message ?? currentTimeMessage();
  const bodyBytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : Buffer.from(body);
  const payload =
    id === undefined || sealed !== undefined
      ? bodyBytes
      : Buffer.concat([Buffer.from(withId(id, ''), 'latin1'), bodyBytes]);
  const promiscuous = options.promiscuous ?? false;
  // Refuse up front what the stack would refuse with EMSGSIZE, before any event says "sent".
  const limit = maxPayload(server.family) - (wire === undefined ? 0 : wire.SEALED_OVERHEAD);
  const wireBytes = payload.length;
  if (wireBytes > limit) {
    throw new UdplabError(
      ErrorCodes.TOO_BIG,
      `message of ${bodyBytes.length} bytes is too big: at most ${limit - (wireBytes - bodyBytes.length)} bytes fit in one UDP datagram over ${server.family === 'udp6' ? 'IPv6' : 'IPv4'}${wire === undefined ? '' : ' (sealed)'}`,
    );
  }
  // Why the schedule ends: the --attempts cap, or the next wait passing --max-delay.
  const capReached = options.attempts !== undefined && waits.length === options.attempts;

  const socket = dgram.createSocket(server.family);
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
        // Sealed mode seals every transmission afresh: a new nonce and time, and the attempt number
        // that lets the server tell a retransmission (higher number) from a replay (docs/sealed.md).
        const data =
          key === undefined || sealed === undefined || wire === undefined
            ? payload
            : wire.sealDatagram(key, {
                type: wire.SealedType.REQUEST,
                id: sealed,
                timeMs: Date.now(),
                attempt: Math.min(n, wire.MAX_ATTEMPT),
                body: bodyBytes,
              });
        const sendCb = (err: Error | null): void => {
          if (!err) return;
          if (isErrno(err, 'ECONNREFUSED')) onRefused();
          else if (isErrno(err, 'EMSGSIZE')) {
            fail(
              new UdplabError(
                ErrorCodes.TOO_BIG,
                `message of ${data.length} bytes is too big to send`,
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
        let reply: Buffer = data;
        let text: string;
        let verdict: IgnoreReason | undefined;
        // Plain mode: which count a `wrong-id` datagram adds to (only the server's own address and
        // port without any ID means "it does not echo IDs"; test/client-id.test.ts).
        let wrongKind: 'noId' | 'otherId' | 'fromElsewhere' = 'noId';
        if (key === undefined || wire === undefined) {
          const rid = parseId(data);
          if (id !== undefined && rid !== id) {
            verdict = 'wrong-id';
            wrongKind = !sameEndpoint(from, to)
              ? 'fromElsewhere'
              : rid === undefined
                ? 'noId'
                : 'otherId';
          }
          // A datagram with the wrong ID is shown whole: its ID is what was wrong.
          text = escapePayload(verdict === undefined ? stripId(data, rid) : data);
        } else {
          // Sealed: nothing is believed before the tag verifies; forged datagrams are shown escaped.
          const opened = wire.openDatagram(key, data);
          if (!opened.ok) {
            verdict = opened.reason === 'not-sealed' ? 'not-sealed' : 'forged';
            text = escapePayload(data);
          } else {
            const m = opened.message;
            reply = Buffer.from(m.body.buffer, m.body.byteOffset, m.body.length);
            text = escapePayload(reply);
            if (m.type !== wire.SealedType.REPLY) verdict = 'forged';
            else if (m.id !== sealed) verdict = 'wrong-id';
          }
        }
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
