/**
 * The portable backend: a node:dgram socket, so batches of one datagram (Node's dgram makes one
 * recvmsg and one JS callback per datagram). Used everywhere the native backend is not.
 */
import dgram from 'node:dgram';
import type { Family } from '../address.js';
import { bindError, connectError } from '../errors.js';
import type { Datagram, Reply } from '../server-events.js';
import type { Endpoint } from '../events.js';
import type { BackendOptions, SocketBackend } from './types.js';

/** Binds a dgram socket, resolving once bound. @throws UdplabError BIND. */
export function bindSocket(
  family: Family,
  address: string,
  port: number,
  reuse = false,
): Promise<dgram.Socket> {
  checkBindPort(port);
  const socket = dgram.createSocket({ type: family, reuseAddr: reuse });
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => {
      socket.close();
      reject(bindError(err, address, port));
    };
    socket.once('error', onError);
    socket.bind({ address, port, exclusive: true }, () => {
      socket.off('error', onError);
      resolve(socket);
    });
  });
}

/** Connects a bound dgram socket to its peer. @throws UdplabError SEND (the socket is closed). */
function connectSocket(socket: dgram.Socket, to: Endpoint): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => {
      socket.close();
      reject(connectError(err, to.address, to.port));
    };
    socket.once('error', onError);
    try {
      // Node passes a failed lookup or connect to this callback (typed as taking no argument),
      // not to 'error'.
      socket.connect(to.port, to.address, (...args: unknown[]) => {
        socket.off('error', onError);
        if (args[0] instanceof Error) onError(args[0]);
        else resolve();
      });
    } catch (err) {
      onError(err as Error); // a bad port throws at once (ERR_SOCKET_BAD_PORT)
    }
  });
}

/**
 * Opens the dgram backend.
 * @throws UdplabError BIND; SEND when `connect` fails.
 */
export async function openDgramBackend(options: BackendOptions): Promise<SocketBackend> {
  if (options.connect !== undefined) checkConnectPort(options.connect);
  const socket = await bindSocket(options.family, options.address, options.port);
  const connected = options.connect !== undefined;
  if (options.connect !== undefined) await connectSocket(socket, options.connect);
  const bound = socket.address();
  const replies: Reply[] = [];
  const batch: Datagram[] = [{ data: Buffer.alloc(0), from: { address: '', port: 0 } }];
  const onSent = (err: Error | null): void => {
    if (err) options.onSendFailed(1);
  };
  let closing: Promise<void> | undefined;
  const sendAll = (list: readonly Reply[]): void => {
    let failed = 0;
    // Indexed loop (this runs per datagram).
    for (let i = 0; i < list.length; i++) {
      const r = list[i] as Reply;
      if (socket.getSendQueueCount() >= options.sendQueueLimit) {
        failed++;
        continue;
      }
      // Always pass the callback: without it a send error (EMSGSIZE, ENOBUFS) is lost silently.
      // A connected socket refuses an address (ERR_SOCKET_DGRAM_IS_CONNECTED): it has its peer.
      if (connected) socket.send(r.data, onSent);
      else socket.send(r.data, r.to.port, r.to.address, onSent);
    }
    if (failed > 0) options.onSendFailed(failed);
  };
  socket.on('message', (data, rinfo) => {
    batch[0] = { data, from: { address: rinfo.address, port: rinfo.port } };
    options.onBatch(batch, replies);
    if (replies.length === 0) return;
    if (closing === undefined) sendAll(replies);
    replies.length = 0; // only on a non-empty array: this runs per datagram
  });
  // A dgram socket without an 'error' listener crashes the process; a server must never crash.
  // A connected socket reports an ICMP port unreachable here too (ECONNREFUSED).
  socket.on('error', options.onError);

  return {
    name: 'dgram',
    address: {
      address: bound.address,
      port: bound.port,
      family: bound.family === 'IPv6' ? 'IPv6' : 'IPv4',
    },
    send: (list) => {
      if (closing === undefined) sendAll(list);
    },
    close: () => (closing ??= new Promise<void>((resolve) => socket.close(resolve))),
  };
}

/**
 * A port to bind: an integer from 0 (the OS chooses) to 65535. dgram would silently wrap 70000
 * to 4464 and −1 to 65535, so it is checked here. @throws RangeError naming the port.
 */
export function checkBindPort(port: number): void {
  if (!(Number.isInteger(port) && port >= 0 && port <= 65535)) {
    throw new RangeError(`port must be an integer from 0 to 65535 (got ${port})`);
  }
}

/**
 * A peer's port for connect: an integer from 1 to 65535, checked before any socket is opened, so
 * that both backends refuse it with the same message (dgram's own ERR_SOCKET_BAD_PORT and the
 * addon's TypeError differ).
 * @throws UdplabError SEND, its cause a RangeError naming the port.
 */
export function checkConnectPort(to: Endpoint): void {
  if (!(Number.isInteger(to.port) && to.port >= 1 && to.port <= 65535)) {
    const err = new RangeError(`port must be an integer from 1 to 65535 (got ${to.port})`);
    throw connectError(err, to.address, to.port);
  }
}
