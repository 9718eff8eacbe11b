/**
 * The lab's echo client for Task 3: says hello to the server (so that the server learns its
 * address), then sends back every datagram that comes from that server — and only from it:
 * the socket is connected, so the kernel drops anyone else's datagrams. It stops after
 * `idleMs` with nothing, or when the server sends an empty datagram ("done").
 */
import dgram from 'node:dgram';
import { parseHostPort, resolveHost } from './address.js';
import { abortError, bindError, connectError, isErrno } from './errors.js';
import type { BaseEvent, Endpoint, ErrorEvent, EventSink } from './events.js';
import { ignoreEvents, isoNow } from './events.js';
import { parseId } from './wire/text.js';

/** `bound`: the client's own address and port (connected to the server). */
export interface EchoBoundEvent extends BaseEvent {
  event: 'bound';
  address: string;
  port: number;
  server: Endpoint;
}
/** `hello-sent`: a hello went to the server (repeated each second until the server speaks). */
export interface HelloSentEvent extends BaseEvent {
  event: 'hello-sent';
  to: Endpoint;
  bytes: number;
  attempt: number;
}
/** `refused`: ICMP port unreachable — nothing listens at the server's port (yet). */
export interface EchoRefusedEvent extends BaseEvent {
  event: 'refused';
  from: Endpoint;
}
/** `echoed`: one datagram from the server was sent back. */
export interface EchoedEvent extends BaseEvent {
  event: 'echoed';
  bytes: number;
}
/** Why the echo client stopped. */
/**
 * Why the echo client stopped. `reply-server`: the server answered with the lab's reply text, so it
 * is a reply server (`udplab server`), not bigsend; echoing its replies would ping-pong forever.
 */
export type EchoStopReason = 'done' | 'idle' | 'aborted' | 'reply-server';
/** `summary`: what was echoed and why the client stopped. */
export interface EchoSummaryEvent extends BaseEvent {
  event: 'summary';
  datagrams: number;
  bytes: number;
  reason: EchoStopReason;
  /** False when the server never sent anything. */
  heard: boolean;
  /** Echoes the socket could not send. */
  failed: number;
}
/** Every event of the echo client. */
export type EchoClientEvent =
  EchoBoundEvent | HelloSentEvent | EchoRefusedEvent | EchoedEvent | EchoSummaryEvent | ErrorEvent;

/** Options of {@link echoClient}. Times in milliseconds. */
export interface EchoClientOptions {
  /** Server host. */
  host: string;
  /** Server port. */
  port: number;
  /** Stop after this long with nothing from the server. Default 5,000. */
  idleMs?: number;
  /** The hello. Default `hello`. */
  hello?: string | Uint8Array;
  /** Resend the hello this often until the server speaks. Default 1,000. */
  helloIntervalMs?: number;
  /** Local address to bind, `HOST:PORT` (so that a prober knows where to send). Default any. */
  bind?: string;
  onEvent?: EventSink<EchoClientEvent>;
  /** Aborting stops the client; it resolves with reason `aborted`. */
  signal?: AbortSignal;
}

/** What {@link echoClient} resolves to. */
export interface EchoClientResult {
  datagrams: number;
  bytes: number;
  reason: EchoStopReason;
  heard: boolean;
  failed: number;
  local: Endpoint;
}

/**
 * Runs the echo client until the server is done, it goes quiet, or the signal aborts.
 * @example
 * const r = await echoClient({ host: '127.0.0.1', port: 5000 });
 * console.log(`${r.datagrams} datagrams, ${r.bytes} bytes echoed`);
 * @throws RangeError for bad times; UdplabError RESOLVE, BIND, ABORTED (aborted before starting).
 */
