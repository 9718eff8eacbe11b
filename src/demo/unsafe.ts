/**
 * Demo, the unsafe client: a fake datagram fools a promiscuous client but not a connected
 * one; request IDs stop stray replies. The "suspended server" is a scripted socket that holds
 * the request (as Ctrl-Z does in the lab) and answers it once the spoofer has struck.
 */
import dgram from 'node:dgram';
import { request, type ClientEvent, type RequestResult } from '../client.js';
import type { Endpoint } from '../events.js';
import { spoof } from '../spoof.js';
import { parseId, replyText, withId } from '../wire/text.js';
import type { DemoContext, DemoPart } from './context.js';

/** A server that receives requests but answers only when told to. */
class SuspendedServer {
  readonly socket = dgram.createSocket('udp4');
  readonly #pending: { data: Buffer; from: Endpoint }[] = [];
  #waiter: (() => void) | undefined;

  async start(): Promise<number> {
    this.socket.on('error', () => undefined);
    this.socket.on('message', (data, r) => {
      this.#pending.push({ data, from: { address: r.address, port: r.port } });
      this.#waiter?.();
    });
    await new Promise<void>((resolve) => this.socket.bind(0, '127.0.0.1', resolve));
    return this.socket.address().port;
  }

  /** Resolves once a request is held. */
  async nextRequest(): Promise<void> {
    if (this.#pending.length > 0) return;
    await new Promise<void>((resolve) => (this.#waiter = resolve));
    this.#waiter = undefined;
  }

  /** "fg": answers every held request as udplab's server would. */
  resume(): void {
    for (const { data, from } of this.#pending.splice(0)) {
      const id = parseId(data);
      const text = replyText(data.length);
      this.socket.send(id === undefined ? text : withId(id, text), from.port, from.address);
    }
  }

  close(): void {
    this.socket.close();
  }
}

async function attack(
  ctx: DemoContext,
  options: { promiscuous: boolean; id: boolean },
): Promise<RequestResult> {
  const signal = ctx.signal;
  const server = new SuspendedServer();
  const port = await server.start();
  try {
    let clientPort = 0;
    const clientSink = ctx.as('client');
    const pending = request({
      host: '127.0.0.1',
      port,
      timeoutMs: 5000,
      attempts: 1,
      promiscuous: options.promiscuous,
      id: options.id,
      onEvent: (e: ClientEvent) => {
        if (e.event === 'bound') clientPort = e.port;
        clientSink(e);
      },
      ...(signal ? { signal } : {}),
    });
    await server.nextRequest();
    ctx.say(
      `The server is suspended (Ctrl-Z); the spoofer sends "I'm fake" to the client's port ${clientPort}.`,
    );
    await spoof({
      host: '127.0.0.1',
      port: clientPort,
      onEvent: ctx.as('spoofer'),
      ...(signal ? { signal } : {}),
    });
    await new Promise((r) => setTimeout(r, 50));
    ctx.say('The server resumes (fg) and answers the request it held.');
    server.resume();
    return await pending;
  } finally {
    server.close();
  }
}

async function run(ctx: DemoContext): Promise<void> {
  ctx.step(
    'The unsafe client (--promiscuous): an unconnected socket takes the first datagram from anyone',
    'Any program on the network can send a datagram to the client’s port.',
  );
  const fooled = await attack(ctx, { promiscuous: true, id: false });
  ctx.check(
    !fooled.fromServer && fooled.text === "I'm fake",
    'the promiscuous client was fooled by "I\'m fake"',
  );

  ctx.step(
    'The safe client (the default): a connected socket',
    'connect() tells the kernel the server’s address and port; datagrams from anyone else never reach the client.',
  );
  const safe = await attack(ctx, { promiscuous: false, id: false });
  ctx.check(
    safe.fromServer && safe.text.startsWith('I received from you'),
    'the connected client got the genuine reply',
  );

  ctx.step(
    'Request IDs (--id): the reply must carry the random ID of the request',
    'Even a client that listens to everyone ignores a datagram without its ID (e.g. a late reply to an old request).',
  );
  const withIds = await attack(ctx, { promiscuous: true, id: true });
  ctx.check(
    withIds.fromServer && withIds.ignored >= 1,
    'the fake was ignored (wrong ID); the real reply was accepted',
  );
  ctx.say(
    'Source checks and IDs stop accidents, not attackers: whoever can see the request can copy its ID and forge the source. ' +
      'Against real attackers the datagrams must be authenticated (sealed).',
  );
}

/** The unsafe-client part of Task 1. */
export const unsafe: DemoPart = {
  name: 'unsafe',
  title: 'The unsafe client — fake datagrams, source checks, request IDs',
  run,
};
