/**
 * The lab's Task 3 server: waits for an echo client's hello, tries to send one datagram of
 * `size` bytes (80,000 by default: more than UDP can carry, so the kernel refuses it with
 * EMSGSIZE), then sends the same bytes as `chunks` datagrams, checks every echo byte for byte,
 * and reports which pieces came back and the MTU of the path they took. The split and the
 * checks are pure (chunks.ts); this file owns the socket.
 */
import type dgram from 'node:dgram';
import { maxPayload, resolveHost, sameEndpoint } from './address.js';
import {
  EchoMatcher,
  MAX_BIG_BYTES,
  MAX_CHUNKS,
  familyOfAddress,
  fragmentDataBytes,
  ipFragments,
  makePayload,
  splitPayload,
  splitSizes,
} from './chunks.js';
import { ErrorCodes, UdplabError, abortError, isErrno } from './errors.js';
import type { Endpoint, EventSink } from './events.js';
import { ignoreEvents, isoNow } from './events.js';
import { formatCount } from './format.js';
import { pathMtu, type MtuSystem, type PathMtu } from './mtu.js';
import { bindSocket } from './server.js';
import type { BigsendEvent, BigsendSummaryEvent, EchoIgnoreReason } from './bigsend-events.js';

export type {
  BigsendListeningEvent,
  HelloEvent,
  TooBigEvent,
  SentWholeEvent,
  ChunkSentEvent,
  ChunkEchoedEvent,
  WholeEchoedEvent,
  EchoIgnoreReason,
  EchoIgnoredEvent,
  BigsendSummaryEvent,
  PathMtuEvent,
  BigsendEvent,
} from './bigsend-events.js';

/** Options of {@link bigsend}. Times in milliseconds. */
export interface BigsendOptions {
  /** Interface to bind (as `udplab server`). Default `""` (all IPv4 interfaces). */
  host?: string;
  /** Port to bind; 0 lets the OS choose (read it from the `listening` event). Default 0. */
  port?: number;
  /** Bytes to send. Default 80,000. At most 16 MiB. */
  size?: number;
  /** Pieces to send them in. Default 16. From 1 to min(size, 65,536). */
  chunks?: number;
  /** The character repeated to fill the payload. Default `z`. */
  fill?: string;
  /** Fill with a counter instead, so that every piece differs and a missing one is named exactly. */
  pattern?: boolean;
  /** How long to wait for the echoes after the last piece went out. Default 2,000. */
  waitMs?: number;
  /** Pause between pieces (pacing for slow receivers). Default 0. */
  intervalMs?: number;
  /** Receives every event. */
  onEvent?: EventSink<BigsendEvent>;
  /**
   * Aborts: before the last piece went out it rejects with UDPLAB_ERR_ABORTED; while waiting for
   * the echoes it stops waiting and resolves with what came back.
   */
  signal?: AbortSignal;
  /** How the path MTU is read (tests inject one). Default: iproute2 and sysfs. */
  mtuSystem?: MtuSystem;
}

/** What {@link bigsend} resolves to: the summary's figures, the echo client, the path's MTU. */
export interface BigsendResult extends Omit<BigsendSummaryEvent, 'event' | 'time'> {
  client: Endpoint;
  /** The path's MTU, when the system told. */
  path: PathMtu | undefined;
}

/** The defaults of the lab. */
export const BIGSEND_DEFAULTS = { size: 80000, chunks: 16, fill: 'z', waitMs: 2000 } as const;

/**
 * Checks a size and a number of pieces before any socket opens.
 * @returns the largest piece in bytes.
 * @throws RangeError naming the option: size or chunks out of range, or a piece above the
 * UDP payload limit of `family` (the message says how many pieces would do).
 */
export function checkSplit(size: number, chunks: number, family: 'udp4' | 'udp6'): number {
  if (!Number.isSafeInteger(size) || size < 1 || size > MAX_BIG_BYTES) {
    throw new RangeError(`size must be a whole number from 1 to ${MAX_BIG_BYTES} (got ${size})`);
  }
  if (!Number.isSafeInteger(chunks) || chunks < 1 || chunks > Math.min(size, MAX_CHUNKS)) {
    throw new RangeError(
      `chunks must be a whole number from 1 to ${Math.min(size, MAX_CHUNKS)} (got ${chunks})`,
    );
  }
  const piece = splitSizes(size, chunks)[0] ?? size;
  const limit = maxPayload(family);
  if (piece > limit) {
    const need = Math.ceil(size / limit);
    throw new RangeError(
      `a piece of ${formatCount(piece)} bytes is above the UDP payload limit of ${formatCount(limit)} bytes over ` +
        `${family === 'udp6' ? 'IPv6' : 'IPv4'}: use chunks ≥ ${need} for ${formatCount(size)} bytes`,
    );
  }
  return piece;
}

