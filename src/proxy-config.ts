/**
 * What a proxy is asked to do, checked before anything is opened: the options of
 * {@link createProxy} (proxy.ts), their defaults and bounds, and the rule that a proxy never
 * relays to itself. Pure: no socket, no timer.
 */
import { networkInterfaces } from 'node:os';
import { canonicalAddress, destinationOf } from './address.js';
import type { Endpoint, EventSink } from './events.js';
import { checkImpairments, mergeImpairments, type ImpairmentSpec } from './impair.js';
import type { ProxyEvent } from './proxy-events.js';
import type { Rng } from './rng.js';

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
  /** Emit per-datagram and per-client events (`forwarded`, `send-failed`, `lost`, `client-added`, …). Default true; false for `--quiet`. */
  perDatagramEvents?: boolean;
  /** Datagrams waiting in a socket's send queue beyond which sends are dropped and counted. Default 1024. */
  sendQueueLimit?: number;
  /** Datagrams kept, over all clients, while their upstream sockets are still connecting (a few ms). Default 256. */
  pendingLimit?: number;
  onEvent?: EventSink<ProxyEvent>;
  /** Aborting it closes the proxy. */
  signal?: AbortSignal;
}

/** Defaults of the proxy's own bounds. */
export const PROXY_DEFAULTS = {
  idleTimeoutMs: 60_000,
  maxClients: 1024,
  sendQueueLimit: 1024,
  pendingLimit: 256,
} as const;

/**
 * True when `address` (canonical) is one of this machine's: loopback or an interface address. A
 * zone (`fe80::1%eth0`) is left out of the comparison: Node lists link-local addresses without it.
 */
function isLocalAddress(address: string): boolean {
  if (address.startsWith('127.') || address === '::1') return true;
  const bare = address.split('%')[0];
  return Object.values(networkInterfaces()).some((list) =>
    (list ?? []).some((i) => canonicalAddress(i.address) === bare),
  );
}

/**
 * True when relaying to `target` would send the proxy's datagrams back to itself: every datagram
 * would come back as a new client, forever. Aliases count (`::ffff:127.0.0.1` is 127.0.0.1), and
 * so does the unspecified address as a destination: Linux delivers a datagram sent to 0.0.0.0 to
 * 127.0.0.1, and one sent to `::` to ::1. A listener on 0.0.0.0 hears every local IPv4 address; one
 * on `::` (dual-stack) every local address.
 */
export function relaysToItself(listen: Endpoint, target: Endpoint): boolean {
  if (listen.port !== target.port) return false;
  const l = canonicalAddress(listen.address);
  const t = destinationOf(canonicalAddress(target.address));
  if (l === t) return true;
  if (l === '0.0.0.0') return !t.includes(':') && isLocalAddress(t);
  return l === '::' && isLocalAddress(t);
}

function positiveInt(v: number, name: string): number {
  if (!(Number.isInteger(v) && v >= 1)) throw new RangeError(`${name} must be an integer ≥ 1`);
  return v;
}

/** The options of a proxy, checked, with their defaults: what {@link createProxy} runs on. */
export interface ProxySettings {
  upSpec: ImpairmentSpec;
  downSpec: ImpairmentSpec;
  idleTimeoutMs: number;
  maxClients: number;
  sendQueueLimit: number;
  pendingLimit: number;
  statsIntervalMs: number | undefined;
}

/**
 * Checks a proxy's options and fills in the defaults.
 * @throws RangeError / TypeError naming the option out of range.
 */
export function proxySettings(options: ProxyOptions): ProxySettings {
  const base = options.impairments ?? {};
  const upSpec = mergeImpairments(base, options.up ?? {});
  const downSpec = mergeImpairments(base, options.down ?? {});
  checkImpairments(upSpec);
  checkImpairments(downSpec);
  const idleTimeoutMs = options.idleTimeoutMs ?? PROXY_DEFAULTS.idleTimeoutMs;
  if (!(idleTimeoutMs > 0)) throw new RangeError('idleTimeoutMs must be > 0');
  const maxClients = positiveInt(options.maxClients ?? PROXY_DEFAULTS.maxClients, 'maxClients');
  const sendQueueLimit = positiveInt(
    options.sendQueueLimit ?? PROXY_DEFAULTS.sendQueueLimit,
    'sendQueueLimit',
  );
  const pendingLimit = positiveInt(
    options.pendingLimit ?? PROXY_DEFAULTS.pendingLimit,
    'pendingLimit',
  );
  const statsIntervalMs = options.statsIntervalMs;
  if (statsIntervalMs !== undefined && !(statsIntervalMs > 0)) {
    throw new RangeError('statsIntervalMs must be > 0');
  }
  if (!(Number.isInteger(options.to.port) && options.to.port >= 1 && options.to.port <= 65535)) {
    throw new RangeError('to.port must be an integer from 1 to 65535');
  }
  return {
    upSpec,
    downSpec,
    idleTimeoutMs,
    maxClients,
    sendQueueLimit,
    pendingLimit,
    statsIntervalMs,
  };
}
