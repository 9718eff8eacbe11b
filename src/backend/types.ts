/**
 * The socket side of `udplab server` and `udplab bench`, behind one interface: a backend binds,
 * receives datagrams in batches, hands each batch to the reply logic in one call and sends the
 * replies it returns. Two implement it: `dgram` (node:dgram, batches of one, everywhere) and
 * `native` (recvmmsg and sendmmsg batches of up to 64 through the addon in native/, Linux only).
 * A load generator connects it to the server (`connect`) and sends on its own with `send()`.
 * docs/native.md.
 */
import type { Family } from '../address.js';
import type { Endpoint } from '../events.js';
import type { SealKey } from '../keys.js';
import { REJECT_REASONS } from '../server-events.js';
import type { Datagram, Reply } from '../server-events.js';

/** The backend that runs. */
export type BackendName = 'dgram' | 'native';

/** The backend asked for: `auto` takes `native` when its addon loads, `dgram` otherwise. */
export type BackendChoice = BackendName | 'auto';

/** Every value `--backend` accepts. */
export const BACKEND_CHOICES: readonly BackendChoice[] = ['auto', 'native', 'dgram'];

/** What a backend needs to run. */
export interface BackendOptions {
  /** The socket type of `address`. */
  family: Family;
  /** A literal IP address to bind (already resolved). */
  address: string;
  /** The port to bind; 0 lets the OS choose. */
  port: number;
  /**
   * Connect the socket to this peer (a literal IP of `family`, as connect(2) on a UDP socket):
   * only its datagrams are received, an ICMP error it causes (port unreachable) comes to
   * `onError` as `ECONNREFUSED`, and every datagram sent goes to it, whatever its `to` says.
   * Default: not connected.
   */
  connect?: Endpoint;
  /** Replies waiting to be sent beyond which new ones are dropped and counted. At least 1. */
  sendQueueLimit: number;
  /**
   * Called once per received batch, in arrival order. It appends the replies to `replies`; the
   * backend sends them when it returns. `batch[i].data` is only valid during the call (the native
   * backend reuses its receive memory): copy what must outlive it.
   */
  onBatch: (batch: readonly Datagram[], replies: Reply[]) => void;
  /** Replies that could not be sent: refused by the kernel, or dropped past `sendQueueLimit`. */
  onSendFailed: (count: number) => void;
  /** A socket error after binding (the server turns it into an `error` event). */
  onError: (err: NodeJS.ErrnoException) => void;
}

/**
 * What a socket needs to answer sealed requests on its own (the native backend, in C): the key and
 * the replay rules of a sealed server whose every reply is decided by them alone (ServerCore's
 * `nativeSealed()`).
 */
export interface SealedPath {
  key: SealKey;
  windowMs: number;
  capacity: number;
  notBeforeMs: number;
}

/**
 * The order of the counters a socket answering sealed requests keeps (native/udplab_sealed.h):
 * `rejectedBy.*` are the reject reasons in REJECT_REASONS' order.
 */
export const SEALED_COUNTS = [
  'received',
  'replied',
  'rejected',
  ...REJECT_REASONS,
  'retransmissions',
  'sendFailed',
  'replayEntries',
] as const;

/**
 * `udplab bench --key-file` done by the socket itself (the native backend, in C): request `seq`
 * carries the ID (baseHi × 2^32 + baseLo) + seq and a body of `size` bytes (src/bench-sealed.ts).
 */
export interface SealedLoadParams {
  key: SealKey;
  baseHi: number;
  baseLo: number;
  size: number;
}

/**
 * The replies of a sealed load, read by the socket: for reply i, `kinds[i]` is 0 (it names no
 * request of the run), 1 (a valid reply to request `seqs[i]`) or 2 (an invalid one to `seqs[i]`).
 */
export type SealedLoadReplies = (count: number, kinds: Int32Array, seqs: Float64Array) => void;

/** A bound socket that receives and replies in batches. */
export interface SocketBackend {
  /** Which implementation runs. */
  readonly name: BackendName;
  /**
   * Where it is bound (the OS's choice of port for port 0; when connected, the local address the
   * route to the peer chose).
   */
  readonly address: Endpoint & { family: 'IPv4' | 'IPv6' };
  /**
   * Sends datagrams outside a batch call (a client's first requests, a timer's), as one batch on
   * the native backend. Failures go to `onSendFailed`, as for replies. Does nothing once closing.
   */
  send(datagrams: readonly Reply[]): void;
  /** Stops receiving and closes the socket; replies still queued are dropped and counted. Idempotent. */
  close(): Promise<void>;
  /**
   * From now on, answers sealed requests without calling `onBatch` (the native backend, in C).
   * @returns the counters it keeps, in {@link SEALED_COUNTS} order (live: the socket writes them),
   *   or undefined when it cannot (the dgram backend, an addon without the path, no OpenSSL).
   */
  answerSealed?(path: SealedPath): Float64Array | undefined;
  /**
   * From now on (a connected socket), opens and matches the sealed replies itself: they go to
   * `onReplies` instead of `onBatch`.
   * @returns the function that seals and sends requests `firstSeq` … `firstSeq + count − 1`
   *   (failures go to `onSendFailed`), or undefined when the socket cannot (then nothing changed).
   */
  sealedLoad?(
    params: SealedLoadParams,
    onReplies: SealedLoadReplies,
  ): ((firstSeq: number, count: number) => void) | undefined;
}