function sendTo(socket: dgram.Socket, data: Uint8Array, to: Endpoint): Promise<Error | null> {
  // Always pass the callback: EMSGSIZE arrives there, not as a throw; without one it is lost.
  return new Promise((resolve) => {
    socket.send(data, to.port, to.address, (err) => resolve(err));
  });
}

function ipName(family: 'udp4' | 'udp6'): 'IPv4' | 'IPv6' {
  return family === 'udp6' ? 'IPv6' : 'IPv4';
}

/**
 * Runs the lab's Task 3 server once: hello, the whole datagram, the pieces, the echoes.
 * @example
 * const r = await bigsend({ host: '127.0.0.1', port: 5000, onEvent: console.log });
 * // r.echoed === 16 when an echo client answered every piece
 * @throws RangeError for bad options (a piece above the limit included); UdplabError BIND,
 * RESOLVE, ABORTED, TOO_BIG (a piece refused after an IPv4 client reached an IPv6 socket), SEND.
 */
export async function bigsend(options: BigsendOptions = {}): Promise<BigsendResult> {
  const onEvent = options.onEvent ?? ignoreEvents;
  const { signal } = options;
  const size = options.size ?? BIGSEND_DEFAULTS.size;
  const chunks = options.chunks ?? BIGSEND_DEFAULTS.chunks;
  const waitMs = options.waitMs ?? BIGSEND_DEFAULTS.waitMs;
  const intervalMs = options.intervalMs ?? 0;
  if (!(waitMs >= 0) || !(intervalMs >= 0))
    throw new RangeError('waitMs and intervalMs must be ≥ 0');
  const payload = makePayload(
    size,
    options.pattern ? { pattern: true } : { fill: options.fill ?? BIGSEND_DEFAULTS.fill },
  );
  if (signal?.aborted) throw abortError(signal);
  const local = await resolveHost(options.host ?? '');
  checkSplit(size, chunks, local.family);
  const pieces = splitPayload(payload, chunks);

  const socket = await bindSocket(local.family, local.address, options.port ?? 0);
  const timers = new Set<NodeJS.Timeout>();
  let onAbort: (() => void) | undefined;
  try {
    const bound = socket.address();
    onEvent({
      event: 'listening',
      time: isoNow(),
      address: bound.address,
      port: bound.port,
      family: bound.family === 'IPv6' ? 'IPv6' : 'IPv4',
    });
    socket.on('error', (err) => {
      const code = (err as NodeJS.ErrnoException).code ?? 'ERR';
      onEvent({ event: 'error', time: isoNow(), code, message: err.message });
    });

    // One abort promise for every wait below; the finally clears what it armed.
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => {
        reject(signal ? abortError(signal) : new Error('aborted'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    aborted.catch(() => undefined);
    const sleep = (ms: number): Promise<void> =>
      new Promise((resolve) => {
        const t = setTimeout(() => {
          timers.delete(t);
          resolve();
        }, ms);
        timers.add(t);
      });

    // One 'message' handler from the start: datagrams that arrive in the same batch as the hello
    // are already echoes (or repeats) and must not slip between two handlers.
    const matcher = new EchoMatcher(pieces);
    let client: Endpoint | undefined;
    let wholeSent = false;
    let wholeEchoed = false;
    let ignored = 0;
    let settle: (() => void) | undefined;
    let heard!: (from: Endpoint) => void;
    const hello = new Promise<Endpoint>((resolve) => (heard = resolve));
    const finished = (): boolean => matcher.complete && (!wholeSent || wholeEchoed);
    socket.on('message', (data, rinfo) => {
      const from: Endpoint = { address: rinfo.address, port: rinfo.port };
      if (client === undefined) {
        // Phase 1: the first datagram tells us who the echo client is.
        client = from;
        onEvent({ event: 'hello', time: isoNow(), from, bytes: data.length });
        heard(from);
        return;
      }
      // Phase 2: echoes, collected while the pieces still go out.
      const ignore = (reason: EchoIgnoreReason): void => {
        ignored++;
        onEvent({ event: 'ignored', time: isoNow(), from, bytes: data.length, reason });
      };
      if (!sameEndpoint(from, client)) return ignore('stranger');
      const m = matcher.match(data);
      if (m.kind === 'piece') {
        onEvent({ event: 'chunk-echoed', time: isoNow(), index: m.index, bytes: data.length });
      } else if (wholeSent && !wholeEchoed && payload.equals(data)) {
        wholeEchoed = true;
        onEvent({ event: 'whole-echoed', time: isoNow(), bytes: data.length });
      } else return ignore(m.kind === 'duplicate' ? 'duplicate' : 'unexpected');
      if (finished()) settle?.();
    });
    const to = await Promise.race([hello, aborted]);
    const family = familyOfAddress(to.address);
    const limit = maxPayload(family);
    const path = pathMtu(to.address, options.mtuSystem);

    // Phase 3: the whole payload as one datagram.
    const err = await Promise.race([sendTo(socket, payload, to), aborted]);
    if (err === null) {
      wholeSent = true;
      onEvent({ event: 'sent-whole', time: isoNow(), bytes: size });
    } else if (isErrno(err, 'EMSGSIZE')) {
      onEvent({
        event: 'too-big',
        time: isoNow(),
        bytes: size,
        limit,
        code: 'EMSGSIZE',
        family: ipName(family),
      });
    } else {
      throw new UdplabError(ErrorCodes.SEND, `cannot send to the echo client: ${err.message}`, {
        cause: err,
      });
    }

    // Phase 4: the same bytes in pieces.
    for (const [index, piece] of pieces.entries()) {
      if (index > 0 && intervalMs > 0) await Promise.race([sleep(intervalMs), aborted]);
      const e = await Promise.race([sendTo(socket, piece, to), aborted]);
      if (e !== null) {
        const tooBig = isErrno(e, 'EMSGSIZE');
        throw new UdplabError(
          tooBig ? ErrorCodes.TOO_BIG : ErrorCodes.SEND,
          tooBig
            ? `piece ${index} (${formatCount(piece.length)} bytes) is too big for ${ipName(family)} (limit ${formatCount(limit)} bytes)`
            : `cannot send piece ${index}: ${e.message}`,
          { cause: e },
        );
      }
      onEvent({ event: 'chunk-sent', time: isoNow(), index, bytes: piece.length, chunks });
    }

    // Phase 5: wait for the echoes, at most waitMs after the last piece. An abort here (Ctrl-C)
    // only cuts the wait short: the tally of what came back is still the answer.
    if (!finished()) {
      await Promise.race([
        new Promise<void>((resolve) => {
          settle = resolve;
          const t = setTimeout(resolve, waitMs);
          timers.add(t);
        }),
        aborted.catch(() => undefined),
      ]);
    }
    settle = undefined;
    // An empty datagram tells the echo client we are done (it may still stop on its idle time).
    await sendTo(socket, Buffer.alloc(0), to);

    const missing = matcher.missing();
    const summary = {
      chunks,
      echoed: matcher.echoed,
      bytes: matcher.echoedBytes(),
      totalBytes: size,
      missing,
      ignored,
      wholeSent,
      wholeEchoed,
    };
    onEvent({ event: 'summary', time: isoNow(), ...summary });
    const mtu = await path;
    const pieceBytes = pieces[0]?.length ?? size;
    onEvent({
      event: 'path-mtu',
      time: isoNow(),
      to,
      family: ipName(family),
      limit,
      size,
      wholeSent,
      pieceBytes,
      interface: mtu?.interface ?? null,
      mtu: mtu?.mtu ?? null,
      source: mtu?.source ?? null,
      interfaceMtu: mtu?.interfaceMtu ?? null,
      expiresSec: mtu?.expiresSec ?? null,
      fragments: mtu ? safeFragments(pieceBytes, mtu.mtu, family) : null,
      fragmentBytes: mtu ? fragmentDataBytes(mtu.mtu, family) : null,
    });
    return { client: to, ...summary, path: mtu };
  } finally {
    for (const t of timers) clearTimeout(t);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
    socket.close();
  }
}

/** {@link ipFragments}, or null for an MTU the family does not allow. */
function safeFragments(bytes: number, mtu: number, family: 'udp4' | 'udp6'): number | null {
  try {
    return ipFragments(bytes, mtu, family);
  } catch {
    return null;
  }
}
