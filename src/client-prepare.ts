/**
 * What the client sends (client.ts): `request()`'s options checked before anything is sent,
 * the server's address resolved, the request ID chosen, the datagram composed (plain, with the ID
 * token, or sealed afresh for every transmission) and refused up front when it cannot fit.
 */
import { destinationOf, maxPayload, resolveHost, type Family } from './address.js';
import { schedule } from './backoff.js';
import type { RequestOptions } from './client.js';
import { ErrorCodes, UdplabError } from './errors.js';
import type { Endpoint } from './events.js';
import { formatCount } from './format.js';
import type { SealKey } from './keys.js';
import { isValidId, randomId, withId } from './wire/text.js';
import type * as SealedWire from './wire/sealed.js';

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

/** One request, checked and composed, ready to be sent ({@link prepareRequest}). */
export interface PreparedRequest {
  /** The waits after each transmission (backoff.ts), in ms. */
  waits: number[];
  /** Why the schedule ends: the --attempts cap (true), or the next wait passing --max-delay. */
  capReached: boolean;
  /** The socket family of the server's address. */
  family: Family;
  /** Where the request goes, and the address and port a reply must come from. */
  to: Endpoint;
  promiscuous: boolean;
  /** The request ID (sealed mode: the 64-bit ID in decimal), if there is one. */
  id: string | undefined;
  /** The request's body, without ID token or seal. */
  bodyBytes: Buffer;
  /** The plain datagram: the body, after the ID token if there is one. */
  payload: Buffer;
  /** Sealed mode: the key, the 64-bit request ID and the sealed codec. */
  key: SealKey | undefined;
  sealed: bigint | undefined;
  wire: typeof SealedWire | undefined;
}

/**
 * Checks `request()`'s options, resolves the server and composes the request, before anything
 * is sent.
 * @throws RangeError for an option out of range (`port`, a plain `id` that is not 1–20 digits, the
 * schedule); UdplabError RESOLVE, TOO_BIG.
 */
export async function prepareRequest(options: RequestOptions): Promise<PreparedRequest> {
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
      `message of ${formatCount(bodyBytes.length)} bytes is too big: at most ${formatCount(limit - (wireBytes - bodyBytes.length))} bytes fit in one UDP datagram over ${server.family === 'udp6' ? 'IPv6' : 'IPv4'}${wire === undefined ? '' : ' (sealed)'}`,
    );
  }
  // Why the schedule ends: the --attempts cap, or the next wait passing --max-delay.
  const capReached = options.attempts !== undefined && waits.length === options.attempts;
  return {
    waits,
    capReached,
    family: server.family,
    to,
    promiscuous,
    id,
    bodyBytes,
    payload,
    key,
    sealed,
    wire,
  };
}

/** The datagram of transmission number `attempt` (from 1): the payload, or a fresh seal of it. */
export function requestDatagram(prepared: PreparedRequest, attempt: number): Buffer {
  const { key, sealed, wire, payload, bodyBytes } = prepared;
  // Sealed mode seals every transmission afresh: a new nonce and time, and the attempt number
  // that lets the server tell a retransmission (higher number) from a replay (docs/sealed.md).
  return key === undefined || sealed === undefined || wire === undefined
    ? payload
    : wire.sealDatagram(key, {
        type: wire.SealedType.REQUEST,
        id: sealed,
        timeMs: Date.now(),
        attempt: Math.min(attempt, wire.MAX_ATTEMPT),
        body: bodyBytes,
      });
}
