/**
 * Finds the limits by binary search: (a) the largest datagram the local stack accepts for a
 * destination — the EMSGSIZE boundary, 65,507 bytes over IPv4 and 65,527 over IPv6 — and (b),
 * when an echo peer answers there, the largest datagram that makes the round trip intact.
 * Both assume the answer is monotonic in the size, which holds for the kernel's check and for
 * a path that fragments; a lost datagram is retried (`attempts`) before a size counts as failed.
 */
import dgram from 'node:dgram';
import { maxPayload, parseHostPort, resolveHost, type Family } from './address.js';
import { familyOfAddress, fragmentDataBytes, ipFragments } from './chunks.js';
import { ErrorCodes, UdplabError, abortError, bindError, connectError, isErrno } from './errors.js';
import type { BaseEvent, Endpoint, EventSink } from './events.js';
import { ignoreEvents, isoNow } from './events.js';
import { pathMtu, type MtuSystem, type PathMtu } from './mtu.js';

/** Largest size tried: the 16-bit length field of IPv4 total length / IPv6 payload length. */
const MAX_TRY = 65535;
/** Size of the first round trip, which tells whether an echo peer is there at all. */
const PEER_CHECK_BYTES = 64;

/** Which search a progress line belongs to. */
export type ProbePhase = 'local' | 'peer' | 'round-trip';

/** `progress`: one size tried; the boundary now lies in [low, high). */
export interface ProbeProgressEvent extends BaseEvent {
  event: 'progress';
  phase: ProbePhase;
  bytes: number;
  ok: boolean;
  /** Largest size known to pass. */
  low: number;
  /** Smallest size known to fail. */
  high: number;
  /** Why a size failed, in words (`EMSGSIZE`, `no echo`, `echoed 4096 of 8000 bytes`). */
  detail?: string;
}
/** `summary`: the figures. */
export interface ProbeSummaryEvent extends BaseEvent {
  event: 'summary';
  to: Endpoint;
  family: 'IPv4' | 'IPv6';
  /** The UDP payload limit of the family (65,507 / 65,527). */
  limit: number;
  /** Largest datagram the local stack accepts for this destination. */
  localMax: number;
  /** True when something echoed at the destination. */
  echoPeer: boolean;
  /** Largest datagram that came back intact; null without an echo peer. */
  roundTripMax: number | null;
  /** Interface the route uses; null when the system does not tell. */
  interface: string | null;
  /** The path MTU packets to `to` are cut to; null when the system does not tell. */
  mtu: number | null;
  /** Where `mtu` came from (`learned`, `route`, `interface`; see {@link PathMtu}); null when unknown. */
  source: PathMtu['source'] | null;
  /** The interface's own MTU (/sys/class/net/IF/mtu); null when unknown. */
  interfaceMtu: number | null;
  /** Seconds until a `learned` path MTU expires; null otherwise. */
  expiresSec: number | null;
  /** IP packets the largest datagram (round trip, else local) becomes on that MTU. */
  fragments: number | null;
  fragmentBytes: number | null;
}
/** Every event of `probe`. */
export type ProbeEvent = ProbeProgressEvent | ProbeSummaryEvent;

/** Options of {@link probe}. Times in milliseconds. */
export interface ProbeOptions {
  host: string;
  port: number;
  /** Wait for each echo. Default 500. */
  timeoutMs?: number;
  /** Tries per size in the round-trip search before it counts as failed. Default 2. */
  attempts?: number;
  /**
   * Measure the round trip too. Default true. False skips only that: the local search still sends
   * the sizes the kernel accepts (about 13 datagrams, up to 65,507 bytes) to `host:port`.
   */
  roundTrip?: boolean;
  /**
   * Local address to send the round trip from, `HOST:PORT` (so that an echo client can be told
   * where its server is). Bound before anything is sent, even with `roundTrip: false`: an address
   * that cannot be had rejects with UDPLAB_ERR_BIND at once, with no datagram sent.
   */
  bind?: string;
  onEvent?: EventSink<ProbeEvent>;
  signal?: AbortSignal;
  mtuSystem?: MtuSystem;
}

/** What {@link probe} resolves to: the figures of the `summary` event. */
export type ProbeResult = Omit<ProbeSummaryEvent, 'event' | 'time'> & { path: PathMtu | undefined };

/**
 * The payload of probe number `seq`: `udplab-probe SEQ ` then `z` up to `size` bytes, so an
 * echo is matched to its probe and a stale echo of an earlier probe is recognised.
 */
export function probePayload(seq: number, size: number): Buffer {
  const head = Buffer.from(`udplab-probe ${seq} `, 'latin1');
  const out = Buffer.alloc(size, 'z', 'latin1');
  head.copy(out, 0, 0, Math.min(head.length, size));
  return out;
}

