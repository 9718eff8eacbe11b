/**
 * Demo, sealed datagrams: the attacks of the unsafe-client part — a spoofed reply, and now a replay
 * of a captured request — against a client and server that share a key. "The network" is a scripted
 * relay that forwards both ways and, like an eavesdropper on the path, keeps a copy of everything.
 */
import dgram from 'node:dgram';
import { request, type ClientEvent } from '../client.js';
import type { Endpoint } from '../events.js';
import { SealKey } from '../keys.js';
import { createServer, type ServerEvent, type UdpServer } from '../server.js';
import { spoof } from '../spoof.js';
import type { DemoContext, DemoPart } from './context.js';

/** The path between client and server: forwards, records, and can lose or hold replies. */
class Wire {
  readonly socket = dgram.createSocket('udp4');
  readonly requests: Buffer[] = [];
  readonly replies: Buffer[] = [];
  loseReplies = 0;
  hold = false;
  #client: Endpoint | undefined;
  readonly #held: Buffer[] = [];

  constructor(readonly server: UdpServer) {}

  async start(): Promise<number> {
    this.socket.on('error', () => undefined);
    this.socket.on('message', (data, r) => {
      if (r.port === this.server.address.port && r.address === this.server.address.address) {
        this.replies.push(data);
        if (this.loseReplies > 0) this.loseReplies--;
        else if (this.hold) this.#held.push(data);
        else this.#deliver(data);
      } else {
        this.#client = { address: r.address, port: r.port };
        this.requests.push(data);
        this.socket.send(data, this.server.address.port, this.server.address.address);
      }
    });
    await new Promise<void>((resolve) => this.socket.bind(0, '127.0.0.1', resolve));
    return this.socket.address().port;
  }

  release(): void {
    this.hold = false;
    for (const d of this.#held.splice(0)) this.#deliver(d);
  }

  close(): void {
    this.socket.close();
  }

  #deliver(data: Buffer): void {
    if (this.#client) this.socket.send(data, this.#client.port, this.#client.address);
  }
}

const hexStart = (d: Buffer): string =>
  `${(d.subarray(0, 12).toString('hex').match(/../g) ?? []).join(' ')} …`;

async function until(probe: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!probe() && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
}

async function run(ctx: DemoContext): Promise<void> {
  const signal = ctx.signal;
  const opt = signal ? { signal } : {};
  const key = ctx.key ?? SealKey.generate();
  ctx.step(
    'Sealed datagrams: client and server share a secret key (udplab keygen, --key-file)',
    `Every datagram is encrypted and carries a tag only a holder of the key can compute (key ID ${key.id}).`,
    'Between them sits "the network": it forwards everything, and an eavesdropper on it keeps a copy.',
  );
  const serverEvents: ServerEvent[] = [];
  const serverSink = ctx.as('server');
  const server = await createServer({
    host: '127.0.0.1',
    key,
    onEvent: (e) => {
      serverEvents.push(e);
      serverSink(e);
    },
    ...opt,
  });
  const wire = new Wire(server);
  try {
    const port = await wire.start();
    const first = await request({
      host: '127.0.0.1',
      port,
      key,
      message: 'transfer 100 EUR to Bob',
      onEvent: ctx.as('client'),
      ...opt,
    });
    const captured = wire.requests[0] ?? Buffer.alloc(0);
    ctx.say(
      `On the wire the request is ${captured.length} bytes of noise: ${hexStart(captured)} — no text, no readable ID.`,
    );
    ctx.check(first.sealed && first.attempts === 1, 'the sealed request got its sealed reply');

    ctx.step(
      'A lost reply: the client retransmits, the server answers again — this is not an attack',
      'Each retransmission is sealed afresh with a higher attempt number, which only a key holder can produce;',
      'the server sends the same sealed reply again and does not execute the request twice.',
    );
    wire.loseReplies = 1;
    const again = await request({
      host: '127.0.0.1',
      port,
      key,
      timeoutMs: 100,
      onEvent: ctx.as('client'),
      ...opt,
    });
    ctx.check(
      again.attempts === 2 &&
        server.counters.retransmissions === 1 &&
        server.counters.rejected === 0,
      'the retransmission was answered with the cached reply; nothing was counted as an attack',
    );

    ctx.step(
      'The spoofer: it forges the server’s address and sends fake replies',
      'The client here listens to anyone (as if the spoofer could forge the server’s source address with a raw socket),',
      'and the network holds the server’s reply until the spoofer has struck: plain text, and a genuine reply it captured earlier.',
    );
    wire.hold = true;
    let clientPort = 0;
    const clientSink = ctx.as('client');
    const pending = request({
      host: '127.0.0.1',
      port,
      key,
      promiscuous: true,
      timeoutMs: 3000,
      attempts: 1,
      onEvent: (e: ClientEvent) => {
        if (e.event === 'bound') clientPort = e.port;
        clientSink(e);
      },
      ...opt,
    });
    const before = wire.requests.length;
    await until(() => wire.requests.length > before);
    const spoofer = ctx.as('spoofer');
    await spoof({ host: '127.0.0.1', port: clientPort, onEvent: spoofer, ...opt });
    const oldReply = wire.replies[0] ?? Buffer.alloc(0);
    await spoof({
      host: '127.0.0.1',
      port: clientPort,
      message: oldReply,
      onEvent: spoofer,
      ...opt,
    });
    await new Promise((r) => setTimeout(r, 50));
    wire.release();
    const r = await pending;
    ctx.check(
      r.ignored >= 2 && /^I received from you a message of \d+ bytes$/.test(r.text),
      'both fakes were ignored (not sealed; an authentic reply to another request); the genuine reply was accepted',
    );

    ctx.step(
      'The replay: the eavesdropper sends the captured request ("transfer 100 EUR to Bob") again',
      'It is a perfect copy, tag and all — but its request ID and attempt number were seen already.',
    );
    const repliedBefore = server.counters.replied;
    await spoof({
      host: '127.0.0.1',
      port: server.address.port,
      message: captured,
      onEvent: spoofer,
      ...opt,
    });
    await until(() => server.counters.rejectedBy.replay > 0);
    ctx.check(
      server.counters.rejectedBy.replay === 1 && server.counters.replied === repliedBefore,
      'the server rejected the replay and answered nothing (no reflection, no error text)',
    );
    ctx.say(
      'Why source checks and IDs were not enough: the source address and the ID are written by the sender and read by anyone on the path; ' +
        'only a tag computed with a secret key proves who wrote a datagram, and a fresh seal per transmission tells a retransmission from a replay.',
    );
  } finally {
    wire.close();
    await server.close();
  }
}

/** Sealed datagrams: what stops a real attacker. */
export const sealed: DemoPart = {
  name: 'sealed',
  title: 'Sealed datagrams — the spoofer and a replay against an authenticated client and server',
  run,
};
