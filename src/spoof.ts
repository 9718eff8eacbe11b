/**
 * The lab's fake-packet demonstration: any program can send a datagram to a client's port.
 * `spoof()` sends from a fresh socket; it does not forge the source address (that needs raw
 * sockets), which is exactly why a connected client is not fooled.
 */
import dgram from 'node:dgram';
import { maxPayload, resolveHost } from './address.js';
import { ErrorCodes, UdplabError, abortError, bindError, connectError } from './errors.js';
import type { BaseEvent, Endpoint, EventSink } from './events.js';
import { ignoreEvents, isoNow } from './events.js';
import { formatCount } from './format.js';

/** `sent`: one fake datagram went out. */
export interface SpoofSentEvent extends BaseEvent {
  event: 'sent';
  to: Endpoint;
  /** Where it left from, as the receiver sees it (the route's source address, never `0.0.0.0`). */
  from: Endpoint;
  bytes: number;
}

/**
 * The source address the kernel picks for `to`: a connected UDP socket gets it from the route
 * lookup, and connect() sends nothing. Binding the sending socket to it (port 0) makes the
 * datagrams leave from exactly that address, so `from` is what the receiver sees, not the
 * wildcard `0.0.0.0` an unbound socket reports.
 */
async function sourceAddressFor(family: 'udp4' | 'udp6', to: Endpoint): Promise<string> {
  const probe = dgram.createSocket(family);
  probe.on('error', () => undefined);
  try {
    await new Promise<void>((resolve, reject) => {
      probe.once('error', reject);
      probe.connect(to.port, to.address, (err?: Error) => {
        probe.off('error', reject);
        if (err) reject(err);
        else resolve();
      });
    });
    return probe.address().address;
  } catch (err) {
    throw connectError(err, to.address, to.port);
  } finally {
    probe.close();
  }
}

/** Options of {@link spoof}. */
export interface SpoofOptions {
  host: string;
  port: number;
  /** Default `I'm fake`. */
  message?: string | Uint8Array;
  /** How many datagrams. Default 1. */
  count?: number;
  /** Pause between datagrams, ms. Default 0. */
  intervalMs?: number;
  onEvent?: EventSink<SpoofSentEvent>;
  signal?: AbortSignal;
}

/** Sends `count` fake datagrams to host:port and resolves with how many went out. */
export async function spoof(options: SpoofOptions): Promise<number> {
  const onEvent = options.onEvent ?? ignoreEvents;
  const count = options.count ?? 1;
  if (!(Number.isInteger(count) && count >= 1))
    throw new RangeError('count must be an integer ≥ 1');
  if (options.signal?.aborted) throw abortError(options.signal);
  const target = await resolveHost(options.host);
  const to: Endpoint = { address: target.address, port: options.port };
  const msg = options.message ?? "I'm fake";
  const data = typeof msg === 'string' ? Buffer.from(msg, 'utf8') : Buffer.from(msg);
  const limit = maxPayload(target.family);
  if (data.length > limit) {
    throw new UdplabError(
      ErrorCodes.TOO_BIG,
      `message of ${formatCount(data.length)} bytes is too big for one UDP datagram (at most ${formatCount(limit)} bytes over ${target.family === 'udp6' ? 'IPv6' : 'IPv4'})`,
    );
  }
  const source = await sourceAddressFor(target.family, to);
  const socket = dgram.createSocket(target.family);
  socket.on('error', () => undefined); // ICMP errors of an unconnected socket are not ours to report
  try {
    // Unconnected on purpose: a refused datagram (ICMP port unreachable) must not fail the next send.
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => {
        reject(bindError(err, source, 0));
      };
      socket.once('error', onError);
      socket.bind({ address: source, port: 0, exclusive: true }, () => {
        socket.off('error', onError);
        resolve();
      });
    });
    let sent = 0;
    for (let i = 0; i < count; i++) {
      if (options.signal?.aborted) break;
      await new Promise<void>((resolve, reject) => {
        socket.send(data, to.port, to.address, (err) => {
          if (err)
            reject(new UdplabError(ErrorCodes.SEND, `cannot send: ${err.message}`, { cause: err }));
          else resolve();
        });
      });
      const a = socket.address();
      sent++;
      onEvent({
        event: 'sent',
        time: isoNow(),
        to,
        from: { address: a.address, port: a.port },
        bytes: data.length,
      });
      if (options.intervalMs && i < count - 1)
        await new Promise((r) => setTimeout(r, options.intervalMs));
    }
    return sent;
  } finally {
    socket.close();
  }
}
