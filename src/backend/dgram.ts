/**
 * The portable backend: a node:dgram socket, so batches of one datagram (Node's dgram makes one
 * recvmsg and one JS callback per datagram). Used everywhere the native backend is not.
 */
import dgram from 'node:dgram';
import type { Family } from '../address.js';
import { bindError } from '../errors.js';
import type { Datagram, Reply } from '../server-events.js';
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

/**
 * Opens the dgram backend.
 * @throws UdplabError BIND.
 */
export async function openDgramBackend(options: BackendOptions): Promise<SocketBackend> {
  const socket = await bindSocket(options.family, options.address, options.port);
  const bound = socket.address();
  const replies: Reply[] = [];
  const batch: Datagram[] = [{ data: Buffer.alloc(0), from: { address: '', port: 0 } }];
  const onSent = (err: Error | null): void => {
    if (err) options.onSendFailed(1);
  };
  socket.on('message', (data, rinfo) => {
    batch[0] = { data, from: { address: rinfo.address, port: rinfo.port } };
    options.onBatch(batch, replies);
    if (replies.length === 0) return;
    let failed = 0;
    // Indexed loop, and `length = 0` only on a non-empty array (this runs per datagram).
    for (let i = 0; i < replies.length; i++) {
      const r = replies[i] as Reply;
      if (socket.getSendQueueCount() >= options.sendQueueLimit) {
        failed++;
        continue;
      }
      // Always pass the callback: without it a send error (EMSGSIZE, ENOBUFS) is lost silently.
      socket.send(r.data, r.to.port, r.to.address, onSent);
    }
    replies.length = 0;
    if (failed > 0) options.onSendFailed(failed);
  });
  // A dgram socket without an 'error' listener crashes the process; a server must never crash.
  socket.on('error', options.onError);

  let closing: Promise<void> | undefined;
  return {
    name: 'dgram',
    address: {
      address: bound.address,
      port: bound.port,
      family: bound.family === 'IPv6' ? 'IPv6' : 'IPv4',
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
