/**
 * The socket side of `udplab server`, behind one interface: a backend binds, receives datagrams
 * in batches, hands each batch to the reply logic in one call and sends the replies it returns.
 * Two implement it: `dgram` (node:dgram, batches of one, everywhere) and `native` (recvmmsg and
 * sendmmsg batches of up to 64 through the addon in native/, Linux only). docs/native.md.
 */
import type { Family } from '../address.js';
import type { Endpoint } from '../events.js';
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

/** A bound socket that receives and replies in batches. */
export interface SocketBackend {
  /** Which implementation runs. */
  readonly name: BackendName;
  /** Where it is bound (the OS's choice of port for port 0). */
  readonly address: Endpoint & { family: 'IPv4' | 'IPv6' };
  /** Stops receiving and closes the socket; replies still queued are dropped and counted. Idempotent. */
  close(): Promise<void>;
}