export async function echoClient(options: EchoClientOptions): Promise<EchoClientResult> {
  const onEvent = options.onEvent ?? ignoreEvents;
  const { signal } = options;
  const idleMs = options.idleMs ?? 5000;
  const helloIntervalMs = options.helloIntervalMs ?? 1000;
  if (!(idleMs > 0)) throw new RangeError(`idleMs must be > 0 (got ${idleMs})`);
  if (!(helloIntervalMs > 0)) {
    throw new RangeError(`helloIntervalMs must be > 0 (got ${helloIntervalMs})`);
  }
  const bind = options.bind === undefined ? undefined : parseHostPort(options.bind, true);
  if (signal?.aborted) throw abortError(signal);
  const server = await resolveHost(options.host);
  const to: Endpoint = { address: server.address, port: options.port };
  const localHost = bind ? await resolveHost(bind.host) : undefined;
  if (localHost && localHost.family !== server.family) {
    throw new RangeError(`bind address ${bind?.host ?? ''} is not of the server's IP version`);
  }
  const hello = options.hello ?? 'hello';
  const helloBytes = typeof hello === 'string' ? Buffer.from(hello, 'utf8') : Buffer.from(hello);

  const socket = dgram.createSocket(server.family);
  let idle: NodeJS.Timeout | undefined;
  let helloTimer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      const fail = (err: Error): void => {
        reject(bindError(err, bind?.host ?? to.address, bind?.port ?? 0));
      };
      socket.once('error', fail);
      const connect = (): void => {
        socket.connect(to.port, to.address, (err?: Error) => {
          socket.off('error', fail);
          if (err) reject(connectError(err, to.address, to.port));
          else resolve();
        });
      };
      if (bind && localHost) socket.bind({ address: localHost.address, port: bind.port }, connect);
      else connect();
    });
    const a = socket.address();
    const local: Endpoint = { address: a.address, port: a.port };
    onEvent({ event: 'bound', time: isoNow(), ...local, server: to });

    return await new Promise<EchoClientResult>((resolve) => {
      let datagrams = 0;
      let bytes = 0;
      let failed = 0;
      let heard = false;
      let attempt = 0;
      let stopped = false;
      const stop = (reason: EchoStopReason): void => {
        if (stopped) return;
        stopped = true;
        clearTimeout(idle);
        clearTimeout(helloTimer);
        const summary = { datagrams, bytes, reason, heard, failed };
        onEvent({ event: 'summary', time: isoNow(), ...summary });
        resolve({ ...summary, local });
      };
      const armIdle = (): void => {
        // refresh() restarts the same timer: no new timer per datagram on the hot path.
        if (idle) idle.refresh();
        else idle = setTimeout(() => stop('idle'), idleMs);
      };
      const sayHello = (): void => {
        attempt++;
        socket.send(helloBytes, (err) => {
          if (err && !isErrno(err, 'ECONNREFUSED')) {
            onEvent({ event: 'error', time: isoNow(), code: errno(err), message: err.message });
          }
        });
        onEvent({ event: 'hello-sent', time: isoNow(), to, bytes: helloBytes.length, attempt });
        helloTimer = setTimeout(() => {
          if (!heard && !stopped) sayHello();
        }, helloIntervalMs);
      };

      onAbort = () => stop('aborted');
      signal?.addEventListener('abort', onAbort, { once: true });
      // A connected socket reports ICMP port unreachable as an 'error': the server is not up yet.
      socket.on('error', (err) => {
        if (isErrno(err, 'ECONNREFUSED')) onEvent({ event: 'refused', time: isoNow(), from: to });
        else onEvent({ event: 'error', time: isoNow(), code: errno(err), message: err.message });
      });
      socket.on('message', (data) => {
        // Connected: the kernel delivers only the server's datagrams.
        if (stopped) return;
        heard = true;
        clearTimeout(helloTimer);
        if (data.length === 0) return stop('done');
        if (isLabReply(data)) return stop('reply-server');
        armIdle();
        socket.send(data, (err) => {
          if (err) failed++;
        });
        datagrams++;
        bytes += data.length;
        onEvent({ event: 'echoed', time: isoNow(), bytes: data.length });
      });
      armIdle();
      sayHello();
    });
  } finally {
    clearTimeout(idle);
    clearTimeout(helloTimer);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
    socket.close();
  }
}

const LAB_REPLY = Buffer.from('I received from you a message of ', 'latin1');

/** True for the lab's reply text, with or without a request ID token in front. */
function isLabReply(data: Buffer): boolean {
  const at = data.indexOf(LAB_REPLY);
  return at === 0 || (at > 0 && at <= 22 && parseId(data) !== undefined);
}

function errno(err: Error): string {
  return (err as NodeJS.ErrnoException).code ?? 'ERR';
}