/**
 * The largest n in (low, high) for which `ok(n)` holds, given ok(low) and not ok(high).
 * @example await largestPassing(0, 100, async (n) => n <= 42) // 42
 */
export async function largestPassing(
  low: number,
  high: number,
  ok: (n: number) => Promise<boolean>,
): Promise<number> {
  let lo = low;
  let hi = high;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (await ok(mid)) lo = mid;
    else hi = mid;
  }
  return lo;
}

async function openSocket(
  family: Family,
  bind: { address: string; port: number } | undefined,
  connectTo: Endpoint | undefined,
): Promise<dgram.Socket> {
  const socket = dgram.createSocket(family);
  await new Promise<void>((resolve, reject) => {
    const fail = (err: Error): void => {
      socket.close();
      reject(bindError(err, bind?.address ?? '', bind?.port ?? 0));
    };
    socket.once('error', fail);
    const done = (): void => {
      socket.off('error', fail);
      resolve();
    };
    const connect = (): void => {
      if (connectTo) {
        socket.connect(connectTo.port, connectTo.address, (err?: Error) => {
          if (err === undefined || err === null) return done();
          socket.off('error', fail);
          socket.close();
          reject(connectError(err, connectTo.address, connectTo.port));
        });
      } else done();
    };
    if (bind) socket.bind({ address: bind.address, port: bind.port }, connect);
    else if (connectTo) connect();
    else socket.bind(0, done);
  });
  return socket;
}

/**
 * Probes the limits for `host`.
 * @example
 * const r = await probe({ host: '127.0.0.1', port: 7 });
 * // r.localMax === 65507; r.roundTripMax === 65507 when an echo service answers
 * @throws RangeError for bad options; UdplabError RESOLVE, BIND, ABORTED, SEND (the stack refuses
 * even one byte, e.g. no route).
 */
export async function probe(options: ProbeOptions): Promise<ProbeResult> {
  const onEvent = options.onEvent ?? ignoreEvents;
  const { signal } = options;
  const timeoutMs = options.timeoutMs ?? 500;
  const attempts = options.attempts ?? 2;
  if (!(timeoutMs > 0)) throw new RangeError(`timeoutMs must be > 0 (got ${timeoutMs})`);
  if (!Number.isInteger(attempts) || attempts < 1) {
    throw new RangeError(`attempts must be an integer ≥ 1 (got ${attempts})`);
  }
  const bindAt = options.bind === undefined ? undefined : parseHostPort(options.bind, true);
  if (signal?.aborted) throw abortError(signal);
  const target = await resolveHost(options.host);
  const to: Endpoint = { address: target.address, port: options.port };
  const local = bindAt ? await resolveHost(bindAt.host) : undefined;
  if (local && local.family !== target.family) {
    throw new RangeError(
      `bind address ${bindAt?.host ?? ''} is not of ${options.host}'s IP version`,
    );
  }
  const bind = local && bindAt ? { address: local.address, port: bindAt.port } : undefined;
  const family = familyOfAddress(to.address);
  const limit = maxPayload(family);
  const path = pathMtu(to.address, options.mtuSystem);
  const checkAbort = (): void => {
    if (signal?.aborted) throw abortError(signal);
  };

  // The round-trip socket first, bound (--bind) and connected before a single datagram leaves,
  // so that a bind that cannot be had (EADDRINUSE…) fails at once, as echo-client's does, and not
  // after the whole local search (regression test: probe.test.ts, "--bind on a port in use").
  // Connected: only the destination's datagrams come in, and ICMP port unreachable says at once
  // that nothing listens there. With --local-only it is opened only to check --bind.
  const roundTrip = options.roundTrip ?? true;
  const held = roundTrip || bind ? await openSocket(target.family, bind, to) : undefined;
  let pending:
    | { payload: Buffer; head: Buffer; settle: (r: { ok: boolean; detail?: string }) => void }
    | undefined;
  // Listening from the start: an error with no listener would crash the process.
  held?.on('error', (err) => {
    if (isErrno(err, 'ECONNREFUSED')) pending?.settle({ ok: false, detail: 'port unreachable' });
  });
  let localMax: number;
  let roundTripMax: number | null = null;
  let echoPeer = false;
  try {
    // (a) The local boundary, on an unconnected socket: only EMSGSIZE matters, and Linux does
    // not report ICMP errors to unconnected sockets, so a missing listener cannot disturb it.
    {
      const socket = await openSocket(target.family, undefined, undefined);
      socket.on('error', () => undefined);
      try {
        const accepts = (n: number): Promise<Error | null> =>
          new Promise((resolve) => {
            socket.send(probePayload(0, n), to.port, to.address, (err) => resolve(err));
          });
        const first = await accepts(1);
        if (first) {
          throw new UdplabError(ErrorCodes.SEND, `cannot send to ${to.address}: ${first.message}`, {
            cause: first,
          });
        }
        let lo = 1;
        let hi = MAX_TRY + 1;
        const step = async (n: number): Promise<boolean> => {
          checkAbort();
          const err = await accepts(n);
          if (err && !isErrno(err, 'EMSGSIZE')) {
            throw new UdplabError(ErrorCodes.SEND, `cannot send ${n} bytes: ${err.message}`, {
              cause: err,
            });
          }
          const ok = err === null;
          if (ok) lo = n;
          else hi = n;
          onEvent({
            event: 'progress',
            time: isoNow(),
            phase: 'local',
            bytes: n,
            ok,
            low: lo,
            high: hi,
            ...(ok ? {} : { detail: 'EMSGSIZE' }),
          });
          return ok;
        };
        // Try the top first: a stack that takes the whole 16-bit range needs no search.
        localMax = (await step(MAX_TRY)) ? MAX_TRY : await largestPassing(1, MAX_TRY, step);
      } finally {
        socket.close();
      }
    }

    // (b) The round trip, on the socket opened above.
    if (roundTrip && held) {
      const socket = held;
      let seq = 0;
      socket.on('message', (data) => {
        const p = pending;
        if (!p || data.length < Math.min(p.head.length, p.payload.length)) return;
        if (!data.subarray(0, p.head.length).equals(p.head.subarray(0, data.length))) return; // stale
        if (data.equals(p.payload)) p.settle({ ok: true });
        else p.settle({ ok: false, detail: `echoed ${data.length} of ${p.payload.length} bytes` });
      });
      const roundTrip = async (n: number): Promise<{ ok: boolean; detail?: string }> => {
        let last: { ok: boolean; detail?: string } = { ok: false };
        for (let i = 0; i < attempts; i++) {
          checkAbort();
          seq++;
          const payload = probePayload(seq, n);
          const head = Buffer.from(`udplab-probe ${seq} `, 'latin1');
          let timer: NodeJS.Timeout | undefined;
          let onAbort: (() => void) | undefined;
          last = await new Promise<{ ok: boolean; detail?: string }>((resolve) => {
            const settle = (r: { ok: boolean; detail?: string }): void => {
              pending = undefined;
              resolve(r);
            };
            pending = { payload, head, settle };
            timer = setTimeout(() => settle({ ok: false, detail: 'no echo' }), timeoutMs);
            onAbort = () => settle({ ok: false, detail: 'aborted' });
            signal?.addEventListener('abort', onAbort, { once: true });
            socket.send(payload, (err) => {
              if (err)
                settle({ ok: false, detail: (err as NodeJS.ErrnoException).code ?? err.message });
            });
          }).finally(() => {
            clearTimeout(timer);
            if (onAbort) signal?.removeEventListener('abort', onAbort);
          });
          // A wrong echo or an unreachable port is an answer; only silence is worth another try.
          if (last.ok || last.detail !== 'no echo') break;
        }
        checkAbort();
        return last;
      };
      try {
        let lo = 0;
        let hi = localMax + 1;
        const step =
          (phase: ProbePhase) =>
          async (n: number): Promise<boolean> => {
            const r = await roundTrip(n);
            if (r.ok) lo = n;
            else hi = n;
            onEvent({
              event: 'progress',
              time: isoNow(),
              phase,
              bytes: n,
              ok: r.ok,
              low: lo,
              high: hi,
              ...(r.detail === undefined ? {} : { detail: r.detail }),
            });
            return r.ok;
          };
        const small = Math.min(PEER_CHECK_BYTES, localMax);
        echoPeer = await step('peer')(small);
        if (echoPeer) {
          const rt = step('round-trip');
          roundTripMax =
            localMax === small || (await rt(localMax))
              ? localMax
              : await largestPassing(small, localMax, rt);
        }
      } finally {
        pending = undefined;
      }
    }
  } finally {
    held?.close();
  }

  const mtu = await path;
  const biggest = roundTripMax ?? localMax;
  let fragments: number | null = null;
  try {
    fragments = mtu ? ipFragments(biggest, mtu.mtu, family) : null;
  } catch {
    fragments = null;
  }
  const result = {
    to,
    family: family === 'udp6' ? ('IPv6' as const) : ('IPv4' as const),
    limit,
    localMax,
    echoPeer,
    roundTripMax,
    interface: mtu?.interface ?? null,
    mtu: mtu?.mtu ?? null,
    source: mtu?.source ?? null,
    interfaceMtu: mtu?.interfaceMtu ?? null,
    expiresSec: mtu?.expiresSec ?? null,
    fragments,
    fragmentBytes: mtu ? fragmentDataBytes(mtu.mtu, family) : null,
  };
  onEvent({ event: 'summary', time: isoNow(), ...result });
  return { ...result, path: mtu };
}
